#include "absl/strings/string_view.h"
#include "skiff/model/described_task_definition.h"

#include <string>
#include <utility>
#include <vector>

namespace skiff::model {

namespace {

// What describe-task-definition says of a registered task definition and RegisterTaskDefinition
// does not take (ECS sets it).
constexpr const char* kRegisteredOnly[] = {
    "taskDefinitionArn", "revision",     "status",         "requiresAttributes",
    "compatibilities",   "registeredAt", "registeredBy",   "deregisteredAt",
    "deleteRequestedAt"};

}  // namespace

std::vector<std::string> AdoptDescribedTaskDefinition(nlohmann::ordered_json* input) {
  std::vector<std::string> ignored;
  if (const auto inner = input->find("taskDefinition");
      inner != input->end() && inner->is_object() && !input->contains("family")) {
    nlohmann::ordered_json adopted = *inner;
    if (const auto tags = input->find("tags"); tags != input->end() && !tags->empty()) {
      adopted["tags"] = *tags;
    }
    *input = std::move(adopted);
  }
  for (const char* member : kRegisteredOnly) {
    if (input->erase(member) > 0) ignored.emplace_back(member);
  }
  return ignored;
}

}  // namespace skiff::model

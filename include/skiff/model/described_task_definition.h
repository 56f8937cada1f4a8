// describe-task-definition's output as register-task-definition's input. JSON only: it names no
// generated message, so it is in skiff_model_json, which the CLI links.
#ifndef SKIFF_MODEL_DESCRIBED_TASK_DEFINITION_H_
#define SKIFF_MODEL_DESCRIBED_TASK_DEFINITION_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace skiff::model {

// describe-task-definition's output, or its taskDefinition, as register-task-definition's input
// (a console export, CodeDeploy's taskdef.json): the task definition, with the output's tags,
// without the members only a registered one has (taskDefinitionArn, revision, status, ...).
// Returns the members it left out, in the order found; the input is left alone when it is
// neither.
std::vector<std::string> AdoptDescribedTaskDefinition(nlohmann::ordered_json* input);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_DESCRIBED_TASK_DEFINITION_H_

#include "skiff/cli/output.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace skiff::cli {
namespace {

using json = nlohmann::ordered_json;

void Flatten(const json& value, const std::string& path,
             std::vector<std::pair<std::string, std::string>>* rows) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      Flatten(item, path.empty() ? key : absl::StrCat(path, ".", key), rows);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      Flatten(value[i], absl::StrCat(path, "[", i, "]"), rows);
    }
  } else {
    rows->emplace_back(path, value.is_string() ? value.get<std::string>() : value.dump());
  }
}

bool IsStringList(const json& value) {
  return value.is_array() &&
         std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_string(); });
}

}  // namespace

std::string RenderTable(const json& response) {
  std::string out;
  // list-* responses: the list, then nextToken if any.
  if (response.is_object() && !response.empty() && IsStringList(response.begin().value())) {
    for (const auto& item : response.begin().value()) absl::StrAppend(&out, item.get<std::string>(), "\n");
    if (response.contains("nextToken")) {
      absl::StrAppend(&out, "nextToken ", response["nextToken"].get<std::string>(), "\n");
    }
    return out;
  }
  std::vector<std::pair<std::string, std::string>> rows;
  Flatten(response, "", &rows);
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  for (const auto& [key, value] : rows) {
    absl::StrAppend(&out, key, std::string(width - key.size() + 2, ' '), value, "\n");
  }
  return out;
}

}  // namespace skiff::cli

// How the CLI prints a response: the ECS JSON (pretty, as aws prints it) or a plain table.
// Pure functions.
#ifndef SKIFF_CLI_OUTPUT_H_
#define SKIFF_CLI_OUTPUT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace skiff::cli {

// One row per scalar leaf: its path and its value, columns aligned. A response that is one list
// of strings (list-* commands) prints one item per line.
std::string RenderTable(const nlohmann::ordered_json& response);

}  // namespace skiff::cli

#endif  // SKIFF_CLI_OUTPUT_H_

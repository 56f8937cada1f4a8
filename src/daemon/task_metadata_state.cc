#include "daemon/task_metadata_state.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "skiff/base/files.h"
#include "spdlog/spdlog.h"

namespace skiff::daemon {
namespace {

constexpr int kKeyHexDigits = 64;  // 32 bytes.

struct Kept {
  int port = 0;
  std::string key_hex;
};

absl::StatusOr<Kept> ReadKept(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (absl::IsNotFound(text.status())) return Kept{};
  if (!text.ok()) return text.status();
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  Kept kept;
  if (json.is_object() && json.contains("port") && json["port"].is_number_integer() &&
      json.contains("key") && json["key"].is_string()) {
    kept = {.port = json["port"].get<int>(), .key_hex = json["key"].get<std::string>()};
  }
  const bool hex = kept.key_hex.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (kept.port < 1 || kept.port > 65535 || kept.key_hex.size() != kKeyHexDigits || !hex) {
    return absl::DataLossError(absl::StrCat(
        path, ": not {\"port\": 1-65535, \"key\": 64 hex digits}; remove it to start afresh "
              "(running containers then lose their task metadata)"));
  }
  return kept;
}

}  // namespace

absl::StatusOr<std::unique_ptr<api::TaskMetadataEndpoint>> BindTaskMetadataEndpoint(
    const std::string& state_dir, int port, const std::string& gateway, RandomSource& random) {
  const std::string path = state_dir + "/task-metadata.json";
  absl::StatusOr<Kept> kept = ReadKept(path);
  if (!kept.ok()) return kept.status();
  if (kept->key_hex.empty()) kept->key_hex = RandomHex(random, kKeyHexDigits);
  if (port != 0 && kept->port != 0 && port != kept->port) {
    spdlog::warn("task metadata: port {} instead of {}: containers started before reach their "
                 "metadata no more",
                 port, kept->port);
  }
  absl::StatusOr<std::unique_ptr<api::TaskMetadataEndpoint>> endpoint =
      api::TaskMetadataEndpoint::Bind({.gateway = gateway,
                                       .port = static_cast<uint16_t>(port != 0 ? port : kept->port),
                                       .key = absl::HexStringToBytes(kept->key_hex)});
  if (!endpoint.ok()) return endpoint.status();
  const nlohmann::json json = {{"port", (*endpoint)->port()}, {"key", kept->key_hex}};
  if (kept->port != (*endpoint)->port()) {
    if (absl::Status written = WriteFileAtomically(path, json.dump() + "\n", 0600);
        !written.ok()) {
      return written;
    }
  }
  return endpoint;
}

}  // namespace skiff::daemon

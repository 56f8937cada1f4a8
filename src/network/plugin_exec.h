// Runs one CNI plugin as the CNI spec says: the command and its arguments in CNI_* environment
// variables, the network configuration on stdin, the result (or error) as JSON on stdout.
// Private to the network component.
#ifndef SKIFF_SRC_NETWORK_PLUGIN_EXEC_H_
#define SKIFF_SRC_NETWORK_PLUGIN_EXEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skiff::network {

struct PluginCall {
  std::string plugin_dir;  // CNI_PATH; the plugin is plugin_dir/type.
  std::string type;        // "bridge", "portmap", ...
  std::string command;     // ADD, DEL, CHECK.
  std::string container_id;
  std::string netns;       // May be empty for DEL.
  std::string ifname;
  std::string config;      // JSON on stdin.
  absl::Duration timeout = absl::Seconds(60);
};

// The plugin's stdout. When it fails: Internal with the plugin's error message ("msg" and
// "details" of its error JSON, else its stderr); DeadlineExceeded after the timeout (killed).
absl::StatusOr<std::string> RunPlugin(const PluginCall& call);

}  // namespace skiff::network

#endif  // SKIFF_SRC_NETWORK_PLUGIN_EXEC_H_

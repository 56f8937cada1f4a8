// Runs a helper program with its input on stdin and its output captured: one CNI plugin as the
// CNI spec says (the command and its arguments in CNI_* environment variables, the network
// configuration on stdin, the result or error as JSON on stdout), or any other tool the network
// reads the host through (iptables-save). Private to the network component.
#ifndef SKIFF_SRC_NETWORK_PLUGIN_EXEC_H_
#define SKIFF_SRC_NETWORK_PLUGIN_EXEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skiff::network {

struct ExecCall {
  std::string path;               // Absolute: no PATH search.
  std::vector<std::string> argv;  // argv[0] included.
  std::vector<std::string> env;   // "NAME=value"; nothing else is inherited.
  std::string input;              // Written to stdin, which is then closed.
  absl::Duration timeout = absl::Seconds(60);
};

struct ExecResult {
  int status = 0;  // As waitpid gives it.
  bool timed_out = false;  // Killed (SIGKILL) at the timeout.
  std::string out;
  std::string err;
};

// Runs call.path and waits for it. FailedPrecondition "PATH: why" when it cannot be started.
absl::StatusOr<ExecResult> Execute(const ExecCall& call);

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

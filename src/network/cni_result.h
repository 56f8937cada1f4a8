// Reading what the CNI plugins print and what CniNetwork keeps of it on disk. Pure functions
// from text to a value or a Status: they never throw, because an nlohmann exception escaping
// a worker thread would end skiffd, and a broken plugin or a damaged state file must fail one
// attachment with a message that names the plugin and the field, not the daemon.
// Private to the network component; any thread may call them.
#ifndef SKIFF_SRC_NETWORK_CNI_RESULT_H_
#define SKIFF_SRC_NETWORK_CNI_RESULT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "skiff/network/task_network.h"

namespace skiff::network {

// A plugin's stdout after a successful ADD: a JSON object. Internal otherwise, the message
// starting with `what` ("CNI bridge ADD: plugin result: not JSON ..."); a CNI error object
// printed with exit status 0 ({"code": 7, "msg": ...}) is an error too, with its message.
absl::StatusOr<nlohmann::json> ParsePluginResult(absl::string_view what,
                                                 absl::string_view output);

// The address part of the attachment from a result with "ips" (the bridge plugin's): ip,
// prefix_length, gateway and, when the result names the interface, mac. Internal naming the
// field ("CNI bridge ADD: plugin result: ips[0].address: not a string") otherwise.
absl::StatusOr<Attachment> AddressFromResult(absl::string_view what, const nlohmann::json& result);

// The message of a failed plugin: "msg" and "details" of its CNI error JSON on stdout, else its
// stderr, else its exit status.
std::string PluginErrorMessage(absl::string_view out, absl::string_view err, int exit_status);

// What CniNetwork records of an attachment (STATE_DIR/results/<id>.json), which DEL needs.
struct AttachmentRecord {
  std::string netns;
  std::vector<PortBinding> ports;
  nlohmann::json result;  // The last plugin's ADD result; null before the first.
};

// Ports as the record and portmap's runtimeConfig.portMappings hold them:
// [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}].
nlohmann::json PortsJson(const std::vector<PortBinding>& ports);
nlohmann::json RecordJson(const AttachmentRecord& record);
// InvalidArgument naming the file's field ("ports[1].hostPort: not an integer") when the text is
// not a record CniNetwork wrote.
absl::StatusOr<AttachmentRecord> ParseAttachmentRecord(absl::string_view text);

}  // namespace skiff::network

#endif  // SKIFF_SRC_NETWORK_CNI_RESULT_H_

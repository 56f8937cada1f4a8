// HaproxyAdmin: HAProxy's runtime API over its admin socket (`stats socket ... level admin`):
// the calls that change a backend's servers between reloads, and the state each server is in.
// One command per connection (HAProxy closes the socket after answering unless asked to keep
// it), with a timeout; the answer is HAProxy's text.
//
// The recipe (docs/adr/0011, measured on HAProxy 2.6 here): a target is added at weight 0 with
// its checks (a server added with a check counts as UP before its first check), then `enable
// health` and `enable server`; its weight is raised only after its first passing check (HAProxy's,
// or the first probe DataPlaneSync makes itself, since HAProxy's comes one interval late). To take
// it out: `state drain` (no new requests; in-flight ones finish), wait for its current sessions
// to reach 0, `state maint`, then `del server` (refused while connections linger: retry).
//
// Thread-compatible: each call opens its own connection; blocking, so call it off the loop.
#ifndef SKIFF_LB_HAPROXY_ADMIN_H_
#define SKIFF_LB_HAPROXY_ADMIN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace skiff::lb {

// A server as `add server` takes it.
struct ServerSpec {
  std::string backend;
  std::string name;
  std::string address;  // IPv4 or IPv6 literal.
  int port = 0;
  int weight = 0;       // 0-256.
  // Health check: `check inter I fastinter I downinter I rise R fall F`, and the port to check
  // when it is not the traffic port (0).
  bool check = true;
  absl::Duration interval = absl::Seconds(30);
  int rise = 5;
  int fall = 2;
  int check_port = 0;
  // `slowstart`: the weight ramps up over this long after the server comes up, as the config's
  // `default-server` has it (a dynamic server does not read `default-server`). 0 is off.
  absl::Duration slow_start = absl::ZeroDuration();
  std::string cookie;   // Stickiness cookie value; "" for none.
  bool backup = false;  // `backup`: takes requests only while no other server is UP.
  friend bool operator==(const ServerSpec&, const ServerSpec&) = default;
};

enum class ServerAdminState { kReady, kDrain, kMaint };

// One server's line of `show stat`.
struct ServerStat {
  std::string backend;
  std::string name;
  std::string status;        // "UP", "DOWN", "MAINT", "DRAIN", "no check", "UP 1/3" ...
  int current_sessions = 0;  // scur
  int weight = 0;
  std::string check_status;  // "L7OK", "L7STS", "L4CON", "INI" ...
  int check_code = 0;        // HTTP status of the last check, 0 when none.
  int64_t total_sessions = 0;  // stot
  bool up() const;           // status starts with "UP" (or DRAIN, which is up and draining).
  friend bool operator==(const ServerStat&, const ServerStat&) = default;
};

class HaproxyAdmin {
 public:
  explicit HaproxyAdmin(std::string socket_path, absl::Duration timeout = absl::Seconds(2));

  // One raw command; HAProxy's answer. Unavailable when the socket does not answer.
  absl::StatusOr<std::string> Execute(absl::string_view command) const;

  absl::Status AddServer(const ServerSpec& server) const;
  // `enable health` then `enable server` (a dynamic server starts in maintenance).
  absl::Status EnableServer(absl::string_view backend, absl::string_view name) const;
  absl::Status SetWeight(absl::string_view backend, absl::string_view name, int weight) const;
  absl::Status SetState(absl::string_view backend, absl::string_view name,
                        ServerAdminState state) const;
  // FailedPrecondition while the server still has connections (retry later); NotFound when
  // there is no such server.
  absl::Status DeleteServer(absl::string_view backend, absl::string_view name) const;

  // Every server of every backend (or of one), from `show stat`.
  absl::StatusOr<std::vector<ServerStat>> Servers(absl::string_view backend = "") const;

 private:
  std::string socket_path_;
  absl::Duration timeout_;
};

// Parses the CSV of `show stat` into the servers' lines (FRONTEND and BACKEND lines skipped).
// InvalidArgument when the header line is missing or lacks a needed column.
absl::StatusOr<std::vector<ServerStat>> ParseShowStat(absl::string_view csv);

}  // namespace skiff::lb

#endif  // SKIFF_LB_HAPROXY_ADMIN_H_

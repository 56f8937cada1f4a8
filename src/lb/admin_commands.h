// The text of HaproxyAdmin's runtime-API commands and the reading of HAProxy's answers, apart
// from the socket so that unit tests can check them without a running HAProxy. Pure functions;
// any thread.
//
// HAProxy's CLI answers a command that worked with a fixed sentence ("New server registered.",
// "Server deleted.") or nothing at all, and one that failed with a sentence that says why. The
// failures this maps to codes were taken from HAProxy 2.6.12 (Debian 12):
//   No such backend. / No such server.                             -> NotFound
//   Already exists a server with the same name in backend.         -> AlreadyExists
//   Server still has connections attached to it, cannot remove it. -> FailedPrecondition
//   Only servers in maintenance mode can be deleted.               -> FailedPrecondition
//   Health check was not configured on this server, cannot enable. -> FailedPrecondition
//   Permission denied (a socket below `level admin`)               -> PermissionDenied
// and any other answer is InvalidArgument: HAProxy refused the command as written (2.6 refuses,
// for one, `cookie` on a dynamic server: "'cookie' option is not accepted for dynamic server").
#ifndef SKIFF_SRC_LB_ADMIN_COMMANDS_H_
#define SKIFF_SRC_LB_ADMIN_COMMANDS_H_

#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/lb/haproxy_admin.h"

namespace skiff::lb {

// InvalidArgument unless `name` can be a backend or server name on HAProxy's CLI: letters,
// digits and "-_.:", at most 100 characters. The check also keeps a name from smuggling a second
// command (';' or a newline) into the line.
absl::Status CheckProxyName(absl::string_view what, absl::string_view name);

// `add server BACKEND/NAME ADDR:PORT weight W [check inter I fastinter I downinter I rise R
// fall F [port P]] [slowstart S] [cookie C]`, IPv6 addresses in brackets. InvalidArgument for a
// spec HAProxy would refuse or misread: a bad name, an address that is not an IP literal, a port
// or weight out of range, rise/fall below 1, an interval under 1 ms, a negative slow start, a
// cookie with spaces.
absl::StatusOr<std::string> AddServerCommand(const ServerSpec& server);

// `set server BACKEND/NAME state ready|drain|maint`.
std::string SetStateCommand(absl::string_view backend, absl::string_view name,
                            ServerAdminState state);

// OK when `answer` (surrounding white space ignored) is empty or one of `success`; otherwise the
// code from the table above, with the command and HAProxy's own words in the message.
absl::Status StatusFromAnswer(absl::string_view command, absl::string_view answer,
                              std::initializer_list<absl::string_view> success = {});

// The value of `Key: value` in the answer of `show info` (e.g. "Pid"), or "" if absent.
std::string ShowInfoField(absl::string_view show_info, absl::string_view key);

}  // namespace skiff::lb

#endif  // SKIFF_SRC_LB_ADMIN_COMMANDS_H_

// The OCI runtime spec for a container: containerd's default Linux spec (default capabilities,
// masked and read-only paths, device allow-list, rlimits, no-new-privileges) with a ContainerSpec
// and its image config applied on top. Pure functions over values: no I/O, so unit tests cover
// every field; the containerd adapter supplies the image's /etc/passwd and /etc/group text.
#ifndef SKIFF_RUNTIME_OCI_SPEC_H_
#define SKIFF_RUNTIME_OCI_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/runtime/container_spec.h"
#include "skiff/runtime/exec_session.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {

// The image's account databases, as file contents ("" when the file is absent).
struct ImageAccounts {
  std::string passwd;
  std::string group;
};

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;  // From /etc/group membership of the user's name.
};

// True when resolving `user` needs the image's /etc/passwd or /etc/group, so the adapter can
// skip reading the image otherwise. Only "uid:gid" with both numeric resolves without them: ""
// (root) and a bare uid take their primary gid and supplementary groups from the files, as with
// Docker (ADR 0006).
bool UserNeedsAccounts(const std::string& user);

// Resolves "name", "uid", "uid:gid", "name:group", "uid:group", "name:gid" as Docker does
// (runc's user.GetExecUser): a number is always an id; a uid without a passwd entry gets gid 0;
// supplementary groups come from /etc/group membership unless a group is given explicitly.
// InvalidArgument naming the user when a name is unknown or an id is outside 0..2^31-1.
absl::StatusOr<ResolvedUser> ResolveUser(const std::string& user, const ImageAccounts& accounts);

// The spec as JSON text. `user` is the effective user (spec.user, else the image's); the caller
// resolves it first. InvalidArgument, naming the setting, for what cannot be applied (an unknown
// capability, a relative working directory, a mount onto /proc...).
//
// `host_capabilities` (bit N for capability N) bounds what "every capability" means for
// privileged and cap_add ALL: the caller passes the capabilities it holds itself, as containerd's
// clients and Docker do (WithAllCurrentCapabilities). runc cannot grant more than it holds, and a
// spec asking for more fails the start with "unable to apply caps", e.g. on a host whose
// bounding set lacks CAP_SYS_RESOURCE. Explicitly added capabilities are not filtered: asking for
// one the host lacks is an error the user should see.
absl::StatusOr<std::string> BuildOciSpec(const ContainerSpec& spec, const ImageConfig& image,
                                         const ResolvedUser& user,
                                         uint64_t host_capabilities = ~uint64_t{0});

// The process spec (JSON text) for an exec in a container whose OCI spec is container_spec_json:
// its user, env and cwd, with args = argv. With options.tty, a terminal of options.window's size
// (when not zero) and TERM=xterm unless the container's environment sets TERM, as `docker exec
// -t` does: a shell without TERM cannot edit its command line.
absl::StatusOr<std::string> BuildExecProcessSpec(const std::string& container_spec_json,
                                                 const std::vector<std::string>& argv,
                                                 const ExecSessionOptions& options = {});

}  // namespace skiff::runtime

#endif  // SKIFF_RUNTIME_OCI_SPEC_H_

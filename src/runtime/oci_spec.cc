#include "skiff/runtime/oci_spec.h"

namespace skiff::runtime {

bool UserNeedsAccounts(const std::string&) { return false; }
absl::StatusOr<ResolvedUser> ResolveUser(const std::string&, const ImageAccounts&) {
  return ResolvedUser{};
}
absl::StatusOr<std::string> BuildOciSpec(const ContainerSpec&, const ImageConfig&,
                                         const ResolvedUser&) {
  return absl::UnimplementedError("oci spec: not yet");
}
absl::StatusOr<std::string> BuildExecProcessSpec(const std::string&,
                                                 const std::vector<std::string>&) {
  return absl::UnimplementedError("exec spec: not yet");
}

}  // namespace skiff::runtime

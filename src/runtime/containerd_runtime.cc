#include "skiff/runtime/containerd_runtime.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"
#include "google/protobuf/empty.pb.h"

namespace skiff::runtime {

namespace version_api = containerd::services::version::v1;

ContainerdRuntime::ContainerdRuntime(const std::string& address, const std::string& ns)
    : connection_(address, ns) {}

absl::StatusOr<RuntimeVersion> ContainerdRuntime::Version(absl::Duration timeout) {
  // gRPC would wait out the deadline and say only "Deadline Exceeded"; say what is wrong.
  std::error_code ec;
  if (!std::filesystem::exists(connection_.address(), ec)) {
    return absl::UnavailableError(absl::StrCat("containerd socket ", connection_.address(),
                                               " does not exist"));
  }
  auto stub = version_api::Version::NewStub(connection_.channel());
  auto context = connection_.NewContext(timeout);
  // containerd may be starting alongside skiffd: wait for it up to the deadline instead of
  // failing at the first refused connection.
  context->set_wait_for_ready(true);
  google::protobuf::Empty request;
  version_api::VersionResponse response;
  grpc::Status status = stub->Version(context.get(), request, &response);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(absl::StrCat("containerd at ", connection_.address(),
                                               " did not answer within ",
                                               absl::FormatDuration(timeout)));
  }
  if (!status.ok()) return connection_.ToStatus(status, "Version");
  return RuntimeVersion{response.version(), response.revision()};
}

}  // namespace skiff::runtime

#include "skiff/runtime/containerd_runtime.h"

#include "containerd_events.h"
#include "containerd_images.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"
#include "google/protobuf/empty.pb.h"

namespace skiff::runtime {

namespace version_api = containerd::services::version::v1;

ContainerdRuntime::ContainerdRuntime(ContainerdRuntimeOptions options)
    : options_(std::move(options)),
      connection_(options_.address, options_.ns),
      images_(std::make_unique<ContainerdImages>(&connection_, options_.snapshotter)) {}

ContainerdRuntime::~ContainerdRuntime() { StopEvents(); }

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

namespace skiff::runtime {

absl::StatusOr<std::vector<ImageInfo>> ContainerdRuntime::ImportImage(
    const std::string& tarball_path) {
  return images_->Import(tarball_path);
}
absl::StatusOr<std::vector<ImageInfo>> ContainerdRuntime::ListImages() { return images_->List(); }
absl::StatusOr<ImageInfo> ContainerdRuntime::GetImage(const std::string& reference) {
  return images_->Get(reference);
}
absl::Status ContainerdRuntime::RemoveImage(const std::string& reference) {
  return images_->Remove(reference);
}

absl::Status ContainerdRuntime::CreateContainer(const ContainerSpec&) {
  return absl::UnimplementedError("not yet");
}
absl::StatusOr<uint32_t> ContainerdRuntime::StartContainer(const std::string&) {
  return absl::UnimplementedError("not yet");
}
absl::Status ContainerdRuntime::SignalContainer(const std::string&, int) {
  return absl::UnimplementedError("not yet");
}
absl::StatusOr<uint32_t> ContainerdRuntime::DeleteTask(const std::string&) {
  return absl::UnimplementedError("not yet");
}
absl::Status ContainerdRuntime::RemoveContainer(const std::string&) {
  return absl::UnimplementedError("not yet");
}
absl::StatusOr<std::vector<ContainerStatus>> ContainerdRuntime::ListContainers() {
  return absl::UnimplementedError("not yet");
}
absl::StatusOr<ExecResult> ContainerdRuntime::Exec(const std::string&,
                                                   const std::vector<std::string>&,
                                                   absl::Duration) {
  return absl::UnimplementedError("not yet");
}
void ContainerdRuntime::StartEvents(EventHandler) {}
void ContainerdRuntime::StopEvents() {}
absl::StatusOr<std::pair<std::string, std::string>> ContainerdRuntime::ReadAccounts(
    const ImageInfo&, const std::string&) {
  return absl::UnimplementedError("not yet");
}

}  // namespace skiff::runtime

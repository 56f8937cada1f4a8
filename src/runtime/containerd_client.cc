#include "runtime/containerd_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "runtime/digest.h"

namespace skiff::runtime {
namespace {

namespace content_api = containerd::services::content::v1;
namespace images_api = containerd::services::images::v1;
namespace leases_api = containerd::services::leases::v1;
namespace snapshots_api = containerd::services::snapshots::v1;
namespace diff_api = containerd::services::diff::v1;

constexpr absl::Duration kCallTimeout = absl::Seconds(60);
// Streaming a large layer or applying it can take minutes on a slow disk.
constexpr absl::Duration kBulkTimeout = absl::Minutes(30);
// Chunks of a blob write; well under the 16 MiB message limit.
constexpr size_t kWriteChunk = 1 << 20;

constexpr char kExpireLabel[] = "containerd.io/gc.expire";

void ToProto(const Descriptor& in, containerd::types::Descriptor* out) {
  out->set_media_type(in.media_type);
  out->set_digest(in.digest);
  out->set_size(in.size);
  for (const auto& [key, value] : in.annotations) (*out->mutable_annotations())[key] = value;
}

Descriptor FromProto(const containerd::types::Descriptor& in) {
  Descriptor out;
  out.media_type = in.media_type();
  out.digest = in.digest();
  out.size = in.size();
  out.annotations.insert(in.annotations().begin(), in.annotations().end());
  return out;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

ImageRecord FromProto(const images_api::Image& image) {
  return ImageRecord{.name = image.name(), .target = FromProto(image.target()),
                     .created = FromProto(image.created_at())};
}

}  // namespace

ContainerdClient::ContainerdClient(const ContainerdConnection* connection, std::string lease)
    : connection_(connection),
      lease_(std::move(lease)),
      content_(content_api::Content::NewStub(connection->channel())),
      images_(images_api::Images::NewStub(connection->channel())),
      leases_(leases_api::Leases::NewStub(connection->channel())),
      snapshots_(snapshots_api::Snapshots::NewStub(connection->channel())),
      diff_(diff_api::Diff::NewStub(connection->channel())) {}

std::unique_ptr<grpc::ClientContext> ContainerdClient::Context(absl::Duration timeout) const {
  auto context = connection_->NewContext(timeout);
  if (!lease_.empty()) context->AddMetadata("containerd-lease", lease_);
  return context;
}

absl::Status ContainerdClient::CreateLease(absl::Duration expire) {
  leases_api::CreateRequest request;
  request.set_id(lease_);
  (*request.mutable_labels())[kExpireLabel] =
      absl::FormatTime(absl::RFC3339_full, absl::Now() + expire, absl::UTCTimeZone());
  leases_api::CreateResponse response;
  // Not under the lease it creates: a plain namespaced context.
  auto context = connection_->NewContext(kCallTimeout);
  return connection_->ToStatus(leases_->Create(context.get(), request, &response),
                               "Leases.Create");
}

absl::Status ContainerdClient::DeleteLease(bool sync) {
  leases_api::DeleteRequest request;
  request.set_id(lease_);
  request.set_sync(sync);
  google::protobuf::Empty response;
  auto context = connection_->NewContext(kBulkTimeout);
  return connection_->ToStatus(leases_->Delete(context.get(), request, &response),
                               "Leases.Delete");
}

absl::Status ContainerdClient::AddSnapshotToLease(const std::string& snapshotter,
                                                  const std::string& key) {
  leases_api::AddResourceRequest request;
  request.set_id(lease_);
  request.mutable_resource()->set_id(key);
  request.mutable_resource()->set_type(absl::StrCat("snapshots/", snapshotter));
  google::protobuf::Empty response;
  auto context = connection_->NewContext(kCallTimeout);
  return connection_->ToStatus(leases_->AddResource(context.get(), request, &response),
                               "Leases.AddResource");
}

absl::Status ContainerdClient::WriteBlob(const std::string& ref, const Descriptor& expected,
                                         const BlobReader& read, absl::string_view what,
                                         bool verified) {
  auto context = Context(kBulkTimeout);
  auto stream = content_->Write(context.get());
  content_api::WriteContentRequest request;
  content_api::WriteContentResponse response;
  // The server answers every request; a failed Read means it ended the stream with a status.
  auto finish = [&]() -> absl::Status {
    stream->WritesDone();
    while (stream->Read(&response)) {
    }
    grpc::Status status = stream->Finish();
    // Already stored: containerd has added it to our lease, nothing to write.
    if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) return absl::OkStatus();
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": content does not match its descriptor (", expected.digest, ", ",
          expected.size, " bytes): ", status.error_message()));
    }
    if (status.ok()) return absl::InternalError("containerd Content.Write ended early");
    return connection_->ToStatus(status, absl::StrCat("Content.Write of ", what));
  };

  request.set_action(content_api::STAT);
  request.set_ref(ref);
  request.set_total(expected.size);
  request.set_expected(expected.digest);
  if (!stream->Write(request) || !stream->Read(&response)) return finish();

  Sha256Hasher hasher;
  std::string buffer;
  int64_t offset = 0;
  while (offset < expected.size) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(kWriteChunk, expected.size - offset));
    buffer.resize(chunk);
    if (absl::Status status = read(offset, buffer.data(), chunk); !status.ok()) {
      stream->WritesDone();
      context->TryCancel();
      stream->Finish().IgnoreError();
      return status;
    }
    if (!verified) hasher.Update(buffer);
    request.Clear();
    request.set_action(content_api::WRITE);
    request.set_ref(ref);
    request.set_offset(offset);
    request.set_data(buffer);
    if (!stream->Write(request) || !stream->Read(&response)) return finish();
    offset += static_cast<int64_t>(chunk);
  }
  // Checked here as well as by containerd's commit, to say which file of the archive is bad.
  if (const std::string actual = verified ? expected.digest : hasher.Finish();
      actual != expected.digest) {
    stream->WritesDone();
    context->TryCancel();
    stream->Finish().IgnoreError();
    return absl::InvalidArgumentError(absl::StrCat(what, ": content has digest ", actual,
                                                   " but its descriptor says ",
                                                   expected.digest));
  }
  request.Clear();
  request.set_action(content_api::COMMIT);
  request.set_ref(ref);
  request.set_offset(offset);
  request.set_total(expected.size);
  request.set_expected(expected.digest);
  if (!stream->Write(request) || !stream->Read(&response)) return finish();
  stream->WritesDone();
  // containerd sends the commit's answer a second time as it ends the call; Finish() waits
  // until every incoming message has been read.
  while (stream->Read(&response)) {
  }
  return connection_->ToStatus(stream->Finish(), absl::StrCat("Content.Write of ", what));
}

absl::StatusOr<std::string> ContainerdClient::ReadBlob(const std::string& digest,
                                                       int64_t max_size) {
  content_api::ReadContentRequest request;
  request.set_digest(digest);
  auto context = Context(kCallTimeout);
  auto stream = content_->Read(context.get(), request);
  std::string data;
  content_api::ReadContentResponse response;
  while (stream->Read(&response)) {
    if (static_cast<int64_t>(data.size() + response.data().size()) > max_size) {
      context->TryCancel();
      stream->Finish().IgnoreError();
      return absl::InvalidArgumentError(
          absl::StrCat("blob ", digest, " is larger than the ", max_size, " bytes allowed"));
    }
    data += response.data();
  }
  if (absl::Status status = connection_->ToStatus(stream->Finish(), "Content.Read");
      !status.ok()) {
    return status;
  }
  return data;
}

absl::StatusOr<bool> ContainerdClient::HasBlob(const std::string& digest) {
  content_api::InfoRequest request;
  request.set_digest(digest);
  content_api::InfoResponse response;
  auto context = Context(kCallTimeout);
  grpc::Status status = content_->Info(context.get(), request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  if (absl::Status converted = connection_->ToStatus(status, "Content.Info"); !converted.ok()) {
    return converted;
  }
  return true;
}

absl::Status ContainerdClient::SetBlobLabels(const std::string& digest,
                                             const std::map<std::string, std::string>& labels) {
  content_api::UpdateRequest request;
  request.mutable_info()->set_digest(digest);
  for (const auto& [key, value] : labels) {
    (*request.mutable_info()->mutable_labels())[key] = value;
    request.mutable_update_mask()->add_paths(absl::StrCat("labels.", key));
  }
  content_api::UpdateResponse response;
  auto context = Context(kCallTimeout);
  return connection_->ToStatus(content_->Update(context.get(), request, &response),
                               "Content.Update");
}

absl::StatusOr<bool> ContainerdClient::SnapshotExists(const std::string& snapshotter,
                                                      const std::string& key) {
  snapshots_api::StatSnapshotRequest request;
  request.set_snapshotter(snapshotter);
  request.set_key(key);
  snapshots_api::StatSnapshotResponse response;
  auto context = Context(kCallTimeout);
  grpc::Status status = snapshots_->Stat(context.get(), request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  if (!status.ok()) return connection_->ToStatus(status, "Snapshots.Stat");
  return true;
}

absl::StatusOr<Mounts> ContainerdClient::PrepareSnapshot(const std::string& snapshotter,
                                                         const std::string& key,
                                                         const std::string& parent) {
  snapshots_api::PrepareSnapshotRequest request;
  request.set_snapshotter(snapshotter);
  request.set_key(key);
  request.set_parent(parent);
  snapshots_api::PrepareSnapshotResponse response;
  auto context = Context(kCallTimeout);
  grpc::Status status = snapshots_->Prepare(context.get(), request, &response);
  if (!status.ok()) return connection_->ToStatus(status, "Snapshots.Prepare");
  return std::move(*response.mutable_mounts());
}

absl::Status ContainerdClient::CommitSnapshot(const std::string& snapshotter,
                                              const std::string& name, const std::string& key) {
  snapshots_api::CommitSnapshotRequest request;
  request.set_snapshotter(snapshotter);
  request.set_name(name);
  request.set_key(key);
  google::protobuf::Empty response;
  auto context = Context(kCallTimeout);
  return connection_->ToStatus(snapshots_->Commit(context.get(), request, &response),
                               "Snapshots.Commit");
}

absl::Status ContainerdClient::RemoveSnapshot(const std::string& snapshotter,
                                              const std::string& key) {
  snapshots_api::RemoveSnapshotRequest request;
  request.set_snapshotter(snapshotter);
  request.set_key(key);
  google::protobuf::Empty response;
  auto context = Context(kCallTimeout);
  return connection_->ToStatus(snapshots_->Remove(context.get(), request, &response),
                               "Snapshots.Remove");
}

absl::StatusOr<std::string> ContainerdClient::ApplyLayer(const Descriptor& layer,
                                                         const Mounts& mounts) {
  diff_api::ApplyRequest request;
  ToProto(layer, request.mutable_diff());
  *request.mutable_mounts() = mounts;
  diff_api::ApplyResponse response;
  auto context = Context(kBulkTimeout);
  grpc::Status status = diff_->Apply(context.get(), request, &response);
  if (!status.ok()) {
    return connection_->ToStatus(status, absl::StrCat("Diff.Apply of layer ", layer.digest));
  }
  return response.applied().digest();
}

absl::StatusOr<ImageRecord> ContainerdClient::GetImage(const std::string& name) {
  images_api::GetImageRequest request;
  request.set_name(name);
  images_api::GetImageResponse response;
  auto context = Context(kCallTimeout);
  grpc::Status status = images_->Get(context.get(), request, &response);
  if (!status.ok()) return connection_->ToStatus(status, "Images.Get");
  return FromProto(response.image());
}

absl::StatusOr<std::vector<ImageRecord>> ContainerdClient::ListImages() {
  images_api::ListImagesRequest request;
  images_api::ListImagesResponse response;
  auto context = Context(kCallTimeout);
  grpc::Status status = images_->List(context.get(), request, &response);
  if (!status.ok()) return connection_->ToStatus(status, "Images.List");
  std::vector<ImageRecord> records;
  for (const images_api::Image& image : response.images()) records.push_back(FromProto(image));
  return records;
}

absl::StatusOr<ImageRecord> ContainerdClient::CreateImage(const std::string& name,
                                                          const Descriptor& target) {
  images_api::CreateImageRequest request;
  request.mutable_image()->set_name(name);
  ToProto(target, request.mutable_image()->mutable_target());
  images_api::CreateImageResponse response;
  auto context = Context(kCallTimeout);
  grpc::Status status = images_->Create(context.get(), request, &response);
  if (!status.ok()) return connection_->ToStatus(status, "Images.Create");
  return FromProto(response.image());
}

absl::StatusOr<ImageRecord> ContainerdClient::UpdateImageTarget(const std::string& name,
                                                                const Descriptor& target) {
  images_api::UpdateImageRequest request;
  request.mutable_image()->set_name(name);
  ToProto(target, request.mutable_image()->mutable_target());
  request.mutable_update_mask()->add_paths("target");
  images_api::UpdateImageResponse response;
  auto context = Context(kCallTimeout);
  grpc::Status status = images_->Update(context.get(), request, &response);
  if (!status.ok()) return connection_->ToStatus(status, "Images.Update");
  return FromProto(response.image());
}

absl::Status ContainerdClient::DeleteImage(const std::string& name, bool sync) {
  images_api::DeleteImageRequest request;
  request.set_name(name);
  request.set_sync(sync);
  google::protobuf::Empty response;
  auto context = Context(kBulkTimeout);
  return connection_->ToStatus(images_->Delete(context.get(), request, &response),
                               "Images.Delete");
}

}  // namespace skiff::runtime

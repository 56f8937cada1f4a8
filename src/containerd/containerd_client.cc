#include "containerd/containerd_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "containerd/digest.h"
#include "google/protobuf/empty.pb.h"
#include "google/protobuf/field_mask.pb.h"

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

ContainerdClient::ContentWriter::ContentWriter(const ContainerdConnection* connection,
                                              std::unique_ptr<grpc::ClientContext> context,
                                              std::string ref, Descriptor expected,
                                              std::string what)
    : connection_(connection),
      context_(std::move(context)),
      ref_(std::move(ref)),
      expected_(std::move(expected)),
      what_(std::move(what)) {}

ContainerdClient::ContentWriter::~ContentWriter() {
  if (finished_) return;
  // The ingest stays in containerd, as far as it was sent.
  stream_->WritesDone();
  context_->TryCancel();
  stream_->Finish().IgnoreError();
}

bool ContainerdClient::ContentWriter::Exchange(const content_api::WriteContentRequest& request) {
  content_api::WriteContentResponse response;
  if (!stream_->Write(request) || !stream_->Read(&response)) return false;
  offset_ = response.offset();
  return true;
}

absl::Status ContainerdClient::ContentWriter::Finish() {
  finished_ = true;
  stream_->WritesDone();
  content_api::WriteContentResponse response;
  while (stream_->Read(&response)) {
  }
  grpc::Status status = stream_->Finish();
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    return absl::AlreadyExistsError(absl::StrCat(what_, " is stored already"));
  }
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    return absl::InvalidArgumentError(absl::StrCat(
        what_, ": content does not match its descriptor (", expected_.digest, ", ",
        expected_.size, " bytes): ", status.error_message()));
  }
  if (status.ok()) return absl::InternalError("containerd Content.Write ended early");
  return connection_->ToStatus(status, absl::StrCat("Content.Write of ", what_));
}

absl::Status ContainerdClient::ContentWriter::Flush() {
  if (buffer_.empty()) return absl::OkStatus();
  content_api::WriteContentRequest request;
  request.set_action(content_api::WRITE);
  request.set_ref(ref_);
  request.set_offset(offset_);
  request.mutable_data()->swap(buffer_);
  buffer_.clear();
  if (!Exchange(request)) return Finish();
  return absl::OkStatus();
}

absl::Status ContainerdClient::ContentWriter::Write(absl::string_view data) {
  if (finished_) return absl::FailedPreconditionError(absl::StrCat(what_, ": writer is closed"));
  if (offset() + static_cast<int64_t>(data.size()) > expected_.size) {
    return absl::InvalidArgumentError(absl::StrCat(what_, ": more than the ", expected_.size,
                                                   " bytes of its descriptor"));
  }
  while (!data.empty()) {
    if (buffer_.capacity() < kWriteChunk) buffer_.reserve(kWriteChunk);
    const size_t n = std::min(data.size(), kWriteChunk - buffer_.size());
    buffer_.append(data.data(), n);
    data.remove_prefix(n);
    if (buffer_.size() == kWriteChunk) {
      if (absl::Status status = Flush(); !status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

absl::Status ContainerdClient::ContentWriter::Commit() {
  if (finished_) return absl::FailedPreconditionError(absl::StrCat(what_, ": writer is closed"));
  if (absl::Status status = Flush(); !status.ok()) return status;
  content_api::WriteContentRequest request;
  request.set_action(content_api::COMMIT);
  request.set_ref(ref_);
  request.set_offset(offset_);
  request.set_total(expected_.size);
  request.set_expected(expected_.digest);
  if (!Exchange(request)) return Finish();
  finished_ = true;
  stream_->WritesDone();
  // containerd sends the commit's answer a second time as it ends the call; Finish() waits
  // until every incoming message has been read.
  content_api::WriteContentResponse response;
  while (stream_->Read(&response)) {
  }
  return connection_->ToStatus(stream_->Finish(), absl::StrCat("Content.Write of ", what_));
}

absl::StatusOr<std::unique_ptr<ContainerdClient::ContentWriter>> ContainerdClient::OpenWriter(
    const std::string& ref, const Descriptor& expected, absl::string_view what) {
  std::unique_ptr<ContentWriter> writer(
      new ContentWriter(connection_, Context(kBulkTimeout), ref, expected, std::string(what)));
  writer->stream_ = content_->Write(writer->context_.get());
  content_api::WriteContentRequest request;
  request.set_action(content_api::STAT);
  request.set_ref(ref);
  request.set_total(expected.size);
  request.set_expected(expected.digest);
  if (!writer->Exchange(request)) return writer->Finish();
  return writer;
}

absl::Status ContainerdClient::KeepIngest(const std::string& ref, const Descriptor& expected) {
  ContainerdClient unleased(connection_, "");
  auto writer = unleased.OpenWriter(ref, expected, ref);
  if (writer.status().code() == absl::StatusCode::kAlreadyExists) return absl::OkStatus();
  return writer.status();
}

absl::Status ContainerdClient::AbortIngest(const std::string& ref) {
  content_api::AbortRequest request;
  request.set_ref(ref);
  google::protobuf::Empty response;
  auto context = Context(kCallTimeout);
  absl::Status status =
      connection_->ToStatus(content_->Abort(context.get(), request, &response), "Content.Abort");
  return absl::IsNotFound(status) ? absl::OkStatus() : status;
}

absl::Status ContainerdClient::WriteBlob(const std::string& ref, const Descriptor& expected,
                                         const BlobReader& read, absl::string_view what,
                                         bool verified) {
  auto writer = OpenWriter(ref, expected, what);
  if (writer.status().code() == absl::StatusCode::kAlreadyExists) return absl::OkStatus();
  if (!writer.ok()) return writer.status();
  // Only a fresh ingest can be checked here; a resumed one is left to containerd's commit.
  verified = verified || (*writer)->offset() > 0;
  Sha256Hasher hasher;
  std::string buffer;
  for (int64_t offset = (*writer)->offset(); offset < expected.size;) {
    const size_t chunk =
        static_cast<size_t>(std::min<int64_t>(kWriteChunk, expected.size - offset));
    buffer.resize(chunk);
    if (absl::Status status = read(offset, buffer.data(), chunk); !status.ok()) return status;
    if (!verified) hasher.Update(buffer);
    if (absl::Status status = (*writer)->Write(buffer); !status.ok()) return status;
    offset += static_cast<int64_t>(chunk);
  }
  // Checked here as well as by containerd's commit, to say which file of the archive is bad.
  if (const std::string actual = verified ? expected.digest : hasher.Finish();
      actual != expected.digest) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": content has digest ", actual,
                                                   " but its descriptor says ",
                                                   expected.digest));
  }
  absl::Status committed = (*writer)->Commit();
  return committed.code() == absl::StatusCode::kAlreadyExists ? absl::OkStatus() : committed;
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

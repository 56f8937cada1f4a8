// ContainerdClient: typed calls to the containerd services that image work uses (content,
// images, snapshots, diff, leases), each with the namespace header, a deadline and, if the
// client was made for a lease, the `containerd-lease` header, so that everything it creates
// belongs to that lease until the lease is deleted. Errors come back as absl::Status through
// ContainerdConnection::ToStatus. A short-lived value made per operation by ContainerdImages;
// it borrows the connection. Thread-safe (it holds only gRPC stubs).
#ifndef SKIFF_SRC_CONTAINERD_CONTAINERD_CLIENT_H_
#define SKIFF_SRC_CONTAINERD_CONTAINERD_CLIENT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "containerd/image_manifest.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/diff/v1/diff.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "skiff/containerd/containerd_connection.h"

namespace skiff::runtime {

struct ImageRecord {
  std::string name;
  Descriptor target;
  absl::Time created;
};

using Mounts = google::protobuf::RepeatedPtrField<containerd::types::Mount>;

class ContainerdClient {
 public:
  // Reads `size` bytes of a blob at `offset` into `buffer`.
  using BlobReader = std::function<absl::Status(int64_t offset, char* buffer, size_t size)>;

  // `lease`: empty for calls outside any lease.
  ContainerdClient(const ContainerdConnection* connection, std::string lease);

  const std::string& lease() const { return lease_; }

  // Leases. The lease expires by itself after `expire`, should its owner die before deleting
  // it. Delete with sync waits for the garbage collection that the deletion triggers.
  absl::Status CreateLease(absl::Duration expire);
  absl::Status DeleteLease(bool sync);
  absl::Status AddSnapshotToLease(const std::string& snapshotter, const std::string& key);

  // An ingest of the content store being written over one Content.Write stream, made by
  // OpenWriter(). It resumes what an earlier writer of the same ref left (offset() says how much
  // that is; containerd keeps the bytes and re-hashes them). Write() buffers into 1 MiB
  // messages; Commit() stores the bytes as the expected digest, which containerd checks.
  // Destroying a writer that was not committed leaves the ingest as far as it was sent, for a
  // later writer of its ref or for the garbage collector. One thread.
  class ContentWriter {
   public:
    ~ContentWriter();
    ContentWriter(const ContentWriter&) = delete;
    ContentWriter& operator=(const ContentWriter&) = delete;

    // Bytes in the ingest, counting those not sent yet.
    int64_t offset() const { return offset_ + static_cast<int64_t>(buffer_.size()); }
    absl::Status Write(absl::string_view data);
    // Sends the buffered bytes, so that the ingest holds all of offset().
    absl::Status Flush();
    // InvalidArgument when the bytes do not match the descriptor (the ingest stays; abort it),
    // AlreadyExists when the blob was stored meanwhile (it joins the lease all the same).
    absl::Status Commit();

   private:
    friend class ContainerdClient;
    ContentWriter(const ContainerdConnection* connection, std::unique_ptr<grpc::ClientContext> context,
                  std::string ref, Descriptor expected, std::string what);
    // Sends `request` and reads the answer; false once the stream is broken (then Finish()).
    bool Exchange(const containerd::services::content::v1::WriteContentRequest& request);
    // Ends the stream and says why it ended.
    absl::Status Finish();

    const ContainerdConnection* connection_;
    std::unique_ptr<grpc::ClientContext> context_;
    std::unique_ptr<grpc::ClientReaderWriter<containerd::services::content::v1::WriteContentRequest,
                                             containerd::services::content::v1::WriteContentResponse>>
        stream_;
    std::string ref_;
    Descriptor expected_;
    std::string what_;
    int64_t offset_ = 0;  // Bytes containerd has.
    std::string buffer_;  // Bytes not sent yet.
    bool finished_ = false;
  };

  // Content. OpenWriter starts or resumes the ingest `ref` of `expected` (`what` names it in
  // errors); AlreadyExists if the blob is stored already (it then joins the lease).
  absl::StatusOr<std::unique_ptr<ContentWriter>> OpenWriter(const std::string& ref,
                                                            const Descriptor& expected,
                                                            absl::string_view what);
  // Re-opens the ingest `ref` outside any lease, so that it outlives this client's lease:
  // containerd keeps an ingest no lease holds for a day, unless a writer resumes it.
  absl::Status KeepIngest(const std::string& ref, const Descriptor& expected);
  absl::Status AbortIngest(const std::string& ref);
  // Streams `expected.size` bytes from `read` under ingest `ref` and commits them as
  // `expected.digest`; a blob that is already stored is left as it is (and joins the lease).
  // Bytes that do not match the digest are InvalidArgument naming `what`. `verified`: the
  // reader's bytes were checked against the digest already, so only containerd's commit checks
  // them again.
  absl::Status WriteBlob(const std::string& ref, const Descriptor& expected, const BlobReader& read,
                         absl::string_view what, bool verified = false);
  // The whole blob; InvalidArgument if it is larger than max_size.
  absl::StatusOr<std::string> ReadBlob(const std::string& digest, int64_t max_size);
  // Whether the content store has the blob (committed, not just being written).
  absl::StatusOr<bool> HasBlob(const std::string& digest);
  // Sets (merges) labels on a stored blob.
  absl::Status SetBlobLabels(const std::string& digest,
                             const std::map<std::string, std::string>& labels);

  // Snapshots.
  absl::StatusOr<bool> SnapshotExists(const std::string& snapshotter, const std::string& key);
  absl::StatusOr<Mounts> PrepareSnapshot(const std::string& snapshotter, const std::string& key,
                                         const std::string& parent);
  absl::Status CommitSnapshot(const std::string& snapshotter, const std::string& name,
                              const std::string& key);
  absl::Status RemoveSnapshot(const std::string& snapshotter, const std::string& key);

  // Diff: applies a layer blob onto mounts; returns the digest of the uncompressed layer.
  absl::StatusOr<std::string> ApplyLayer(const Descriptor& layer, const Mounts& mounts);

  // Images. Delete with sync waits for the garbage collection of what the image held.
  absl::StatusOr<ImageRecord> GetImage(const std::string& name);
  absl::StatusOr<std::vector<ImageRecord>> ListImages();
  absl::StatusOr<ImageRecord> CreateImage(const std::string& name, const Descriptor& target);
  absl::StatusOr<ImageRecord> UpdateImageTarget(const std::string& name,
                                                const Descriptor& target);
  absl::Status DeleteImage(const std::string& name, bool sync);

 private:
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) const;

  const ContainerdConnection* connection_;
  std::string lease_;
  std::unique_ptr<containerd::services::content::v1::Content::Stub> content_;
  std::unique_ptr<containerd::services::images::v1::Images::Stub> images_;
  std::unique_ptr<containerd::services::leases::v1::Leases::Stub> leases_;
  std::unique_ptr<containerd::services::snapshots::v1::Snapshots::Stub> snapshots_;
  std::unique_ptr<containerd::services::diff::v1::Diff::Stub> diff_;
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_CONTAINERD_CLIENT_H_

// LocalRegistry: a real Debian docker-registry (distribution 2.8) that belongs to one test,
// listening on 127.0.0.1 at a free port, with its config, storage and (optionally) htpasswd
// file in a fresh /tmp directory; images are pushed into it with skopeo. Destroying it stops the
// registry and removes the directory, whether or not the test passed.
//
// LoopbackProxy: a small HTTP proxy in front of it (loopback too) that logs every request and
// can cut a blob's response off after some bytes, as a network that drops a connection would.
// Each connection is made Connection: close, so every request is one connection.
//
// Test-thread only, except that the proxy serves on threads of its own.
#ifndef SKIFF_TESTS_SUPPORT_LOCAL_REGISTRY_H_
#define SKIFF_TESTS_SUPPORT_LOCAL_REGISTRY_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "support/containerd_fixture.h"  // SKIFF_REQUIRE_NOTHING_MISSING

namespace skiff::testing {

// What `which` names is missing (docker-registry, skopeo, htpasswd), or "".
std::string MissingRegistryTools();

class LocalRegistry {
 public:
  struct Options {
    // With htpasswd basic auth for this user.
    std::string username;
    std::string password;
  };
  static absl::StatusOr<std::unique_ptr<LocalRegistry>> Start(const Options& options);
  ~LocalRegistry();
  LocalRegistry(const LocalRegistry&) = delete;
  LocalRegistry& operator=(const LocalRegistry&) = delete;

  // "127.0.0.1:PORT".
  std::string host() const;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

  // skopeo copy SOURCE (e.g. "oci-archive:/x.tar") docker://host()/DEST, with the options'
  // credentials and `extra` skopeo flags.
  absl::Status Push(const std::string& source, const std::string& dest,
                    const std::vector<std::string>& extra = {});
  // The file the registry serves a blob from.
  std::string BlobPath(const std::string& digest) const;

  absl::Status Stop();

 private:
  LocalRegistry() = default;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  Options options_;
};

class LoopbackProxy {
 public:
  // Forwards to 127.0.0.1:upstream_port.
  static absl::StatusOr<std::unique_ptr<LoopbackProxy>> Start(int upstream_port);
  ~LoopbackProxy();

  std::string host() const;
  // From now on, responses to GET .../blobs/<digest> end (the connection is closed) after
  // `bytes` bytes of body. "" cuts nothing.
  void CutBlob(const std::string& digest, int64_t bytes);
  // "GET /v2/... [Range: bytes=N-]" per request so far.
  std::vector<std::string> requests() const;
  void ClearRequests();

 private:
  LoopbackProxy() = default;
  void Serve();
  void Handle(int client);

  int listen_fd_ = -1;
  int port_ = 0;
  int upstream_port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable absl::Mutex mu_;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::string cut_digest_ ABSL_GUARDED_BY(mu_);
  int64_t cut_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
};

// Starts a LocalRegistry and a LoopbackProxy in front of it, what tests pull through. Declare
// *registry before *proxy, so the proxy goes first. On error neither is set.
absl::Status StartRegistryBehindProxy(const LocalRegistry::Options& options,
                                      std::unique_ptr<LocalRegistry>* registry,
                                      std::unique_ptr<LoopbackProxy>* proxy);

}  // namespace skiff::testing

// Put in a test's SetUp() after SKIFF_REQUIRE_ROOT_AND_CONTAINERD(): skips the test when
// docker-registry, skopeo or htpasswd is missing, except in CI, where that is a (fatal) failure.
#define SKIFF_REQUIRE_REGISTRY_TOOLS() \
  SKIFF_REQUIRE_NOTHING_MISSING(::skiff::testing::MissingRegistryTools())

#endif  // SKIFF_TESTS_SUPPORT_LOCAL_REGISTRY_H_

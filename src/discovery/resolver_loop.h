// Resolver::Loop, the event loop of skiff-dns (resolver.h): its state and the steps that the
// UDP side (resolver.cc) and the TCP side (resolver_tcp.cc) take on it. Private to
// src/discovery. Every member is the loop thread's, but for done_ (the TCP workers post their
// answers there) and stop_ (Stop(), from any thread).
#ifndef SKIFF_SRC_DISCOVERY_RESOLVER_LOOP_H_
#define SKIFF_SRC_DISCOVERY_RESOLVER_LOOP_H_

#include <netinet/in.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/discovery/resolver.h"
#include "skiff/discovery/responder.h"

namespace skiff::discovery {

// What an epoll event is about: the kind in the high half of its u64, the fd in the low half.
enum class Source : uint32_t { kUdp, kTcpListen, kTcpConn, kUpstream, kInotify, kWake };

inline uint64_t Tag(Source source, int fd) {
  return (static_cast<uint64_t>(source) << 32) | static_cast<uint32_t>(fd);
}

class Resolver::Loop {
 public:
  explicit Loop(ResolverOptions options) : options_(std::move(options)) {}
  ~Loop();

  absl::Status Open();
  absl::Status Run();
  void Stop();

 private:
  struct Pending {
    int client_fd;
    sockaddr_in client;
    uint16_t client_id;
    std::string query;  // With our id.
    size_t upstream;
    int attempt;
    absl::Time deadline;
  };
  struct Retry {
    absl::Time when;
    uint16_t id;
    int attempt;
    bool operator>(const Retry& other) const { return when > other.when; }
  };
  struct Connection {
    uint64_t serial;
    std::string in;
    std::string out;
    absl::Time last_active;
    int forwards = 0;
    uint32_t peer = 0;  // The client's IPv4 address, network byte order.
  };
  struct TcpDone {
    int fd;
    uint64_t serial;
    uint64_t worker;
    std::string wire;
  };

  absl::Status Watch(int fd, Source source, uint32_t events);
  absl::Status OpenUpstreams();
  absl::Status OpenWatch();
  void Reload();
  void Dispatch(const epoll_event& event);
  void ReadUdp(int fd);
  const Reply& AnswerUdp(absl::string_view query, uint32_t source);
  void ForwardUdp(int fd, const sockaddr_in& client, absl::string_view query);
  void SendToUpstream(uint16_t id, Pending& pending);
  void ReadUpstream();
  void ExpireForwards();
  void Accept(int listen_fd);
  void ReadTcp(int fd);
  void HandleTcpMessage(int fd, Connection& connection, absl::string_view message);
  void StartTcpForward(int fd, Connection& connection, std::string query);
  void FinishTcpForwards();
  void WriteTcp(int fd, Connection& connection, absl::string_view data);
  void FlushTcp(int fd, Connection& connection);
  void CloseTcp(int fd);
  void ExpireIdleConnections();
  void ReadInotify();
  int NextTimeoutMs() const;

  const ResolverOptions options_;
  RealClock clock_;
  SystemRandom random_;
  std::shared_ptr<const Responder> responder_;
  // Responses of responder_ by the query's bytes after its id (AnswerUdp); at most
  // kMaxCachedAnswers, emptied when full and on each reload.
  std::unordered_map<std::string, Reply> answers_;
  Reply uncached_;
  std::string nameserver_;  // The first listen address: what ns.<zone> resolves to.
  int epoll_ = -1;
  int wake_ = -1;  // eventfd: Stop() and finished TCP forwards.
  int inotify_ = -1;
  int upstream_fd_ = -1;
  std::vector<int> listeners_;
  std::vector<sockaddr_in> upstreams_;
  std::unordered_map<uint16_t, Pending> pending_;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<Retry>> retries_;
  std::unordered_map<int, Connection> connections_;
  uint64_t next_serial_ = 1;
  absl::Time next_idle_sweep_ = absl::InfinitePast();
  std::unordered_map<uint64_t, std::thread> workers_;
  absl::Mutex done_mu_;
  std::vector<TcpDone> done_ ABSL_GUARDED_BY(done_mu_);  // Written by the TCP workers.
  std::atomic<bool> stop_{false};
};

}  // namespace skiff::discovery

#endif  // SKIFF_SRC_DISCOVERY_RESOLVER_LOOP_H_

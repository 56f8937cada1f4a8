// Resolver: the server of skiff-dns, the node's DNS resolver (ADR 0014). It answers the zone
// from the records file skiffd publishes (Responder), reloads that file when it is replaced and
// keeps the last good version when a new one cannot be read, and forwards every other name to
// the upstream resolvers: over UDP with an id of its own per query, the next upstream after
// `upstream_attempt` without an answer and SERVFAIL after `forward_deadline`; over TCP from a
// bounded set of worker threads. Every table a client can grow has a bound.
//
// Create() binds every listen address (UDP and TCP) and reads the records; Run() is the event
// loop (epoll) and owns all state; it runs on the calling thread until Stop(), which any thread
// (a signal-waiting one) may call.
#ifndef SKIFF_DISCOVERY_RESOLVER_H_
#define SKIFF_DISCOVERY_RESOLVER_H_

#include <netinet/in.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace skiff::discovery {

inline constexpr int kMaxUpstreams = 3;

struct ResolverOptions {
  std::vector<std::string> listen;     // "ADDR:PORT", IPv4.
  std::string records_path;            // RecordsPath(dir); its directory must exist.
  std::vector<std::string> upstreams;  // "ADDR[:PORT]"; empty: /etc/resolv.conf's nameservers.
  std::string resolv_conf = "/etc/resolv.conf";
  // Docker's embedded resolver: the next of up to 3 upstreams after 1 s, SERVFAIL after 4 s.
  absl::Duration upstream_attempt = absl::Seconds(1);
  absl::Duration forward_deadline = absl::Seconds(4);
  size_t max_pending_forwards = 4096;  // UDP queries waiting for an upstream; beyond: SERVFAIL.
  size_t max_tcp_connections = 256;    // Beyond: a new connection is closed at once.
  size_t max_tcp_forwards = 64;        // Worker threads; beyond: REFUSED.
  absl::Duration tcp_idle_timeout = absl::Seconds(10);
};

class Resolver {
 public:
  // InvalidArgument for a malformed address, FailedPrecondition naming the address and errno
  // for one that cannot be bound, NotFound when the records' directory is missing.
  static absl::StatusOr<std::unique_ptr<Resolver>> Create(ResolverOptions options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The event loop, on the calling thread, until Stop(). Internal on an epoll failure.
  absl::Status Run();
  // Any thread; Run() returns soon after.
  void Stop();

  class Loop;

 private:
  explicit Resolver(std::unique_ptr<Loop> loop);
  std::unique_ptr<Loop> loop_;
};

// "ADDR" or "ADDR:PORT" (IPv4) as a socket address; `default_port` when there is no port.
// InvalidArgument saying what is wrong.
absl::StatusOr<sockaddr_in> ParseAddress(absl::string_view text, int default_port);

// The IPv4 nameservers of a resolv.conf text, in order, at most kMaxUpstreams, on port 53.
std::vector<std::string> ResolvConfNameservers(absl::string_view text);

}  // namespace skiff::discovery

#endif  // SKIFF_DISCOVERY_RESOLVER_H_

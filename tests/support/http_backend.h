// Loopback HTTP for the load-balancer tests and benchmark: HttpBackend is a tiny HTTP/1.1 server
// on 127.0.0.1 standing in for a task behind HAProxy, HttpGet a one-shot client, plus finding a
// free port and checking that HAProxy is installed.
//
// HttpBackend answers every request on its own connection and closes it (`Connection: close`),
// so a test knows that a connection HAProxy holds to it is a request in flight:
//   /health  the status SetHealthStatus() chose (200 at first), for HAProxy's check
//   /slow    200 with the backend's name after SetSlowDelay() (0 at first)
//   other    200 with the backend's name
// It counts requests, so a test can tell which backend got what. It serves on threads of its
// own; every method is thread-safe. Destroying it stops it: open connections are closed and
// waiting /slow requests are cut short.
#ifndef SKIFF_TESTS_SUPPORT_HTTP_BACKEND_H_
#define SKIFF_TESTS_SUPPORT_HTTP_BACKEND_H_

#include <atomic>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "support/loopback.h"  // IWYU pragma: export (PickFreeLoopbackPort)

namespace skiff::testing {

class HttpBackend {
 public:
  // Listens on 127.0.0.1 at a port the kernel picks.
  static absl::StatusOr<std::unique_ptr<HttpBackend>> Start(std::string name);
  ~HttpBackend();
  HttpBackend(const HttpBackend&) = delete;
  HttpBackend& operator=(const HttpBackend&) = delete;

  const std::string& name() const { return name_; }
  int port() const { return port_; }

  void SetHealthStatus(int status) { health_status_ = status; }
  void SetSlowDelay(absl::Duration delay);

  // Requests other than /health served so far (answered or in flight).
  int requests() const { return requests_; }
  int health_checks() const { return health_checks_; }
  // Connections accepted and not yet closed.
  int open_connections() const { return open_connections_; }

  // Blocks until `requests()` reaches `count` or `timeout` passes; whether it did.
  bool WaitForRequests(int count, absl::Duration timeout) const;

 private:
  HttpBackend(std::string name, int listen_fd, int stop_fd, int port);
  void AcceptLoop();
  void Serve(int fd);
  // Waits for `fd` to be readable; false when stopping or after `timeout`.
  bool WaitReadable(int fd, absl::Duration timeout) const;
  // Sleeps `delay`; false when the backend stopped meanwhile.
  bool SleepUnlessStopped(absl::Duration delay) const;

  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};  // Serve() returned; the thread can be joined.
  };

  const std::string name_;
  const int listen_fd_;
  const int stop_fd_;  // An eventfd, readable once the backend stops.
  const int port_;
  std::atomic<int> health_status_{200};
  std::atomic<int> requests_{0};
  std::atomic<int> health_checks_{0};
  std::atomic<int> open_connections_{0};
  mutable absl::Mutex mu_;
  absl::Duration slow_delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::list<Connection> connections_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
};

struct HttpResponse {
  int status = 0;
  std::string head;  // The status line and headers, as they came.
  std::string body;
  // The first value of header `name` (case-insensitive), "" when it is absent.
  std::string Header(absl::string_view name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string path = "/";  // With the query string, if any.
  std::string host = "127.0.0.1";
  std::vector<std::pair<std::string, std::string>> headers;  // Beyond Host and Connection.
};

// GET http://127.0.0.1:PORT/PATH with `Connection: close`; Unavailable when the connection fails
// or no whole answer comes within `timeout`.
absl::StatusOr<HttpResponse> HttpGet(int port, absl::string_view path,
                                     absl::Duration timeout = absl::Seconds(5));
// The same for any method, host and headers.
absl::StatusOr<HttpResponse> Http(int port, const HttpRequest& request,
                                  absl::Duration timeout = absl::Seconds(5));

// Where the tests find HAProxy (Debian's package).
inline constexpr char kHaproxyBinary[] = "/usr/sbin/haproxy";
// Empty when kHaproxyBinary can run; otherwise why not. For SKIFF_REQUIRE_NOTHING_MISSING.
std::string MissingHaproxy();

}  // namespace skiff::testing

#endif  // SKIFF_TESTS_SUPPORT_HTTP_BACKEND_H_

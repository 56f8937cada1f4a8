// The two HTTP loads of lb_bench (docs/benchmarks.md), on 127.0.0.1 only, each bounded in time
// and in requests:
// - RunWrk: one run of Debian's wrk (closed loop, keep-alive as the server allows), its latency
//   quantiles and rate parsed from wrk's --latency report;
// - PacedLoad: an open loop at a fixed rate (request i is due at start + i / rate), one
//   connection per request, that counts every answer other than 200 and every connection error,
//   for the failed-request scenarios.
// And a keep-alive target to compare with the tasks' (KeepAliveResponder).
// RunWrk may run on any thread. A PacedLoad is started and stopped on one thread; its senders
// are its own.
#ifndef SKIFF_BENCH_LB_LOAD_H_
#define SKIFF_BENCH_LB_LOAD_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace skiff::bench {

inline constexpr char kWrkBinary[] = "/usr/bin/wrk";

struct WrkResult {
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double requests_per_s = 0;
  int64_t requests = 0;
  // Socket errors (connect, read, write, timeout) and answers other than 2xx/3xx.
  int64_t errors = 0;
};

struct WrkOptions {
  int threads = 1;
  int connections = 8;
  absl::Duration duration = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(2);  // wrk's --timeout.
};

// `wrk -t T -c C -d Ds --timeout Ts --latency URL`; Internal when wrk fails or its report cannot
// be read, DeadlineExceeded when it runs 20 s past its duration.
absl::StatusOr<WrkResult> RunWrk(const std::string& url, const WrkOptions& options);
// The report of `wrk --latency`.
absl::StatusOr<WrkResult> ParseWrkReport(absl::string_view report);
// The argv RunWrk runs, for the tables' notes.
std::vector<std::string> WrkArgv(const std::string& url, const WrkOptions& options);

class PacedLoad {
 public:
  struct Options {
    int port = 0;  // GET http://127.0.0.1:port/path
    std::string path = "/";
    double rate = 200;  // Requests per second.
    int senders = 4;    // Threads; a slow answer delays only its own sender.
    int max_requests = 24000;
    absl::Duration max_duration = absl::Seconds(120);
    absl::Duration request_timeout = absl::Seconds(2);
  };
  struct Result {
    int sent = 0;
    int failed = 0;
    // Why requests failed ("HTTP 502", "connect: Connection refused", ...), with counts.
    std::map<std::string, int> failures;
    // From the time each request was due to its whole answer, so a late sender shows.
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
    absl::Duration ran;
  };

  explicit PacedLoad(Options options) : options_(std::move(options)) {}
  ~PacedLoad() { Stop(); }
  PacedLoad(const PacedLoad&) = delete;
  PacedLoad& operator=(const PacedLoad&) = delete;

  void Start();
  // Stops sending (requests in flight finish, within request_timeout) and returns the counts.
  // The load also ends by itself at max_requests or max_duration.
  Result Stop();

 private:
  void Send();
  void Record(absl::Duration latency, const std::string& failure);

  const Options options_;
  absl::Time start_;
  std::atomic<int> next_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> senders_;
  absl::Mutex mu_;
  std::vector<double> latencies_ms_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> failures_ ABSL_GUARDED_BY(mu_);
  Result result_;  // Filled by the first Stop().
};

// A keep-alive HTTP target on the host, for comparison with the busybox httpd tasks (a process
// per connection, Connection: close): a HAProxy of its own (`haproxy -db`, one thread) on
// 127.0.0.1 that answers every request itself, 200 with `body`. The config lives in a temp dir;
// destroying the object ends the process (SIGTERM, then SIGKILL) and removes the dir, and the
// process dies with the thread that started it. One thread.
class KeepAliveResponder {
 public:
  static absl::StatusOr<std::unique_ptr<KeepAliveResponder>> Start(const std::string& haproxy,
                                                                   const std::string& body);
  ~KeepAliveResponder();
  KeepAliveResponder(const KeepAliveResponder&) = delete;
  KeepAliveResponder& operator=(const KeepAliveResponder&) = delete;

  int port() const { return port_; }

 private:
  KeepAliveResponder(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}

  const std::string dir_;
  const int port_;
  pid_t pid_ = -1;
};

}  // namespace skiff::bench

#endif  // SKIFF_BENCH_LB_LOAD_H_

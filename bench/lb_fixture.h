// LbFixture: what lb_bench's scenarios drive on a BenchHarness's skiffd, as a user would: the
// skiff CLI (its JSON output parsed), one load balancer with target groups and listeners on
// 127.0.0.1 (SkiffdProcess starts skiffd with --lb-address 127.0.0.1), targets of this node
// (`instance` targets: its container instance id and a host port) and their health, and web
// tasks to put behind them: busybox httpd in a bridge task, a process per connection,
// Connection: close.
//
// It makes nothing that the harness does not remove: every task, group and listener goes with
// skiffd's state dir, its HAProxy and the private containerd. Every wait is bounded. Main thread
// only; the harness outlives it.
#ifndef SKIFF_BENCH_LB_FIXTURE_H_
#define SKIFF_BENCH_LB_FIXTURE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness.h"
#include "nlohmann/json.hpp"

namespace skiff::bench {

// ALB's health check interval, seconds.
inline constexpr int kAlbInterval = 30;

// A running web task: its ARN and host port.
struct WebTask {
  std::string arn;
  int port = 0;
};

class LbFixture {
 public:
  // The container of every web task definition, and its port.
  static constexpr char kContainer[] = "web";
  static constexpr int kContainerPort = 80;
  static constexpr absl::Duration kStateTimeout = absl::Seconds(120);

  // Creates the load balancer and finds the node's container instance id.
  static absl::StatusOr<std::unique_ptr<LbFixture>> Create(BenchHarness* harness);

  // `skiff args...`, its JSON output ({} when it prints nothing).
  absl::StatusOr<nlohmann::json> Cli(const std::vector<std::string>& args) const;

  // Registers `family` (a new revision when it exists): a bridge task whose container serves
  // `body` on / and "ok" on /health with busybox httpd on port 80, host port 0, and exits at
  // SIGTERM (the shell that is pid 1 traps it), as an app that stops cleanly does.
  absl::Status RegisterWeb(const std::string& family, const std::string& body);
  // Runs a task of `family`; returns once it is RUNNING and answers `body` on its host port.
  absl::StatusOr<WebTask> RunWeb(const std::string& family, const std::string& body);

  // An HTTP group of instance targets checking /health every `interval` seconds: at ALB's
  // defaults (timeout 5 s, thresholds 5 and 2) for kAlbInterval, else with a 2 s timeout. Its
  // deregistration delay is the default, 300 s. Returns its ARN.
  absl::StatusOr<std::string> CreateGroup(const std::string& name, int interval);
  // An HTTP listener on a free loopback port forwarding to `group`; its port.
  absl::StatusOr<int> Listen(const std::string& group);
  // `op` is "register-targets" or "deregister-targets": this node's host ports in `group`.
  absl::Status Targets(const std::string& op, const std::string& group,
                       const std::vector<int>& ports);
  // describe-target-health: each target's state, by port.
  absl::StatusOr<std::map<int, std::string>> Health(const std::string& group);
  // Polls Health until `done` holds (every 100 ms, kStateTimeout); DeadlineExceeded with `what`
  // and the states last seen.
  absl::Status WaitForHealth(const std::string& group,
                             const std::function<bool(const std::map<int, std::string>&)>& done,
                             const std::string& what);
  // Until the group has exactly `count` targets and every one is healthy.
  absl::Status WaitForHealthy(const std::string& group, int count);
  // One GET / on 127.0.0.1:port: OK when it answers 200 with `body`, else FailedPrecondition
  // with what came back (another daemon's task behind the same host port, say).
  absl::Status CheckAnswer(int port, const std::string& body);
  // Until CheckAnswer passes (30 s); its last error.
  absl::Status WaitForAnswer(int port, const std::string& body);

 private:
  explicit LbFixture(BenchHarness* harness) : harness_(harness) {}
  absl::Status FindInstanceId();

  BenchHarness* const harness_;
  std::string instance_id_;  // The node's container instance id, which instance targets name.
  std::string load_balancer_;
};

// The string at JSON pointer `at` in `j`, Internal when there is none.
absl::StatusOr<std::string> StringAt(const nlohmann::json& j, const std::string& at);

}  // namespace skiff::bench

#endif  // SKIFF_BENCH_LB_FIXTURE_H_

// lb_bench: the load balancer of issue 18 in front of real tasks, through a real skiffd and its
// HAProxy on a private containerd, in one run. Listeners bind 127.0.0.1 and every request stays
// on loopback. Three scenarios (--scenarios picks some), each printing its table:
//
// latency        wrk against a busybox httpd task's host port, and the same wrk through a
//                listener whose target group holds that task (register-targets), in runs that
//                alternate which goes first: p50/p90/p99 and requests/s, the medians over the
//                runs, the p50 overhead and the throughput ratio (goals: <= 0.2 ms, >= 80%).
//                httpd answers each connection in a process of its own and closes it, so the
//                same is measured against a keep-alive target on the host too (a HAProxy of the
//                bench's that answers every request itself: KeepAliveResponder).
// first-request  a target whose app already answers is registered in a group that forwards to
//                another task answering another body; the time from register-targets returning
//                to the first request the new target answers through the listener (goal: p99
//                <= 500 ms; ALB waits for its first check, 30 s).
// ecs            a service of 4 tasks behind the listener (loadBalancers), min 100 / max 200,
//                the default 300 s deregistration delay, under a paced load of 200 requests/s:
//                failed requests during a stop-task, rolling deployments and a scale-in 4 -> 2
//                (goal: 0), and each deployment's update-service -> services-stable (< 30 s),
//                and -> settled (the old tasks STOPPED, the group exactly the new targets).
//
// Every task runs busybox `httpd -f` under a shell that exits at SIGTERM (bridge network, host
// port 0; LbFixture). Every wait and load is bounded in time and count. skiffd, its HAProxy, the
// private containerd and everything in them are removed on exit, failure and Ctrl-C included.
//
// Run as root: build/bin/lb_bench [flags] (--help). See docs/benchmarks.md. Main thread only,
// apart from the load's senders.
#include <unistd.h>

#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "harness.h"
#include "lb_fixture.h"
#include "lb_load.h"
#include "machine.h"
#include "nlohmann/json.hpp"
#include "skiff/base/status_macros.h"
#include "support/http_backend.h"

namespace skiff::bench {
namespace {

using json = nlohmann::json;

constexpr char kService[] = "web";
constexpr char kServiceFamily[] = "svc";
constexpr int kServiceTasks = 4;
// The latency group's: the target is healthy sooner, and the number is not measured there.
constexpr int kLatencyInterval = 5;
constexpr absl::Duration kStateTimeout = LbFixture::kStateTimeout;
// A CLI call's bound; `skiff wait services-stable` gets kWaitSeconds.
constexpr absl::Duration kCommandTimeout = absl::Seconds(300);
constexpr int kWaitSeconds = 240;
// Load before and after each event of the ecs scenario.
constexpr absl::Duration kQuietLoad = absl::Seconds(1);

const std::set<std::string> kScenarios = {"latency", "first-request", "ecs"};

struct Options {
  int runs = 3;
  int seconds = 5;
  std::vector<int> connections = {1, 8};
  int samples = 20;
  // Health check interval of the first-request and ecs groups, seconds.
  int interval = kAlbInterval;
  int rate = 200;
  int deployments = 3;
  std::set<std::string> scenarios = kScenarios;
};

void Usage(std::ostream& out) {
  out << "usage: lb_bench [--scenarios latency,first-request,ecs] [--runs N] [--seconds S]\n"
         "                [--connections 1,8] [--samples N] [--interval S] [--rate R]\n"
         "                [--deployments N]\n"
         "  --runs N         latency: wrk runs per target and concurrency (default 3)\n"
         "  --seconds S      latency: each wrk run's duration (default 5)\n"
         "  --connections L  latency: wrk's -c, one table row pair each (default 1,8)\n"
         "  --samples N      first-request: registrations timed (default 20)\n"
         "  --interval S     health check interval of the first-request and ecs target\n"
         "                   groups (default 30, ALB's; 5 to 300)\n"
         "  --rate R         ecs: requests per second through the listener (default 200)\n"
         "  --deployments N  ecs: rolling deployments timed (default 3)\n"
         "Needs root, containerd, ctr, runc, haproxy and wrk. Loopback only.\n";
}

// A comma-separated list of ints within [min, max].
bool ParseInts(const std::string& text, int min, int max, std::vector<int>& out) {
  out.clear();
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < min || n > max) return false;
    out.push_back(n);
  }
  return !out.empty();
}

bool ParseScenarios(const std::string& text, std::set<std::string>& out) {
  out.clear();
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    if (!kScenarios.count(std::string(part))) return false;
    out.insert(std::string(part));
  }
  return !out.empty();
}

// Returns 0 to go on, -1 after --help, else the exit code.
int ParseArgs(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    auto number = [&](int& out, int min, int max) {
      return absl::SimpleAtoi(value, &out) && out >= min && out <= max && (++i, true);
    };
    if (arg == "--help" || arg == "-h") {
      Usage(std::cout);
      return -1;
    }
    if ((arg == "--runs" && number(o.runs, 1, 20)) ||
        (arg == "--seconds" && number(o.seconds, 1, 60)) ||
        (arg == "--samples" && number(o.samples, 1, 200)) ||
        (arg == "--interval" && number(o.interval, 5, 300)) ||
        (arg == "--rate" && number(o.rate, 1, 2000)) ||
        (arg == "--deployments" && number(o.deployments, 1, 10)) ||
        (arg == "--connections" && ParseInts(value, 1, 256, o.connections) && ++i) ||
        (arg == "--scenarios" && ParseScenarios(value, o.scenarios) && ++i)) {
      continue;
    }
    std::cerr << "lb_bench: bad argument " << arg << "\n";
    Usage(std::cerr);
    return 2;
  }
  return 0;
}

std::string Verdict(bool met) { return met ? "met" : "NOT met"; }

// The medians over the runs of one wrk target at one concurrency.
struct WrkRow {
  std::string name;
  std::vector<WrkResult> runs;
  double Median(double WrkResult::*field) const;
  int64_t Errors() const;
};

double WrkRow::Median(double WrkResult::*field) const {
  Row row;
  for (const WrkResult& r : runs) row.samples.push_back(r.*field);
  return row.Median();
}

int64_t WrkRow::Errors() const {
  int64_t errors = 0;
  for (const WrkResult& r : runs) errors += r.errors;
  return errors;
}

// The two times of one event of the ecs scenario, from the command that makes it (stop-task,
// update-service): until `skiff wait services-stable` returns, and until the service has
// settled: every task it no longer runs STOPPED and the group holds exactly its running tasks'
// targets, all healthy.
struct EventTimes {
  absl::Duration stable;
  absl::Duration settled;
};

// One event of the ecs scenario under load.
struct LoadCase {
  std::string name;
  PacedLoad::Result load;
  EventTimes times;
};

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)) {}
  ~Bench() { Shutdown(); }

  absl::Status Setup();
  absl::Status Run();
  void Shutdown() {
    lb_.reset();
    harness_.reset();
  }

 private:
  // latency
  absl::Status Latency();
  absl::Status LatencyRuns(int direct_port, int listener_port, const std::string& body,
                           int connections, WrkRow& direct, WrkRow& listener);
  absl::StatusOr<int> Front(const std::string& name, int port, const std::string& body);
  void PrintLatency(const std::vector<std::pair<WrkRow, WrkRow>>& rows, int task_port,
                    int keep_alive_port);

  // first-request
  absl::Status FirstRequest();
  absl::StatusOr<double> TimeFirstRequest(const std::string& group, int listener, int port);
  void PrintFirstRequest(const Row& row);

  // ecs
  absl::Status Ecs();
  absl::Status CreateService(const std::string& group);
  absl::StatusOr<LoadCase> UnderLoad(const std::string& name,
                                     const std::function<absl::StatusOr<EventTimes>()>& event);
  absl::StatusOr<EventTimes> StopOneTask(const std::string& group);
  absl::StatusOr<EventTimes> Change(const std::string& group, const std::vector<std::string>& cli,
                                    int count);
  absl::StatusOr<std::set<std::string>> RunningTasks();
  absl::Status WaitStable();
  void PrintEcs(const std::vector<LoadCase>& cases);

  e2e::EcsClient& client() { return harness_->client(); }
  LbFixture& lb() { return *lb_; }

  Options options_;
  std::unique_ptr<BenchHarness> harness_;
  std::unique_ptr<LbFixture> lb_;  // On harness_: destroyed first.
  int ecs_listener_ = 0;
};

absl::Status Bench::Setup() {
  if (std::string missing = skiff::testing::MissingHaproxy(); !missing.empty()) {
    return absl::FailedPreconditionError(missing);
  }
  if (access(kWrkBinary, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kWrkBinary, " missing (apt-get install wrk)"));
  }
  BenchHarness::Options harness;
  harness.name = "lb_bench";
  harness.skiff_ns_prefix = "lbbench";
  harness.import_for_ctr = false;
  harness.command_timeout = kCommandTimeout;
  SKIFF_ASSIGN_OR_RETURN(harness_, BenchHarness::Start(harness));
  SKIFF_ASSIGN_OR_RETURN(lb_, LbFixture::Create(harness_.get()));
  for (const char* family : {"lat", "old", "new"}) {
    SKIFF_RETURN_IF_ERROR(lb().RegisterWeb(family, family));
  }
  // Revision r of the service answers "svc-r".
  for (int r = 1; r <= options_.deployments + 1; ++r) {
    SKIFF_RETURN_IF_ERROR(lb().RegisterWeb(kServiceFamily, absl::StrCat("svc-", r)));
  }
  return absl::OkStatus();
}

// --- latency ---

absl::Status Bench::Latency() {
  SKIFF_ASSIGN_OR_RETURN(WebTask task, lb().RunWeb("lat", "lat"));
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<KeepAliveResponder> keep_alive,
                         KeepAliveResponder::Start(skiff::testing::kHaproxyBinary, "ka"));
  SKIFF_ASSIGN_OR_RETURN(int task_listener, Front("latency", task.port, "lat"));
  SKIFF_ASSIGN_OR_RETURN(int ka_listener, Front("latency-ka", keep_alive->port(), "ka"));
  // What each target is called in the table, its port, its listener's, and what it answers.
  const std::vector<std::tuple<std::string, int, int, std::string>> targets = {
      {"task", task.port, task_listener, "lat"},
      {"keep-alive", keep_alive->port(), ka_listener, "ka"}};
  // Warm-up, not counted: a second of each.
  for (const auto& [name, port, listener, body] : targets) {
    for (int p : {port, listener}) {
      SKIFF_RETURN_IF_ERROR(
          RunWrk(absl::StrCat("http://127.0.0.1:", p, "/"), {.duration = absl::Seconds(1)})
              .status());
    }
  }
  std::vector<std::pair<WrkRow, WrkRow>> rows;
  for (const auto& [name, port, listener, body] : targets) {
    for (int c : options_.connections) {
      WrkRow direct{.name = absl::StrCat(name, " c=", c, " direct")};
      WrkRow through{.name = absl::StrCat(name, " c=", c, " listener")};
      SKIFF_RETURN_IF_ERROR(LatencyRuns(port, listener, body, c, direct, through));
      rows.emplace_back(std::move(direct), std::move(through));
    }
  }
  PrintLatency(rows, task.port, keep_alive->port());
  return absl::OkStatus();
}

// A target group of the target on `port` (which answers `body`) behind a listener of its own;
// the listener's port once the target answers through it.
absl::StatusOr<int> Bench::Front(const std::string& name, int port, const std::string& body) {
  SKIFF_ASSIGN_OR_RETURN(std::string group, lb().CreateGroup(name, kLatencyInterval));
  SKIFF_ASSIGN_OR_RETURN(int listener, lb().Listen(group));
  SKIFF_RETURN_IF_ERROR(lb().Targets("register-targets", group, {port}));
  SKIFF_RETURN_IF_ERROR(lb().WaitForHealthy(group, 1));
  SKIFF_RETURN_IF_ERROR(lb().WaitForAnswer(listener, body));
  return listener;
}

// options_.runs runs of wrk on each port, alternating which goes first. Each run is followed by
// a GET that must answer `body`: wrk counts any 200, whoever sent it.
absl::Status Bench::LatencyRuns(int direct_port, int listener_port, const std::string& body,
                                int connections, WrkRow& direct, WrkRow& listener) {
  const WrkOptions wrk{.connections = connections, .duration = absl::Seconds(options_.seconds)};
  for (int run = 0; run < options_.runs; ++run) {
    for (int part = 0; part < 2; ++part) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      const bool direct_turn = (part == 0) == (run % 2 == 0);
      const int port = direct_turn ? direct_port : listener_port;
      SKIFF_ASSIGN_OR_RETURN(WrkResult r,
                             RunWrk(absl::StrCat("http://127.0.0.1:", port, "/"), wrk));
      SKIFF_RETURN_IF_ERROR(lb().CheckAnswer(port, body));
      WrkRow& row = direct_turn ? direct : listener;
      row.runs.push_back(r);
      std::cout << absl::StrFormat(
                       "  run %d %-32s p50 %.3f p90 %.3f p99 %.3f ms, %.0f req/s, %d errors\n",
                       run + 1, row.name, r.p50_ms, r.p90_ms, r.p99_ms, r.requests_per_s, r.errors)
                << std::flush;
    }
  }
  return absl::OkStatus();
}

void Bench::PrintLatency(const std::vector<std::pair<WrkRow, WrkRow>>& rows, int task_port,
                         int keep_alive_port) {
  std::cout << "\nAdded latency: wrk straight to a target and through a listener, " << options_.runs
            << " runs\nof each row alternating, medians\n"
            << "task:       busybox httpd in a task (bridge, host port " << task_port
            << "),\n            a process per connection, Connection: close\n"
            << "keep-alive: HAProxy on the host (port " << keep_alive_port
            << ", one thread) answering itself\n";
  for (int c : options_.connections) {
    const WrkOptions wrk{.connections = c, .duration = absl::Seconds(options_.seconds)};
    std::cout << "  " << absl::StrJoin(WrkArgv("http://127.0.0.1:PORT/", wrk), " ") << "\n";
  }
  std::cout << absl::StrFormat("%-34s %8s %8s %8s %9s %7s\n", "", "p50 ms", "p90 ms", "p99 ms",
                               "req/s", "errors");
  auto print = [](const WrkRow& row) {
    std::cout << absl::StrFormat("%-34s %8.3f %8.3f %8.3f %9.0f %7d\n", row.name,
                                 row.Median(&WrkResult::p50_ms), row.Median(&WrkResult::p90_ms),
                                 row.Median(&WrkResult::p99_ms),
                                 row.Median(&WrkResult::requests_per_s), row.Errors());
  };
  for (const auto& [direct, listener] : rows) {
    print(direct);
    print(listener);
    const double overhead = listener.Median(&WrkResult::p50_ms) - direct.Median(&WrkResult::p50_ms);
    const double ratio =
        listener.Median(&WrkResult::requests_per_s) / direct.Median(&WrkResult::requests_per_s);
    std::string per_run;
    for (size_t i = 0; i < direct.runs.size() && i < listener.runs.size(); ++i) {
      absl::StrAppendFormat(&per_run, "%s%+.3f/%.2f", i == 0 ? "" : ", ",
                            listener.runs[i].p50_ms - direct.runs[i].p50_ms,
                            listener.runs[i].requests_per_s / direct.runs[i].requests_per_s);
    }
    std::cout << absl::StrFormat(
        "  p50 overhead %+.3f ms (goal <= 0.2: %s); throughput %.2f of direct (goal >= 0.8: "
        "%s)\n  per run (overhead/ratio): %s\n",
        overhead, Verdict(overhead <= 0.2), ratio, Verdict(ratio >= 0.8), per_run);
  }
  std::cout << "At c > 1 wrk keeps the target saturated: p50 is then mostly queueing (about c / "
               "rate), so the\np50 goal reads at c=1 and the throughput goal at the largest c.\n"
               "Noisy machine: compare rows of the same run only.\n\n"
            << std::flush;
}

// --- first-request ---

absl::Status Bench::FirstRequest() {
  SKIFF_ASSIGN_OR_RETURN(WebTask old_task, lb().RunWeb("old", "old"));
  // Two tasks answering "new", registered in turn, so that each sample's target has had a whole
  // sample's time to leave HAProxy before it comes back.
  std::vector<int> fresh;
  for (int i = 0; i < 2; ++i) {
    SKIFF_ASSIGN_OR_RETURN(WebTask t, lb().RunWeb("new", "new"));
    fresh.push_back(t.port);
  }
  SKIFF_ASSIGN_OR_RETURN(std::string group, lb().CreateGroup("first", options_.interval));
  SKIFF_ASSIGN_OR_RETURN(int listener, lb().Listen(group));
  SKIFF_RETURN_IF_ERROR(lb().Targets("register-targets", group, {old_task.port}));
  SKIFF_RETURN_IF_ERROR(lb().WaitForHealthy(group, 1));
  SKIFF_RETURN_IF_ERROR(lb().WaitForAnswer(listener, "old"));
  Row row{.name = "register-targets -> first answer, ms"};
  for (int i = 0; i < options_.samples; ++i) {
    if (Interrupted()) return absl::CancelledError("interrupted");
    SKIFF_ASSIGN_OR_RETURN(double ms, TimeFirstRequest(group, listener, fresh[i % 2]));
    row.samples.push_back(ms);
    std::cout << absl::StrFormat("  sample %d: %.1f ms\n", i + 1, ms) << std::flush;
  }
  PrintFirstRequest(row);
  return absl::OkStatus();
}

// Registers the target on `port` and polls the listener (a GET every millisecond or so, bounded)
// until that target answers; then, untimed, deregisters it and waits until it is gone.
absl::StatusOr<double> Bench::TimeFirstRequest(const std::string& group, int listener, int port) {
  constexpr int kMaxPolls = 100000;
  SKIFF_RETURN_IF_ERROR(lb().Targets("register-targets", group, {port}));
  const absl::Time registered = absl::Now();
  const absl::Time deadline = registered + absl::Seconds(2 * options_.interval + 30);
  absl::Time answered = absl::InfiniteFuture();
  for (int polls = 0; polls < kMaxPolls && absl::Now() < deadline && !Interrupted(); ++polls) {
    absl::StatusOr<skiff::testing::HttpResponse> r =
        skiff::testing::HttpGet(listener, "/", absl::Seconds(2));
    if (r.ok() && r->status == 200 && absl::StripAsciiWhitespace(r->body) == "new") {
      answered = absl::Now();
      break;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (answered == absl::InfiniteFuture()) {
    return absl::DeadlineExceededError(
        absl::StrCat("the target on port ", port, " never answered through the listener"));
  }
  SKIFF_RETURN_IF_ERROR(lb().Targets("deregister-targets", group, {port}));
  SKIFF_RETURN_IF_ERROR(lb().WaitForHealth(
      group, [port](const std::map<int, std::string>& s) { return !s.count(port); },
      absl::StrCat("dropped the target on port ", port)));
  return absl::ToDoubleMilliseconds(answered - registered);
}

void Bench::PrintFirstRequest(const Row& row) {
  std::cout << "\nA registered target to its first proxied request: group interval "
            << options_.interval << " s"
            << (options_.interval == kAlbInterval ? " (ALB's defaults)" : ", timeout 2 s")
            << ";\nthe app answers before register-targets; GET / through the listener about "
               "every millisecond\n(the group's other target answers another body)\n";
  std::cout << absl::StrFormat("%-40s %4s %9s %9s %9s %9s\n", "", "n", "median", "p90", "p99",
                               "max");
  const double p99 = row.Quantile(0.99);
  std::cout << absl::StrFormat("%-40s %4d %9.1f %9.1f %9.1f %9.1f\n", row.name, row.samples.size(),
                               row.Median(), row.Quantile(0.9), p99, row.Max());
  std::cout << absl::StrFormat(
      "p99 %.1f ms (goal <= 500 ms: %s; ALB: one check, %d s after registration)\n\n", p99,
      Verdict(p99 <= 500), options_.interval);
  std::cout << std::flush;
}

// --- ecs ---

absl::Status Bench::Ecs() {
  SKIFF_ASSIGN_OR_RETURN(std::string group, lb().CreateGroup("svc", options_.interval));
  SKIFF_ASSIGN_OR_RETURN(ecs_listener_, lb().Listen(group));
  SKIFF_RETURN_IF_ERROR(CreateService(group));
  std::vector<LoadCase> cases;
  auto run = [&](const std::string& name,
                 const std::function<absl::StatusOr<EventTimes>()>& event) {
    absl::StatusOr<LoadCase> c = UnderLoad(name, event);
    if (c.ok()) cases.push_back(*std::move(c));
    return c.status();
  };
  absl::Status s =
      run(absl::StrCat("stop-task (1 of ", kServiceTasks, ")"), [&] { return StopOneTask(group); });
  for (int to = 2; s.ok() && to <= options_.deployments + 1; ++to) {
    s = run(absl::StrCat("rolling deployment ", to - 1, " -> ", to), [&] {
      return Change(group,
                    {"update-service", "--service", kService, "--task-definition",
                     absl::StrCat(kServiceFamily, ":", to)},
                    kServiceTasks);
    });
    // Every answer from the new revision now.
    if (s.ok()) s = lb().WaitForAnswer(ecs_listener_, absl::StrCat("svc-", to));
  }
  if (s.ok()) {
    s = run(absl::StrCat("scale-in ", kServiceTasks, " -> 2"), [&] {
      return Change(group, {"update-service", "--service", kService, "--desired-count", "2"}, 2);
    });
  }
  PrintEcs(cases);  // What was measured, also when a later case failed.
  return s;
}

absl::Status Bench::CreateService(const std::string& group) {
  const json balancers = json::array({{{"targetGroupArn", group},
                                       {"containerName", LbFixture::kContainer},
                                       {"containerPort", LbFixture::kContainerPort}}});
  const json deployment = {{"minimumHealthyPercent", 100}, {"maximumPercent", 200}};
  SKIFF_RETURN_IF_ERROR(lb().Cli({"create-service", "--service-name", kService, "--task-definition",
                                  absl::StrCat(kServiceFamily, ":1"), "--desired-count",
                                  absl::StrCat(kServiceTasks), "--deployment-configuration",
                                  deployment.dump(), "--load-balancers", balancers.dump()})
                            .status());
  SKIFF_RETURN_IF_ERROR(WaitStable());
  if (absl::Status s = lb().WaitForHealthy(group, kServiceTasks); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the service's tasks did not become the group's healthy targets (does this skiffd "
        "register service tasks as targets?): ",
        s.message()));
  }
  return lb().WaitForAnswer(ecs_listener_, "svc-1");
}

absl::Status Bench::WaitStable() {
  return lb()
      .Cli({"wait", "services-stable", "--services", kService, "--timeout",
            absl::StrCat(kWaitSeconds)})
      .status();
}

// The paced load through the service's listener for kQuietLoad, `event`, kQuietLoad more.
absl::StatusOr<LoadCase> Bench::UnderLoad(
    const std::string& name, const std::function<absl::StatusOr<EventTimes>()>& event) {
  const absl::Duration bound = absl::Seconds(2 * kWaitSeconds + 60);
  PacedLoad load({.port = ecs_listener_,
                  .rate = static_cast<double>(options_.rate),
                  .max_requests = static_cast<int>(options_.rate * absl::ToInt64Seconds(bound)),
                  .max_duration = bound});
  load.Start();
  absl::SleepFor(kQuietLoad);
  absl::StatusOr<EventTimes> times = event();
  if (times.ok()) absl::SleepFor(kQuietLoad);
  LoadCase c{.name = name, .load = load.Stop()};
  if (!times.ok()) return times.status();
  if (c.load.ran >= bound) {
    return absl::DeadlineExceededError(absl::StrCat(name, ": the load ended at its bound first"));
  }
  c.times = *times;
  std::cout << absl::StrFormat("  %s: stable %.2f s, settled %.2f s, %d requests, %d failed\n",
                               name, absl::ToDoubleSeconds(c.times.stable),
                               absl::ToDoubleSeconds(c.times.settled), c.load.sent, c.load.failed)
            << std::flush;
  return c;
}

absl::StatusOr<EventTimes> Bench::StopOneTask(const std::string& group) {
  SKIFF_ASSIGN_OR_RETURN(std::set<std::string> running, RunningTasks());
  if (running.empty()) return absl::InternalError("the service has no RUNNING task");
  return Change(group, {"stop-task", "--task", *running.begin()}, kServiceTasks);
}

// Runs `skiff cli...` and times it to services-stable, then to settled with `count` tasks
// (EventTimes): the tasks that left stop within the load.
absl::StatusOr<EventTimes> Bench::Change(const std::string& group,
                                         const std::vector<std::string>& cli, int count) {
  SKIFF_ASSIGN_OR_RETURN(std::set<std::string> before, RunningTasks());
  const absl::Time start = absl::Now();
  SKIFF_RETURN_IF_ERROR(lb().Cli(cli).status());
  SKIFF_RETURN_IF_ERROR(WaitStable());
  EventTimes times{.stable = absl::Now() - start};
  SKIFF_ASSIGN_OR_RETURN(std::set<std::string> after, RunningTasks());
  for (const std::string& arn : before) {
    if (after.count(arn)) continue;
    SKIFF_RETURN_IF_ERROR(client()
                              .WaitForTask(
                                  arn,
                                  [](const v1::Task& t) { return t.last_status() == "STOPPED"; },
                                  "STOPPED", kStateTimeout)
                              .status());
  }
  SKIFF_RETURN_IF_ERROR(lb().WaitForHealthy(group, count));
  times.settled = absl::Now() - start;
  return times;
}

// The ARNs of the service's tasks that are meant to run (desiredStatus RUNNING).
absl::StatusOr<std::set<std::string>> Bench::RunningTasks() {
  SKIFF_ASSIGN_OR_RETURN(std::vector<v1::Task> tasks, client().ServiceTasks(kService, "RUNNING"));
  std::set<std::string> arns;
  for (const v1::Task& t : tasks) arns.insert(t.task_arn());
  return arns;
}

void Bench::PrintEcs(const std::vector<LoadCase>& cases) {
  std::cout << "\nFailed requests through the listener: a service of " << kServiceTasks
            << " tasks (min 100 / max 200,\nloadBalancers), group interval " << options_.interval
            << " s, deregistration delay 300 s (the default);\nGET / at " << options_.rate
            << "/s, a connection each, 2 s timeout, " << absl::ToInt64Seconds(kQuietLoad)
            << " s before and after each event\n";
  std::cout << absl::StrFormat("%-28s %8s %6s %8s %9s %7s %7s %7s\n", "case", "requests", "failed",
                               "stable s", "settled s", "p50 ms", "p99 ms", "max ms");
  Row stable{.name = "deployments, stable"}, settled{.name = "deployments, settled"};
  int failed = 0;
  std::string why;
  for (const LoadCase& c : cases) {
    std::cout << absl::StrFormat("%-28s %8d %6d %8.2f %9.2f %7.2f %7.2f %7.1f\n", c.name,
                                 c.load.sent, c.load.failed, absl::ToDoubleSeconds(c.times.stable),
                                 absl::ToDoubleSeconds(c.times.settled), c.load.p50_ms,
                                 c.load.p99_ms, c.load.max_ms);
    failed += c.load.failed;
    for (const auto& [reason, n] : c.load.failures) {
      absl::StrAppend(&why, "  ", c.name, ": ", n, " x ", reason, "\n");
    }
    if (absl::StartsWith(c.name, "rolling")) {
      stable.samples.push_back(absl::ToDoubleSeconds(c.times.stable));
      settled.samples.push_back(absl::ToDoubleSeconds(c.times.settled));
    }
  }
  std::cout << "stable s: stop-task or update-service -> `skiff wait services-stable` returns\n"
               "settled s: -> every task that left STOPPED, and the group's targets exactly the\n"
               "          running tasks', all healthy\n"
            << (why.empty() ? "" : "failures:\n" + why);
  std::cout << absl::StrFormat("failed requests, all cases: %d (goal 0: %s)\n", failed,
                               Verdict(failed == 0));
  if (!stable.samples.empty()) {
    std::cout << absl::StrFormat(
        "rolling deployments of %d tasks, update-service -> stable: median %.2f s, max %.2f s\n"
        "  (goal < 30 s: %s); -> settled: median %.2f s, max %.2f s\n",
        kServiceTasks, stable.Median(), stable.Max(), Verdict(stable.Max() < 30), settled.Median(),
        settled.Max());
  }
  std::cout << "\n" << std::flush;
}

// --- the run ---

std::string FirstLine(const std::vector<std::string>& argv) {
  absl::StatusOr<skiff::testing::CommandResult> r =
      skiff::testing::RunCommand(argv, absl::Seconds(10));
  if (!r.ok()) return "?";
  const std::string& text = r->stdout_text.empty() ? r->stderr_text : r->stdout_text;
  return std::string(absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
}

absl::Status Bench::Run() {
  harness_->PrintMachine({{"haproxy", FirstLine({skiff::testing::kHaproxyBinary, "-v"})},
                          {"wrk", FirstLine({kWrkBinary, "-v"})}});
  const absl::Time began = absl::Now();
  const std::vector<std::pair<std::string, absl::Status (Bench::*)()>> scenarios = {
      {"latency", &Bench::Latency}, {"first-request", &Bench::FirstRequest}, {"ecs", &Bench::Ecs}};
  for (const auto& [name, scenario] : scenarios) {
    if (!options_.scenarios.count(name)) continue;
    if (Interrupted()) return absl::CancelledError("interrupted");
    std::cout << "== " << name << "\n" << std::flush;
    SKIFF_RETURN_IF_ERROR((this->*scenario)());
  }
  std::cout << "took " << absl::FormatDuration(absl::Trunc(absl::Now() - began, absl::Seconds(1)))
            << " (setup excluded); load (1m) at the end: " << LoadAverage() << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) {
  skiff::bench::Options options;
  if (int code = skiff::bench::ParseArgs(argc, argv, options); code != 0) {
    return code < 0 ? 0 : code;
  }
  skiff::bench::Bench bench(std::move(options));
  return skiff::bench::SetUpRunAndShutDown("lb_bench", bench);
}

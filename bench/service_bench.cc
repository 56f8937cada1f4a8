// service_bench: services through skiffd on a private containerd, against plain `ctr`, in one run.
//
// (a) scale-out: the time from CreateService with desiredCount N (30) until all N tasks are
//     RUNNING, next to starting the same N containers with `ctr run -d`, two at a time (skiffd
//     itself launches up to four at once, on its executor's threads), on the same containerd. Rounds interleave the two (and swap which goes first), with everything
//     removed between them; one small warm-up round is not counted.
// (b) replacement: the time from kill -9 of a service task's container process (its pid from
//     `ctr tasks ls`) until skiffd's replacement task is RUNNING. A task that stops less than
//     10 s after it started counts as a failed launch and later ones back off, so every task is
//     killed only once it has run 11 s: the oldest of the service's tasks is the next victim.
//
// Both observe tasks through one Node.Watch stream of the cluster, opened at setup and stamped
// on arrival. Every wait is bounded. Everything is removed on exit, failure and Ctrl-C included.
//
// Run as root: build/bin/service_bench [--rounds N] [--count N] [--kills N] [--only a|b].
// See docs/benchmarks.md. Main thread only, apart from the watch reader and ctr workers.
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
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
#include "absl/strings/substitute.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "harness.h"

namespace skiff::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kFamily[] = "bench";
constexpr char kContainerName[] = "app";
constexpr int kMemoryMiB = 32;
constexpr int kWarmupCount = 4;
// A task younger than this is not killed: 10 s is skiffd's min_healthy_runtime.
constexpr absl::Duration kMinAgeBeforeKill = absl::Seconds(11);
constexpr absl::Duration kStateTimeout = absl::Seconds(120);
constexpr absl::Duration kCommandTimeout = absl::Seconds(60);

struct Options {
  int rounds = 3;
  int count = 30;
  int kills = 20;
  int kill_service_tasks = 5;
  int ctr_concurrency = 2;  // skiffd's executor runs up to 4 launches at once.
  bool run_a = true;
  bool run_b = true;
};

void Usage(std::ostream& out) {
  out << "usage: service_bench [--rounds N] [--count N] [--kills N] [--ctr-concurrency N]\n"
         "                     [--only a|b]\n"
         "  --rounds N  (a) rounds, each one skiff service and one ctr batch (default 3)\n"
         "  --count N   (a) tasks per service / containers per batch (default 30)\n"
         "  --kills N   (b) kill -9 and replacement runs (default 20)\n"
         "  --ctr-concurrency N  (a) ctr run -d processes at a time (default 2)\n"
         "  --only a|b  run one part only\n"
         "Needs root, containerd, ctr and runc. Prints min/median/p90 in ms and ratios.\n";
}

// Returns 0 to go on, -1 after --help, else the exit code.
int ParseArgs(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    auto number = [&](int& out, int min) {
      return has_value && absl::SimpleAtoi(argv[i + 1], &out) && out >= min && (++i, true);
    };
    if (arg == "--help" || arg == "-h") {
      Usage(std::cout);
      return -1;
    }
    if (arg == "--rounds" && number(options.rounds, 1)) continue;
    if (arg == "--count" && number(options.count, 1)) continue;
    if (arg == "--kills" && number(options.kills, 1)) continue;
    if (arg == "--ctr-concurrency" && number(options.ctr_concurrency, 1)) continue;
    if (arg == "--only" && has_value &&
        (std::string(argv[i + 1]) == "a" || std::string(argv[i + 1]) == "b")) {
      options.run_a = std::string(argv[i + 1]) == "a";
      options.run_b = !options.run_a;
      ++i;
      continue;
    }
    std::cerr << "service_bench: bad argument " << arg << "\n";
    Usage(std::cerr);
    return 2;
  }
  return 0;
}

class Bench {
 public:
  explicit Bench(Options options) : options_(options) {}
  ~Bench() { Shutdown(); }

  absl::Status Setup();
  absl::Status Run();
  void Shutdown();

 private:
  absl::Status RegisterTaskDefinition();
  absl::Status ProveWatch();

  // (a): one service of `count` tasks to all RUNNING; one batch of ctr containers.
  absl::StatusOr<double> ServiceScaleOut(const std::string& name, int count);
  absl::StatusOr<double> CtrBatch(const std::string& prefix, int count);
  absl::Status RunScaleOut();
  // (b)
  absl::Status RunReplacement();
  // One kill: the oldest task of `service`; appends to the rows.
  absl::Status KillAndTimeReplacement(const std::string& service);

  // Untimed: delete with force, wait for INACTIVE, remove the containers skiffd keeps for its
  // task retention (it would remove them in the middle of later rounds otherwise).
  absl::Status DeleteService(const std::string& name, const std::vector<std::string>& task_ids) {
    return harness_->DeleteService(name, {task_ids.begin(), task_ids.end()}, kContainerName,
                                   kStateTimeout);
  }
  absl::Status RemoveCtrContainers(const std::vector<std::string>& ids);
  // `ctr -a SOCK -n ns args...`; stdout on exit 0. Any thread.
  absl::StatusOr<std::string> Ctr(const std::string& ns,
                                  const std::vector<std::string>& args) const {
    return harness_->Ctr(ns, args);
  }
  e2e::EcsClient& client() { return harness_->client(); }
  // Pid of a container's task in skiffd's namespace, from `ctr tasks ls`.
  absl::StatusOr<int> PidOf(const std::string& container_id);

  void PrintTable();

  Options options_;
  std::unique_ptr<BenchHarness> harness_;
  std::unique_ptr<e2e::TaskWatch> watch_;  // On harness_'s client: destroyed first.

  Row skiff_scale_{"", {}};
  Row ctr_scale_{"", {}};
  std::vector<double> round_ratios_;
  Row replace_{"(b) kill -9 -> replacement RUNNING", {}};
  Row exit_seen_{"    of which kill -9 -> exit seen", {}};
  int failed_tasks_after_kills_ = -1;
};

absl::Status Bench::Setup() {
  BenchHarness::Options harness;
  harness.name = "service_bench";
  harness.skiff_ns_prefix = "svcbench-skiff";
  harness.ctr_ns_prefix = "svcbench-ctr";
  harness.command_timeout = kCommandTimeout;
  absl::StatusOr<std::unique_ptr<BenchHarness>> started = BenchHarness::Start(harness);
  if (!started.ok()) return started.status();
  harness_ = *std::move(started);
  if (absl::Status s = RegisterTaskDefinition(); !s.ok()) return s;
  watch_ = std::make_unique<e2e::TaskWatch>(&client());
  watch_->Start();
  return ProveWatch();
}

absl::Status Bench::RegisterTaskDefinition() {
  // As run_task_bench: sleep as pid 1 (ctr runs no init either), stopped by SIGKILL after 1 s.
  return client().RegisterTaskDefinition(absl::Substitute(
      R"({"family": "$0", "networkMode": "host", "containerDefinitions": [{"name": "$1",
          "image": "$2", "memory": $3, "stopTimeout": 1, "command": ["sleep", "3600"]}]})",
      kFamily, kContainerName, skiff::testing::kTestImageRef, kMemoryMiB));
}

// See BenchHarness::ProveWatch.
absl::Status Bench::ProveWatch() {
  return harness_->ProveWatch(*watch_, kFamily, kContainerName, kStateTimeout);
}

absl::StatusOr<double> Bench::ServiceScaleOut(const std::string& name, int count) {
  watch_->Clear();
  const std::string group = "service:" + name;
  v1::CreateServiceRequest request;
  request.set_service_name(name);
  request.set_task_definition(kFamily);
  request.set_desired_count(count);
  const SteadyClock::time_point start = SteadyClock::now();
  if (absl::StatusOr<v1::Service> s = client().CreateService(request); !s.ok()) return s.status();
  std::set<std::string> running;
  SteadyClock::time_point last = start;
  absl::Status failed;
  while (static_cast<int>(running.size()) < count) {
    absl::StatusOr<e2e::TaskWatch::Change> change = watch_->WaitFor(
        [&](const e2e::TaskWatch::Change& c) {
          if (c.task.group() != group) return false;
          if (c.task.last_status() == "STOPPED" && failed.ok()) {
            failed = absl::AbortedError(absl::StrCat("task ", c.task.task_arn(),
                                                     " stopped: ", c.task.stopped_reason()));
          }
          return c.task.last_status() == "RUNNING" || !failed.ok();
        },
        kStateTimeout);
    if (!change.ok()) return change.status();
    if (!failed.ok()) return failed;
    running.insert(change->task.task_arn());
    last = change->at;
  }
  const double took = Ms(last - start);
  // Untimed: skiffd agrees that the service is steady with `count` running.
  absl::StatusOr<v1::Service> steady = client().WaitForService(
      name,
      [count](const v1::Service& s) { return e2e::IsSteady(s) && s.running_count() == count; },
      "steady", kStateTimeout);
  if (!steady.ok()) return steady.status();
  std::vector<std::string> ids;
  for (const std::string& arn : running) ids.push_back(e2e::TaskIdOf(arn));
  if (absl::Status s = DeleteService(name, ids); !s.ok()) return s;
  return took;
}

absl::StatusOr<double> Bench::CtrBatch(const std::string& prefix, int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrCat(prefix, "-", i));
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status failed;
  auto worker = [&] {
    for (int i = next++; i < count; i = next++) {
      // The same work as skiffd's: host network, the memory limit, runc state under the
      // fixture's runc root, stdout/stderr appended to a file by the shim.
      absl::StatusOr<std::string> out =
          Ctr(harness_->ctr_ns(),
              {"run", "-d", "--runc-root", harness_->containerd().runc_root(), "--net-host",
               "--memory-limit", absl::StrCat(int64_t{kMemoryMiB} << 20), "--log-uri",
               absl::StrCat("file://", harness_->ctr_log_dir(), "/", ids[i], ".log"),
               skiff::testing::kTestImageRef, ids[i], "sleep", "3600"});
      if (!out.ok()) {
        absl::MutexLock lock(&mu);
        if (failed.ok()) failed = out.status();
        return;
      }
    }
  };
  const SteadyClock::time_point start = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < options_.ctr_concurrency; ++w) workers.emplace_back(worker);
  for (std::thread& t : workers) t.join();
  const double took = Ms(SteadyClock::now() - start);
  absl::Status removed = RemoveCtrContainers(ids);
  if (!failed.ok()) return failed;
  if (!removed.ok()) return removed;
  return took;
}

absl::Status Bench::RunScaleOut() {
  skiff_scale_.name = absl::StrCat("(a) CreateService ", options_.count, " -> RUNNING");
  ctr_scale_.name = absl::StrCat("(a) ctr run -d x", options_.count, ", ", options_.ctr_concurrency,
                                 " at a time");
  std::cout << "(a) warm-up (" << kWarmupCount << " tasks each, not counted)\n" << std::flush;
  if (absl::StatusOr<double> s = ServiceScaleOut("warmup", kWarmupCount); !s.ok()) {
    return s.status();
  }
  if (absl::StatusOr<double> s = CtrBatch("warmup", kWarmupCount); !s.ok()) return s.status();
  for (int round = 0; round < options_.rounds; ++round) {
    if (Interrupted()) return absl::CancelledError("interrupted");
    double skiff_ms = 0, ctr_ms = 0;
    // Odd rounds let ctr go first, so that drift within a round hits both alike.
    for (int part = 0; part < 2; ++part) {
      const bool skiff_turn = (part == 0) == (round % 2 == 0);
      if (skiff_turn) {
        absl::StatusOr<double> took = ServiceScaleOut(absl::StrCat("scale-", round),
                                                      options_.count);
        if (!took.ok()) return took.status();
        skiff_ms = *took;
      } else {
        absl::StatusOr<double> took = CtrBatch(absl::StrCat("ctr-", round), options_.count);
        if (!took.ok()) return took.status();
        ctr_ms = *took;
      }
    }
    skiff_scale_.samples.push_back(skiff_ms);
    ctr_scale_.samples.push_back(ctr_ms);
    round_ratios_.push_back(skiff_ms / ctr_ms);
    std::cout << absl::StrFormat("(a) round %d: skiff %.0f ms, ctr %.0f ms, ratio %.2f\n",
                                 round + 1, skiff_ms, ctr_ms, skiff_ms / ctr_ms)
              << std::flush;
  }
  return absl::OkStatus();
}

absl::Status Bench::RunReplacement() {
  const std::string name = "replace";
  v1::CreateServiceRequest request;
  request.set_service_name(name);
  request.set_task_definition(kFamily);
  request.set_desired_count(options_.kill_service_tasks);
  if (absl::StatusOr<v1::Service> s = client().CreateService(request); !s.ok()) return s.status();
  const int want = options_.kill_service_tasks;
  absl::StatusOr<v1::Service> steady = client().WaitForService(
      name, [want](const v1::Service& s) { return e2e::IsSteady(s) && s.running_count() == want; },
      "steady", kStateTimeout);
  if (!steady.ok()) return steady.status();
  std::cout << "(b) " << options_.kills << " kills of the oldest of " << want
            << " tasks, each at least " << absl::FormatDuration(kMinAgeBeforeKill) << " old\n"
            << std::flush;
  absl::Status result;
  for (int i = 0; i < options_.kills && result.ok(); ++i) {
    if (Interrupted()) {
      result = absl::CancelledError("interrupted");
      break;
    }
    result = KillAndTimeReplacement(name);
  }
  absl::StatusOr<v1::Service> after = client().DescribeService(name);
  if (after.ok() && after->deployments_size() > 0) {
    failed_tasks_after_kills_ = after->deployments(0).failed_tasks();
  }
  absl::StatusOr<std::vector<v1::Task>> tasks = client().AllServiceTasks(name);
  std::vector<std::string> ids;
  if (tasks.ok()) {
    for (const v1::Task& t : *tasks) ids.push_back(e2e::TaskIdOf(t.task_arn()));
  }
  absl::Status deleted = DeleteService(name, ids);
  if (!result.ok()) return result;
  if (!tasks.ok()) return tasks.status();
  return deleted;
}

absl::Status Bench::KillAndTimeReplacement(const std::string& service) {
  absl::StatusOr<std::vector<v1::Task>> tasks = client().ServiceTasks(service, "RUNNING");
  if (!tasks.ok()) return tasks.status();
  const v1::Task* oldest = nullptr;
  std::set<std::string> before;
  for (const v1::Task& t : *tasks) {
    before.insert(t.task_arn());
    if (t.last_status() != "RUNNING") continue;
    if (oldest == nullptr || t.started_at() < oldest->started_at()) oldest = &t;
  }
  if (oldest == nullptr) return absl::InternalError("no RUNNING task to kill");
  const absl::Time started = absl::FromUnixMicros(static_cast<int64_t>(oldest->started_at() * 1e6));
  if (absl::Duration wait = started + kMinAgeBeforeKill - absl::Now(); wait > absl::ZeroDuration()) {
    absl::SleepFor(wait);
  }
  const std::string victim = oldest->task_arn();
  absl::StatusOr<int> pid = PidOf(absl::StrCat(e2e::TaskIdOf(victim), "-", kContainerName));
  if (!pid.ok()) return pid.status();

  watch_->Clear();
  const std::string group = "service:" + service;
  std::optional<SteadyClock::time_point> exit_seen;
  const SteadyClock::time_point start = SteadyClock::now();
  if (kill(*pid, SIGKILL) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("kill ", *pid));
  absl::StatusOr<e2e::TaskWatch::Change> replaced = watch_->WaitFor(
      [&](const e2e::TaskWatch::Change& c) {
        if (c.task.task_arn() == victim && c.task.desired_status() == "STOPPED" && !exit_seen) {
          exit_seen = c.at;
        }
        return c.task.group() == group && !before.count(c.task.task_arn()) &&
               c.task.last_status() == "RUNNING";
      },
      absl::Seconds(30));
  if (!replaced.ok()) return replaced.status();
  replace_.samples.push_back(Ms(replaced->at - start));
  if (exit_seen) exit_seen_.samples.push_back(Ms(*exit_seen - start));
  return absl::OkStatus();
}

absl::Status Bench::RemoveCtrContainers(const std::vector<std::string>& ids) {
  absl::Status first;
  for (const std::string& id : ids) {
    absl::Status s = Ctr(harness_->ctr_ns(), {"tasks", "rm", "-f", id}).status();
    if (s.ok()) s = Ctr(harness_->ctr_ns(), {"containers", "rm", id}).status();
    if (first.ok()) first = s;
  }
  return first;
}

absl::StatusOr<int> Bench::PidOf(const std::string& container_id) {
  absl::StatusOr<std::string> out = Ctr(harness_->skiff_ns(), {"tasks", "ls"});
  if (!out.ok()) return out.status();
  for (absl::string_view line : absl::StrSplit(*out, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int pid = 0;
    if (words.size() >= 2 && words[0] == container_id && absl::SimpleAtoi(words[1], &pid) &&
        pid > 1) {
      return pid;
    }
  }
  return absl::NotFoundError(absl::StrCat("ctr tasks ls: no task ", container_id));
}

absl::Status Bench::Run() {
  harness_->PrintMachine();
  const absl::Time started = absl::Now();
  if (options_.run_a) {
    if (absl::Status s = RunScaleOut(); !s.ok()) return s;
  }
  if (options_.run_b) {
    if (absl::Status s = RunReplacement(); !s.ok()) return s;
  }
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  std::cout << "took " << absl::FormatDuration(absl::Trunc(absl::Now() - started, absl::Seconds(1)))
            << " (setup excluded); load (1m) at the end: " << load << "\n\n";
  PrintTable();
  return absl::OkStatus();
}

void Bench::PrintTable() {
  std::cout << absl::StrFormat("%-40s %5s %9s %9s %9s %8s\n", "", "runs", "min ms", "median ms",
                               "p90 ms", "ratio");
  auto print = [](const Row& row, const std::string& ratio) {
    if (row.samples.empty()) return;
    std::cout << absl::StrFormat("%-40s %5d %9.1f %9.1f %9.1f %8s\n", row.name,
                                 row.samples.size(), row.Min(), row.Median(), row.Quantile(0.9),
                                 ratio);
  };
  if (!skiff_scale_.samples.empty()) {
    const double ratio = skiff_scale_.Median() / ctr_scale_.Median();
    print(skiff_scale_, absl::StrFormat("%.2f", ratio));
    print(ctr_scale_, "1.00");
    std::vector<double> ratios = round_ratios_;
    std::sort(ratios.begin(), ratios.end());
    std::cout << absl::StrFormat(
        "(a) ratio skiff/ctr of the medians: %.2f; per round: %s (goal <= 1.20: %s)\n", ratio,
        absl::StrJoin(round_ratios_, ", ",
                      [](std::string* out, double r) { absl::StrAppendFormat(out, "%.2f", r); }),
        ratio <= 1.2 ? "met" : "NOT met");
  }
  if (!replace_.samples.empty()) {
    print(replace_, "");
    print(exit_seen_, "");
    std::cout << absl::StrFormat(
        "(b) median %.0f ms (goal < 500 ms: %s); failedTasks of the deployment after the kills: "
        "%d (kills after %s are not failed launches)\n",
        replace_.Median(), replace_.Median() < 500 ? "met" : "NOT met", failed_tasks_after_kills_,
        absl::FormatDuration(kMinAgeBeforeKill));
  }
  std::cout << "Noisy machine: compare rows of the same run only.\n";
}

void Bench::Shutdown() {
  watch_.reset();  // Cancels the stream before skiffd goes.
  harness_.reset();
}

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) {
  skiff::bench::Options options;
  if (int code = skiff::bench::ParseArgs(argc, argv, options); code != 0) {
    return code < 0 ? 0 : code;
  }
  skiff::bench::Bench bench(options);
  return skiff::bench::SetUpRunAndShutDown("service_bench", bench);
}

// rollout_bench: a rolling update of a service through skiffd on a private containerd, against
// the same container work done with plain `ctr`, in one run.
//
// skiff row: a service of N (10) tasks on revision 1 (minimumHealthyPercent 50, maximumPercent
//   200, no health checks) is steady; the time from UpdateService to revision 2 until the N new
//   tasks are RUNNING and the N old ones are STOPPED, as one Node.Watch stream of the cluster
//   sees them (stamped on arrival). skiffd then calls the service steady (checked, untimed).
// ctr row, the "ideal": N old containers are running (untimed); the time to start N new ones
//   with `ctr run -d`, then stop the N old ones with `ctr tasks rm -f` (kill, wait for the exit,
//   delete the task), each phase with as many ctr processes at once as skiffd has runtime
//   threads (4; --ctr-concurrency changes it). skiffd overlaps the two phases as its bounds let
//   it; the ctr row does not.
//
// Both run the same container: busybox `sh -c 'trap "exit 0" TERM; sleep 3600 & wait'`, so a
// SIGTERM stops it at once without an init process, in its own network namespace (networkMode
// none; ctr without --net-host), 32 MiB, the shim appending stdout/stderr to a file. Runs
// interleave (skiff first in even runs, ctr first in odd ones); one warm-up run of 4 is not
// counted; everything is removed between runs, outside the timing. Every wait is bounded.
// Everything is removed on exit, failure and Ctrl-C included.
//
// Run as root: build/bin/rollout_bench [--runs N] [--count N] [--ctr-concurrency N].
// See docs/benchmarks.md. Main thread only, apart from the watch reader and the ctr workers.
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
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
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "harness.h"
#include "nlohmann/json.hpp"

namespace skiff::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kFamily[] = "rollout";
constexpr char kContainerName[] = "app";
constexpr char kScript[] = "trap \"exit 0\" TERM; sleep 3600 & wait";
constexpr int kMemoryMiB = 32;
constexpr int kMinHealthyPercent = 50;
constexpr int kMaxPercent = 200;
constexpr int kWarmupCount = 4;
constexpr absl::Duration kStateTimeout = absl::Seconds(120);
constexpr absl::Duration kCommandTimeout = absl::Seconds(60);

struct Options {
  int runs = 5;
  int count = 10;
  int ctr_concurrency = 4;  // skiffd's runtime executor has 4 threads.
};

void Usage(std::ostream& out) {
  out << "usage: rollout_bench [--runs N] [--count N] [--ctr-concurrency N]\n"
         "  --runs N    timed runs of each row (default 5); one extra warm-up run of 4\n"
         "  --count N   tasks of the service / containers started and stopped (default 10)\n"
         "  --ctr-concurrency N  ctr processes at a time in each phase (default 4)\n"
         "Needs root, containerd, ctr and runc. Prints min/median/max in ms and the ratio.\n";
}

// Returns 0 to go on, -1 after --help, else the exit code.
int ParseArgs(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto number = [&](int& out, int min, int max) {
      return i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &out) && out >= min && out <= max &&
             (++i, true);
    };
    if (arg == "--help" || arg == "-h") {
      Usage(std::cout);
      return -1;
    }
    if (arg == "--runs" && number(options.runs, 1, 100)) continue;
    if (arg == "--count" && number(options.count, 1, 100)) continue;
    if (arg == "--ctr-concurrency" && number(options.ctr_concurrency, 1, 32)) continue;
    std::cerr << "rollout_bench: bad argument " << arg << "\n";
    Usage(std::cerr);
    return 2;
  }
  return 0;
}

// One timed run: the total and the time the starts were done.
struct Timing {
  double total_ms = 0;
  double started_ms = 0;
};

class Bench {
 public:
  explicit Bench(Options options) : options_(options) {}
  ~Bench() { Shutdown(); }

  absl::Status Setup();
  absl::Status Run();
  void Shutdown();

 private:
  absl::Status RegisterRevision(int revision);
  absl::Status ProveWatch();

  absl::StatusOr<Timing> SkiffRollout(const std::string& name, int count);
  absl::StatusOr<Timing> CtrRollout(const std::string& prefix, int count);

  // Runs `work(i)` for i in [0, count), options_.ctr_concurrency at a time; the first error.
  absl::Status InParallel(int count, const std::function<absl::Status(int)>& work);
  absl::Status CtrRun(const std::string& id, int revision);
  // Untimed: delete with force, wait for INACTIVE, remove the containers skiffd keeps for its
  // task retention (it would remove them in the middle of later runs otherwise).
  absl::Status DeleteService(const std::string& name, const std::set<std::string>& task_arns) {
    return harness_->DeleteService(name, task_arns, kContainerName, kStateTimeout);
  }
  absl::Status RemoveCtrContainers(const std::vector<std::string>& ids);
  // `ctr -a SOCK -n ns args...`; stdout on exit 0. Any thread.
  absl::StatusOr<std::string> Ctr(const std::string& ns,
                                  const std::vector<std::string>& args) const {
    return harness_->Ctr(ns, args);
  }
  e2e::EcsClient& client() { return harness_->client(); }

  void PrintTable();

  Options options_;
  std::unique_ptr<BenchHarness> harness_;
  std::unique_ptr<e2e::TaskWatch> watch_;  // On harness_'s client: destroyed first.

  Row skiff_total_;
  Row skiff_started_;
  Row ctr_total_;
  Row ctr_started_;
  std::vector<double> run_ratios_;
};

absl::Status Bench::Setup() {
  BenchHarness::Options harness;
  harness.name = "rollout_bench";
  harness.skiff_ns_prefix = "rollbench-skiff";
  harness.ctr_ns_prefix = "rollbench-ctr";
  harness.command_timeout = kCommandTimeout;
  absl::StatusOr<std::unique_ptr<BenchHarness>> started = BenchHarness::Start(harness);
  if (!started.ok()) return started.status();
  harness_ = *std::move(started);
  for (int revision : {1, 2}) {
    if (absl::Status s = RegisterRevision(revision); !s.ok()) return s;
  }
  watch_ = std::make_unique<e2e::TaskWatch>(&client());
  watch_->Start();
  return ProveWatch();
}

absl::Status Bench::RegisterRevision(int revision) {
  // The revisions differ by one variable, as a new image tag would make them differ.
  const nlohmann::json container = {
      {"name", kContainerName},
      {"image", skiff::testing::kTestImageRef},
      {"memory", kMemoryMiB},
      {"stopTimeout", 2},
      {"environment",
       nlohmann::json::array({{{"name", "REVISION"}, {"value", std::to_string(revision)}}})},
      {"command", nlohmann::json::array({"sh", "-c", kScript})}};
  const nlohmann::json definition = {{"family", kFamily},
                                     {"networkMode", "none"},
                                     {"containerDefinitions", nlohmann::json::array({container})}};
  return client().RegisterTaskDefinition(definition.dump());
}

// See BenchHarness::ProveWatch.
absl::Status Bench::ProveWatch() {
  return harness_->ProveWatch(*watch_, absl::StrCat(kFamily, ":1"), kContainerName, kStateTimeout);
}

absl::StatusOr<Timing> Bench::SkiffRollout(const std::string& name, int count) {
  // Untimed: the service steady on revision 1.
  v1::CreateServiceRequest create;
  create.set_service_name(name);
  create.set_task_definition(absl::StrCat(kFamily, ":1"));
  create.set_desired_count(count);
  create.mutable_deployment_configuration()->set_minimum_healthy_percent(kMinHealthyPercent);
  create.mutable_deployment_configuration()->set_maximum_percent(kMaxPercent);
  if (absl::StatusOr<v1::Service> s = client().CreateService(create); !s.ok()) return s.status();
  auto steady_on = [count](int revision) {
    return [count, revision](const v1::Service& s) {
      return e2e::IsSteady(s) && s.running_count() == count &&
             s.deployments(0).rollout_state() == "COMPLETED" &&
             absl::EndsWith(s.deployments(0).task_definition(), absl::StrCat(":", revision));
    };
  };
  absl::StatusOr<v1::Service> steady =
      client().WaitForService(name, steady_on(1), "steady on revision 1", kStateTimeout);
  if (!steady.ok()) return steady.status();
  absl::StatusOr<std::vector<v1::Task>> old_tasks = client().ServiceTasks(name, "RUNNING");
  if (!old_tasks.ok()) return old_tasks.status();
  std::set<std::string> old_arns, all_arns;
  for (const v1::Task& t : *old_tasks) old_arns.insert(t.task_arn());
  all_arns = old_arns;
  if (static_cast<int>(old_arns.size()) != count) {
    return absl::InternalError(absl::StrCat(old_arns.size(), " tasks before the update"));
  }

  // Timed: UpdateService until every new task RUNNING and every old one STOPPED.
  watch_->Clear();
  const std::string group = "service:" + name;
  v1::UpdateServiceRequest update;
  update.set_service(name);
  update.set_task_definition(absl::StrCat(kFamily, ":2"));
  const SteadyClock::time_point start = SteadyClock::now();
  if (absl::StatusOr<v1::Service> s = client().UpdateService(update); !s.ok()) return s.status();
  std::set<std::string> new_running, old_stopped;
  SteadyClock::time_point last = start, started = start;
  absl::Status failed;
  const absl::Time deadline = absl::Now() + kStateTimeout;
  while ((static_cast<int>(new_running.size()) < count ||
          static_cast<int>(old_stopped.size()) < count) &&
         failed.ok()) {
    if (Interrupted()) return absl::CancelledError("interrupted");
    absl::StatusOr<e2e::TaskWatch::Change> change = watch_->WaitFor(
        [&](const e2e::TaskWatch::Change& c) {
          if (c.task.group() != group) return false;
          const bool old = old_arns.count(c.task.task_arn()) > 0;
          if (old) return c.task.last_status() == "STOPPED";
          if (c.task.last_status() == "STOPPED") {
            failed = absl::AbortedError(absl::StrCat("new task ", c.task.task_arn(),
                                                     " stopped: ", c.task.stopped_reason()));
          }
          return c.task.last_status() == "RUNNING" || !failed.ok();
        },
        deadline - absl::Now());
    if (!change.ok()) return change.status();
    if (!failed.ok()) break;
    const std::string& arn = change->task.task_arn();
    all_arns.insert(arn);
    if (old_arns.count(arn)) {
      old_stopped.insert(arn);
    } else if (new_running.insert(arn).second && static_cast<int>(new_running.size()) == count) {
      started = change->at;
    }
    last = std::max(last, change->at);
  }
  Timing timing{.total_ms = Ms(last - start), .started_ms = Ms(started - start)};

  // Untimed: skiffd agrees (one deployment, COMPLETED, on revision 2), then everything goes.
  absl::Status result = failed;
  if (result.ok()) {
    steady = client().WaitForService(name, steady_on(2), "steady on revision 2", kStateTimeout);
    result = steady.status();
  }
  absl::Status deleted = DeleteService(name, all_arns);
  if (!result.ok()) return result;
  if (!deleted.ok()) return deleted;
  return timing;
}

absl::StatusOr<Timing> Bench::CtrRollout(const std::string& prefix, int count) {
  std::vector<std::string> old_ids, new_ids;
  for (int i = 0; i < count; ++i) {
    old_ids.push_back(absl::StrCat(prefix, "-old-", i));
    new_ids.push_back(absl::StrCat(prefix, "-new-", i));
  }
  absl::Status result = InParallel(count, [&](int i) { return CtrRun(old_ids[i], 1); });
  Timing timing;
  if (result.ok()) {
    const SteadyClock::time_point start = SteadyClock::now();
    result = InParallel(count, [&](int i) { return CtrRun(new_ids[i], 2); });
    timing.started_ms = Ms(SteadyClock::now() - start);
    if (result.ok()) {
      // rm -f: kill (SIGKILL), wait for the exit, delete the task; skiffd's stop is SIGTERM,
      // which the trap ends at once, the wait, and the delete.
      result = InParallel(count, [&](int i) {
        return Ctr(harness_->ctr_ns(), {"tasks", "rm", "-f", old_ids[i]}).status();
      });
    }
    timing.total_ms = Ms(SteadyClock::now() - start);
  }
  std::vector<std::string> all = old_ids;
  all.insert(all.end(), new_ids.begin(), new_ids.end());
  absl::Status removed = RemoveCtrContainers(all);
  if (!result.ok()) return result;
  if (!removed.ok()) return removed;
  return timing;
}

absl::Status Bench::InParallel(int count, const std::function<absl::Status(int)>& work) {
  std::atomic<int> next{0};
  absl::Mutex mu;
  absl::Status first;
  auto worker = [&] {
    for (int i = next++; i < count && !Interrupted(); i = next++) {
      absl::Status s = work(i);
      if (s.ok()) continue;
      absl::MutexLock lock(&mu);
      if (first.ok()) first = s;
      return;
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < std::min(options_.ctr_concurrency, count); ++w) workers.emplace_back(worker);
  for (std::thread& t : workers) t.join();
  if (first.ok() && Interrupted()) return absl::CancelledError("interrupted");
  return first;
}

absl::Status Bench::CtrRun(const std::string& id, int revision) {
  // skiffd's work: its own network namespace, the memory limit, runc state under the fixture's
  // runc root, stdout/stderr appended to a file by the shim.
  return Ctr(harness_->ctr_ns(),
             {"run", "-d", "--runc-root", harness_->containerd().runc_root(), "--memory-limit",
              absl::StrCat(int64_t{kMemoryMiB} << 20), "--env", absl::StrCat("REVISION=", revision),
              "--log-uri", absl::StrCat("file://", harness_->ctr_log_dir(), "/", id, ".log"),
              skiff::testing::kTestImageRef, id, "sh", "-c", kScript})
      .status();
}

absl::Status Bench::RemoveCtrContainers(const std::vector<std::string>& ids) {
  absl::StatusOr<std::string> listed = Ctr(harness_->ctr_ns(), {"containers", "ls", "-q"});
  if (!listed.ok()) return listed.status();
  const std::set<std::string> present = absl::StrSplit(*listed, '\n', absl::SkipEmpty());
  absl::Status first;
  for (const std::string& id : ids) {
    if (!present.count(id)) continue;
    // No task (never started, or removed in the timed part) is fine; the container must go.
    Ctr(harness_->ctr_ns(), {"tasks", "rm", "-f", id}).status().IgnoreError();
    absl::Status s = Ctr(harness_->ctr_ns(), {"containers", "rm", id}).status();
    if (first.ok()) first = s;
  }
  return first;
}

absl::Status Bench::Run() {
  harness_->PrintMachine();
  const int n = options_.count;
  skiff_total_.name = absl::StrCat("skiff UpdateService ", n, " -> stable");
  skiff_started_.name = absl::StrCat("  of which -> ", n, " new RUNNING");
  ctr_total_.name =
      absl::StrCat("ctr ", n, " run -d + ", n, " rm -f, ", options_.ctr_concurrency, " at a time");
  ctr_started_.name = absl::StrCat("  of which ", n, " run -d");
  const absl::Time began = absl::Now();
  std::cout << "warm-up (" << kWarmupCount << " tasks each, not counted)\n" << std::flush;
  if (absl::StatusOr<Timing> t = SkiffRollout("warmup", kWarmupCount); !t.ok()) return t.status();
  if (absl::StatusOr<Timing> t = CtrRollout("warmup", kWarmupCount); !t.ok()) return t.status();
  for (int run = 0; run < options_.runs; ++run) {
    if (Interrupted()) return absl::CancelledError("interrupted");
    Timing skiff, ctr;
    for (int part = 0; part < 2; ++part) {
      const bool skiff_turn = (part == 0) == (run % 2 == 0);
      absl::StatusOr<Timing> t = skiff_turn ? SkiffRollout(absl::StrCat("roll-", run), n)
                                            : CtrRollout(absl::StrCat("ctr-", run), n);
      if (!t.ok()) return t.status();
      (skiff_turn ? skiff : ctr) = *t;
    }
    skiff_total_.samples.push_back(skiff.total_ms);
    skiff_started_.samples.push_back(skiff.started_ms);
    ctr_total_.samples.push_back(ctr.total_ms);
    ctr_started_.samples.push_back(ctr.started_ms);
    run_ratios_.push_back(skiff.total_ms / ctr.total_ms);
    std::cout << absl::StrFormat(
                     "run %d: skiff %.0f ms (new running at %.0f), ctr %.0f ms "
                     "(started at %.0f), ratio %.2f\n",
                     run + 1, skiff.total_ms, skiff.started_ms, ctr.total_ms, ctr.started_ms,
                     skiff.total_ms / ctr.total_ms)
              << std::flush;
  }
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  std::cout << "took " << absl::FormatDuration(absl::Trunc(absl::Now() - began, absl::Seconds(1)))
            << " (setup excluded); load (1m) at the end: " << load << "\n\n";
  PrintTable();
  return absl::OkStatus();
}

void Bench::PrintTable() {
  if (skiff_total_.samples.empty()) return;
  std::cout << absl::StrFormat("%-40s %5s %9s %9s %9s %8s\n", "", "runs", "min ms", "median ms",
                               "max ms", "ratio");
  auto print = [](const Row& row, const std::string& ratio) {
    const std::vector<double> s = row.Sorted();
    std::cout << absl::StrFormat("%-40s %5d %9.1f %9.1f %9.1f %8s\n", row.name, s.size(), s.front(),
                                 row.Median(), s.back(), ratio);
  };
  const double ratio = skiff_total_.Median() / ctr_total_.Median();
  print(skiff_total_, absl::StrFormat("%.2f", ratio));
  print(skiff_started_, "");
  print(ctr_total_, "1.00");
  print(ctr_started_, "");
  std::cout << absl::StrFormat(
      "ratio skiff/ctr of the medians: %.2f; per run: %s (goal <= 1.30: %s)\n", ratio,
      absl::StrJoin(run_ratios_, ", ",
                    [](std::string* out, double r) { absl::StrAppendFormat(out, "%.2f", r); }),
      ratio <= 1.3 ? "met" : "NOT met");
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
  return skiff::bench::SetUpRunAndShutDown("rollout_bench", bench);
}

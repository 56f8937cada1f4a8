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
#include "ecs_client.h"
#include "skiffd_process.h"
#include "support/containerd_fixture.h"

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

volatile sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

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

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// One row of the table: samples in ms.
struct Row {
  std::string name;
  std::vector<double> samples;

  std::vector<double> Sorted() const {
    std::vector<double> s = samples;
    std::sort(s.begin(), s.end());
    return s;
  }
  double Quantile(double q) const {  // Nearest rank.
    const std::vector<double> s = Sorted();
    const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(s.size())));
    return s[std::clamp<size_t>(rank, 1, s.size()) - 1];
  }
  double Median() const {
    const std::vector<double> s = Sorted();
    const size_t n = s.size();
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
  double Min() const { return Sorted().front(); }
};

class Bench {
 public:
  explicit Bench(Options options) : options_(options) {}
  ~Bench() { Shutdown(); }

  absl::Status Setup();
  absl::Status Run();
  void Shutdown();

 private:
  absl::Status StartSkiffd();
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
  absl::Status DeleteService(const std::string& name, const std::vector<std::string>& task_ids);
  absl::Status RemoveCtrContainers(const std::vector<std::string>& ids);
  // `ctr -a SOCK -n ns args...`; stdout on exit 0.
  absl::StatusOr<std::string> Ctr(const std::string& ns, const std::vector<std::string>& args);
  // Pid of a container's task in skiffd's namespace, from `ctr tasks ls`.
  absl::StatusOr<int> PidOf(const std::string& container_id);

  void PrintMachine();
  void PrintTable();

  Options options_;
  std::unique_ptr<skiff::testing::PrivateContainerd> containerd_;
  std::unique_ptr<e2e::SkiffdProcess> skiffd_;
  std::unique_ptr<e2e::EcsClient> client_;
  std::unique_ptr<e2e::TaskWatch> watch_;
  std::string skiff_ns_;
  std::string ctr_ns_;
  std::string log_dir_;

  Row skiff_scale_{"", {}};
  Row ctr_scale_{"", {}};
  std::vector<double> round_ratios_;
  Row replace_{"(b) kill -9 -> replacement RUNNING", {}};
  Row exit_seen_{"    of which kill -9 -> exit seen", {}};
  int failed_tasks_after_kills_ = -1;
};

absl::Status Bench::Setup() {
  if (std::string missing = skiff::testing::MissingRootOrContainerd(); !missing.empty()) {
    return absl::FailedPreconditionError(missing);
  }
  absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
  if (!tarball.ok()) return tarball.status();
  absl::StatusOr<std::unique_ptr<skiff::testing::PrivateContainerd>> containerd =
      skiff::testing::PrivateContainerd::Start();
  if (!containerd.ok()) return containerd.status();
  containerd_ = *std::move(containerd);
  skiff_ns_ = containerd_->UniqueNamespace("svcbench-skiff");
  ctr_ns_ = containerd_->UniqueNamespace("svcbench-ctr");
  log_dir_ = containerd_->dir() + "/ctr-logs";
  std::error_code ec;
  std::filesystem::create_directories(log_dir_, ec);
  if (ec) return absl::InternalError("mkdir " + log_dir_ + ": " + ec.message());
  if (absl::Status s = StartSkiffd(); !s.ok()) return s;
  if (absl::Status s = client_->LoadImage(*tarball, skiff::testing::kTestImageRef); !s.ok()) {
    return s;
  }
  if (absl::StatusOr<std::string> ref = containerd_->ImportTestImage(ctr_ns_); !ref.ok()) {
    return ref.status();
  }
  if (absl::Status s = RegisterTaskDefinition(); !s.ok()) return s;
  watch_ = std::make_unique<e2e::TaskWatch>(client_.get());
  watch_->Start();
  return ProveWatch();
}

absl::Status Bench::StartSkiffd() {
  absl::StatusOr<std::unique_ptr<e2e::SkiffdProcess>> skiffd = e2e::SkiffdProcess::Create();
  if (!skiffd.ok()) return skiffd.status();
  skiffd_ = *std::move(skiffd);
  if (absl::Status s = skiffd_->Start({"--containerd-address", containerd_->socket_path(),
                                       "--namespace", skiff_ns_, "--runc-root",
                                       containerd_->runc_root()});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = skiffd_->WaitReady(); !s.ok()) return s;
  client_ = std::make_unique<e2e::EcsClient>(skiffd_->socket());
  return absl::OkStatus();
}

absl::Status Bench::RegisterTaskDefinition() {
  // As run_task_bench: sleep as pid 1 (ctr runs no init either), stopped by SIGKILL after 1 s.
  return client_->RegisterTaskDefinition(absl::Substitute(
      R"({"family": "$0", "networkMode": "host", "containerDefinitions": [{"name": "$1",
          "image": "$2", "memory": $3, "stopTimeout": 1, "command": ["sleep", "3600"]}]})",
      kFamily, kContainerName, skiff::testing::kTestImageRef, kMemoryMiB));
}

// skiffd subscribes the stream on its loop a moment after the call arrives: a first change seen
// proves it is there before anything is timed. Until then changes are missed, so the check
// service is scaled between 1 and 0 until one is seen (the first try almost always is).
absl::Status Bench::ProveWatch() {
  const std::string name = "watch-check";
  auto mine = [&name](const e2e::TaskWatch::Change& c) { return c.task.group() == "service:" + name; };
  v1::CreateServiceRequest request;
  request.set_service_name(name);
  request.set_task_definition(kFamily);
  request.set_desired_count(1);
  if (absl::StatusOr<v1::Service> s = client_->CreateService(request); !s.ok()) return s.status();
  absl::StatusOr<e2e::TaskWatch::Change> seen = watch_->WaitFor(mine, absl::Seconds(10));
  for (int attempt = 0; !seen.ok() && attempt < 4; ++attempt) {
    v1::UpdateServiceRequest update;
    update.set_service(name);
    update.set_desired_count(attempt % 2 == 0 ? 0 : 1);
    if (absl::StatusOr<v1::Service> s = client_->UpdateService(update); !s.ok()) return s.status();
    seen = watch_->WaitFor(mine, absl::Seconds(10));
  }
  if (!seen.ok()) return seen.status();
  absl::StatusOr<std::vector<v1::Task>> tasks = client_->AllServiceTasks(name);
  if (!tasks.ok()) return tasks.status();
  std::vector<std::string> ids;
  for (const v1::Task& t : *tasks) ids.push_back(e2e::TaskIdOf(t.task_arn()));
  return DeleteService(name, ids);
}

absl::StatusOr<double> Bench::ServiceScaleOut(const std::string& name, int count) {
  watch_->Clear();
  const std::string group = "service:" + name;
  v1::CreateServiceRequest request;
  request.set_service_name(name);
  request.set_task_definition(kFamily);
  request.set_desired_count(count);
  const SteadyClock::time_point start = SteadyClock::now();
  if (absl::StatusOr<v1::Service> s = client_->CreateService(request); !s.ok()) return s.status();
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
  absl::StatusOr<v1::Service> steady = client_->WaitForService(
      name, [count](const v1::Service& s) { return e2e::IsSteady(s) && s.running_count() == count; },
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
      absl::StatusOr<std::string> out = Ctr(
          ctr_ns_, {"run", "-d", "--runc-root", containerd_->runc_root(), "--net-host",
                    "--memory-limit", absl::StrCat(int64_t{kMemoryMiB} << 20), "--log-uri",
                    absl::StrCat("file://", log_dir_, "/", ids[i], ".log"),
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
    if (interrupted) return absl::CancelledError("interrupted");
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
  if (absl::StatusOr<v1::Service> s = client_->CreateService(request); !s.ok()) return s.status();
  const int want = options_.kill_service_tasks;
  absl::StatusOr<v1::Service> steady = client_->WaitForService(
      name, [want](const v1::Service& s) { return e2e::IsSteady(s) && s.running_count() == want; },
      "steady", kStateTimeout);
  if (!steady.ok()) return steady.status();
  std::cout << "(b) " << options_.kills << " kills of the oldest of " << want
            << " tasks, each at least " << absl::FormatDuration(kMinAgeBeforeKill) << " old\n"
            << std::flush;
  absl::Status result;
  for (int i = 0; i < options_.kills && result.ok(); ++i) {
    if (interrupted) {
      result = absl::CancelledError("interrupted");
      break;
    }
    result = KillAndTimeReplacement(name);
  }
  absl::StatusOr<v1::Service> after = client_->DescribeService(name);
  if (after.ok() && after->deployments_size() > 0) {
    failed_tasks_after_kills_ = after->deployments(0).failed_tasks();
  }
  absl::StatusOr<std::vector<v1::Task>> tasks = client_->AllServiceTasks(name);
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
  absl::StatusOr<std::vector<v1::Task>> tasks = client_->ServiceTasks(service, "RUNNING");
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

absl::Status Bench::DeleteService(const std::string& name,
                                  const std::vector<std::string>& task_ids) {
  if (absl::StatusOr<v1::Service> s = client_->DeleteService(name, /*force=*/true); !s.ok()) {
    return s.status();
  }
  absl::StatusOr<v1::Service> inactive = client_->WaitForService(
      name, [](const v1::Service& s) { return s.status() == "INACTIVE"; }, "INACTIVE",
      kStateTimeout);
  if (!inactive.ok()) return inactive.status();
  absl::StatusOr<std::string> listed = Ctr(skiff_ns_, {"containers", "ls", "-q"});
  if (!listed.ok()) return listed.status();
  const std::set<std::string> present = absl::StrSplit(*listed, '\n', absl::SkipEmpty());
  std::vector<std::string> args = {"containers", "rm"};
  for (const std::string& id : task_ids) {
    std::string container = absl::StrCat(id, "-", kContainerName);
    if (present.count(container)) args.push_back(std::move(container));
  }
  if (args.size() == 2) return absl::OkStatus();
  return Ctr(skiff_ns_, args).status();
}

absl::Status Bench::RemoveCtrContainers(const std::vector<std::string>& ids) {
  absl::Status first;
  for (const std::string& id : ids) {
    absl::Status s = Ctr(ctr_ns_, {"tasks", "rm", "-f", id}).status();
    if (s.ok()) s = Ctr(ctr_ns_, {"containers", "rm", id}).status();
    if (first.ok()) first = s;
  }
  return first;
}

absl::StatusOr<std::string> Bench::Ctr(const std::string& ns,
                                       const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ctr", "-a", containerd_->socket_path(), "-n", ns};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<skiff::testing::CommandResult> r =
      skiff::testing::RunCommand(argv, kCommandTimeout);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat("ctr ", absl::StrJoin(args, " "), " exited ",
                                            r->exit_code, ": ", r->stderr_text));
  }
  return std::move(r->stdout_text);
}

absl::StatusOr<int> Bench::PidOf(const std::string& container_id) {
  absl::StatusOr<std::string> out = Ctr(skiff_ns_, {"tasks", "ls"});
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
  PrintMachine();
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

void Bench::PrintMachine() {
  utsname u{};
  uname(&u);
  std::string cpu = "?";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (absl::StartsWith(line, "model name")) {
      cpu = std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
      break;
    }
  }
  std::string version = "?";
  if (absl::StatusOr<std::string> out = Ctr(ctr_ns_, {"version"}); out.ok()) {
    std::vector<std::string> found;  // The second "Version:" line is the server's.
    for (absl::string_view line : absl::StrSplit(*out, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, "Version:")) {
        found.emplace_back(absl::StripAsciiWhitespace(line));
      }
    }
    if (!found.empty()) version = found.back();
  }
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  std::cout << "date:       "
            << absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", absl::Now(), absl::UTCTimeZone())
            << "\nmachine:    " << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs (" << cpu << "), "
            << u.sysname << " " << u.release << " " << u.machine
            << "\ncontainerd: " << version << " (private instance, overlayfs)"
            << "\nload (1m):  " << load << "\n"
            << std::flush;
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
  client_.reset();
  if (skiffd_ != nullptr) {
    if (skiffd_->pid() > 0) {
      absl::StatusOr<int> code = skiffd_->Signal(SIGTERM, absl::Seconds(15));
      if (!code.ok() || *code != 0) {
        std::cerr << "service_bench: skiffd did not exit cleanly: "
                  << (code.ok() ? absl::StrCat("exit ", *code) : code.status().ToString()) << "\n";
      }
    }
    skiffd_.reset();  // SIGKILLs it if still there, removes its state dir.
  }
  if (containerd_ != nullptr) {
    // Removes every task, container, snapshot and file left, ours and skiffd's.
    if (absl::Status s = containerd_->Stop(); !s.ok()) {
      std::cerr << "service_bench: containerd cleanup: " << s << "\n";
    }
    containerd_.reset();
  }
}

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) {
  skiff::bench::Options options;
  if (int code = skiff::bench::ParseArgs(argc, argv, options); code != 0) {
    return code < 0 ? 0 : code;
  }
  // Ctrl-C ends the current step, then cleans up; children live in their own process groups.
  struct sigaction action {};
  action.sa_handler = skiff::bench::OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  skiff::bench::Bench bench(options);
  absl::Status status = bench.Setup();
  if (status.ok()) status = bench.Run();
  bench.Shutdown();
  if (!status.ok()) {
    std::cerr << "service_bench: " << status << "\n";
    return 1;
  }
  return 0;
}

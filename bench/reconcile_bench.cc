// reconcile_bench: how long one reconcile pass over every service takes at scale, and how much
// memory the scheduler holds for them. In one process, no containerd: the real TaskManager and
// ServiceManager on the fake runtime, a manual event loop and executor, and a real Store on a
// tmpfs (/dev/shm), where the store's fsyncs cost next to nothing during setup.
//
// Setup (untimed): N services (10,000) of M tasks each (10), created in batches and run to a
// steady state; then simulated time moves past the 10 s healthy-runtime timers. Timed: P passes
// of ServiceManager::MarkAllDirty() + ReconcileNow(), each of which must find nothing to do
// (no runtime call, no store write). Printed: min/median/max of the pass, the peak RSS (VmHWM)
// and a breakdown of the heap by owner, taken by destroying the owners one by one.
//
// Run: build/bin/reconcile_bench [--services N] [--tasks-per-service M] [--passes P]
//                                [--dir PARENT]. See docs/benchmarks.md. One thread.
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "machine.h"
#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/scheduler_stack.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/store/store.h"
#include "spdlog/spdlog.h"

namespace skiff::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kImage[] = "skiff.local/busybox:test";
constexpr int kBatch = 500;  // Services created between two settles.

volatile sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

struct Options {
  int services = 10000;
  int tasks_per_service = 10;
  int passes = 7;
  std::string dir = "/dev/shm";
};

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// A line of /proc/self/status ("VmHWM", "VmRSS") in MiB.
double StatusMiB(const std::string& key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (!absl::StartsWith(line, key + ":")) continue;
    int64_t kib = 0;
    std::string number = line.substr(key.size() + 1);
    number.erase(number.find("kB"));
    if (absl::SimpleAtoi(number, &kib)) return static_cast<double>(kib) / 1024;
  }
  return -1;
}

// Bytes the allocator has handed out and not got back.
double HeapMiB() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd) / (1024 * 1024);
}

int Usage(std::ostream& out, int code) {
  out << "usage: reconcile_bench [--services N] [--tasks-per-service M] [--passes P] [--dir D]\n"
         "  --services N           services to create (default 10000)\n"
         "  --tasks-per-service M  desired count of each (default 10)\n"
         "  --passes P             timed reconcile passes (default 7)\n"
         "  --dir D                where the store's temp dir goes (default /dev/shm, a tmpfs)\n";
  return code;
}

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)), scratch_(options_.dir, "skiff-reconcile-bench") {}

  int Run();

 private:
  bool Open();
  void Settle() {
    while (loop_.RunPending() + executor_.RunAll() > 0) {
    }
  }
  bool CreateServices();
  int CountRunningTasks() const;

  Options options_;
  bench::ScratchDir scratch_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  std::unique_ptr<fakes::FakeRuntime> runtime_ = std::make_unique<fakes::FakeRuntime>();
  std::unique_ptr<fakes::SchedulerStack> stack_;
  // The stack's parts.
  scheduler::TaskDefinitionRegistry* registry_ = nullptr;
  scheduler::TaskManager* tasks_ = nullptr;
  scheduler::ServiceManager* services_ = nullptr;
  int64_t service_saves_ = 0;
};

bool Bench::Open() {
  if (scratch_.path().empty()) {
    std::cerr << "reconcile_bench: cannot make a temp dir under " << options_.dir << "\n";
    return false;
  }
  runtime_->AddImage(kImage);
  absl::StatusOr<std::unique_ptr<fakes::SchedulerStack>> stack = fakes::SchedulerStack::Open(
      {.loop = &loop_,
       .executor = &executor_,
       .runtime = runtime_.get(),
       .clock = &clock_,
       .random = &random_},
      {.state_dir = scratch_.path() + "/state"});
  if (!stack.ok()) {
    std::cerr << "reconcile_bench: " << stack.status() << "\n";
    return false;
  }
  stack_ = *std::move(stack);
  registry_ = &stack_->registry();
  tasks_ = &stack_->tasks();
  services_ = &stack_->services();
  services_->AddListener([this](const store::StoredService&) { ++service_saves_; });
  v1::RegisterTaskDefinitionRequest request;
  absl::Status decoded = model::DecodeMessageText(
      R"({"family": "bench", "networkMode": "host", "containerDefinitions": [
          {"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
           "command": ["sleep", "3600"]}]})",
      &request);
  if (!decoded.ok() || !registry_->Register(request).ok()) {
    std::cerr << "reconcile_bench: cannot register the task definition\n";
    return false;
  }
  return true;
}

bool Bench::CreateServices() {
  const SteadyClock::time_point start = SteadyClock::now();
  for (int i = 0; i < options_.services; ++i) {
    if (interrupted) return false;
    v1::CreateServiceRequest request;
    request.set_service_name(absl::StrFormat("svc-%05d", i));
    request.set_task_definition("bench");
    request.set_desired_count(options_.tasks_per_service);
    if (auto created = services_->CreateService(request); !created.ok()) {
      std::cerr << "reconcile_bench: CreateService: " << created.status() << "\n";
      return false;
    }
    if ((i + 1) % kBatch == 0 || i + 1 == options_.services) {
      Settle();
      if ((i + 1) % (kBatch * 4) == 0 || i + 1 == options_.services) {
        std::cout << absl::StrFormat("  %6d services, %7d tasks running, %5.1f s, RSS %.0f MiB\n",
                                     i + 1, CountRunningTasks(),
                                     Ms(SteadyClock::now() - start) / 1000, StatusMiB("VmRSS"))
                  << std::flush;
      }
    }
  }
  // The 10 s healthy-runtime timers of every task fall due; the world is then at rest.
  loop_.AdvanceTime(absl::Seconds(11));
  Settle();
  return true;
}

int Bench::CountRunningTasks() const {
  int n = 0;
  tasks_->ForEachTask([&n](const store::StoredTask& t) { n += t.task.last_status() == "RUNNING"; });
  return n;
}

int Bench::Run() {
  if (!Open()) return 1;
  const int want = options_.services * options_.tasks_per_service;
  std::cout << "setup: " << options_.services << " services x " << options_.tasks_per_service
            << " tasks, store in " << scratch_.path() << "\n"
            << std::flush;
  const SteadyClock::time_point setup_start = SteadyClock::now();
  if (!CreateServices()) return 1;
  const double setup_s = Ms(SteadyClock::now() - setup_start) / 1000;
  if (const int running = CountRunningTasks(); running != want) {
    std::cerr << "reconcile_bench: " << running << " tasks RUNNING, want " << want << "\n";
    return 1;
  }

  const size_t calls_before = runtime_->calls().size();
  const int64_t saves_before = service_saves_;
  std::vector<double> mark_ms, pass_ms, total_ms;
  for (int p = 0; p < options_.passes && !interrupted; ++p) {
    const SteadyClock::time_point t0 = SteadyClock::now();
    services_->MarkAllDirty();
    const SteadyClock::time_point t1 = SteadyClock::now();
    const int looked_at = services_->ReconcileNow();
    const SteadyClock::time_point t2 = SteadyClock::now();
    if (looked_at != options_.services) {
      std::cerr << "reconcile_bench: the pass looked at " << looked_at << " services\n";
      return 1;
    }
    mark_ms.push_back(Ms(t1 - t0));
    pass_ms.push_back(Ms(t2 - t1));
    total_ms.push_back(Ms(t2 - t0));
    Settle();  // The pass MarkDirty posted finds nothing dirty.
  }
  const bool idle = runtime_->calls().size() == calls_before && service_saves_ == saves_before;
  if (!idle) {
    std::cerr << "reconcile_bench: a pass over a steady world did work: "
              << runtime_->calls().size() - calls_before << " runtime calls, "
              << service_saves_ - saves_before << " service writes\n";
    return 1;
  }

  const double hwm = StatusMiB("VmHWM"), rss = StatusMiB("VmRSS");
  // What one task's records weigh (protobuf's own accounting, strings included).
  int64_t task_bytes = 0;
  tasks_->ForEachTask([&task_bytes](const store::StoredTask& t) {
    if (task_bytes == 0) task_bytes = static_cast<int64_t>(t.task.SpaceUsedLong());
  });
  absl::StatusOr<store::StoredTaskDefinition> definition = registry_->Resolve("bench", "bench");
  const int64_t definition_bytes =
      definition.ok() ? static_cast<int64_t>(definition->definition.SpaceUsedLong()) : -1;
  // Who holds the heap: destroy the owners one at a time (the fake runtime first, since it is
  // not skiffd's; it keeps every container's spec and a log of every call).
  const double heap = HeapMiB();
  runtime_.reset();
  const double after_runtime = HeapMiB();
  std::map<std::string, double, std::less<>> after;  // The heap once each part is gone.
  stack_->TearDown([&after](absl::string_view part) { after[std::string(part)] = HeapMiB(); });
  const double after_services = after["services"];
  const double after_tasks = after["tasks"];
  const double after_store = after["store"];
  loop_.DropPending();
  const double after_loop = HeapMiB();

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  auto stats = [&median](const std::vector<double>& v) {
    return absl::StrFormat("%5zu %9.2f %9.2f %9.2f", v.size(), *std::min_element(v.begin(), v.end()),
                           median(v), *std::max_element(v.begin(), v.end()));
  };
  const double pass = median(total_ms);
  std::string load;
  std::ifstream("/proc/loadavg") >> load;
  std::cout << absl::StrFormat("setup took %.1f s; %d tasks RUNNING; load (1m) %s\n\n", setup_s,
                               want, load)
            << absl::StrFormat("%-36s %5s %9s %9s %9s\n", "", "runs", "min ms", "median ms",
                               "max ms")
            << absl::StrFormat("%-36s %s\n", "MarkAllDirty + ReconcileNow", stats(total_ms))
            << absl::StrFormat("%-36s %s\n", "  of which ReconcileNow", stats(pass_ms))
            << absl::StrFormat("%-36s %s\n", "  of which MarkAllDirty", stats(mark_ms))
            << absl::StrFormat("\npass over %d services: median %.1f ms (goal < 100 ms: %s)\n",
                               options_.services, pass, pass < 100 ? "met" : "NOT met")
            << absl::StrFormat("peak RSS (VmHWM) %.0f MiB, RSS now %.0f MiB (goal < 300 MiB: %s)\n",
                               hwm, rss, hwm < 300 ? "met" : "NOT met")
            << absl::StrFormat(
                   "heap in use at the end %.0f MiB: fake runtime %.0f, ServiceManager %.0f, "
                   "TaskManager %.0f, store + registry + clusters %.0f, loop timers %.0f, "
                   "other %.0f\n",
                   heap, heap - after_runtime, after["clusters"] - after_services,
                   after_services - after_tasks, after_tasks - after_store,
                   after_store - after_loop, after_loop)
            << absl::StrFormat("one task: its Task message %d B, the copy of its task definition "
                               "it holds %d B\n",
                               task_bytes, definition_bytes);
  return 0;
}

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) {
  skiff::bench::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto number = [&](int& out) {
      return i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &out) && out >= 1 && (++i, true);
    };
    if (arg == "--help" || arg == "-h") return skiff::bench::Usage(std::cout, 0);
    if (arg == "--services" && number(options.services)) continue;
    if (arg == "--tasks-per-service" && number(options.tasks_per_service)) continue;
    if (arg == "--passes" && number(options.passes)) continue;
    if (arg == "--dir" && i + 1 < argc) {
      options.dir = argv[++i];
      continue;
    }
    std::cerr << "reconcile_bench: bad argument " << arg << "\n";
    return skiff::bench::Usage(std::cerr, 2);
  }
  spdlog::set_level(spdlog::level::warn);
  // Ctrl-C stops the setup; the temp dir is removed on the way out.
  struct sigaction action {};
  action.sa_handler = skiff::bench::OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  skiff::bench::Bench bench(std::move(options));
  return bench.Run();
}

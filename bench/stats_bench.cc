// stats_bench: what container stats cost skiffd. A service of N (100) sleeping containers runs
// through skiffd on a private containerd with --stats-interval I (1 s); once it is stable, the
// bench measures over S (20) seconds skiffd's CPU time (/proc/PID/stat), containerd's (its own
// process; the shims that read the cgroups are counted apart) and the Tasks.Metrics calls that
// skiffd's /metrics recorded meanwhile (count, mean latency). Everything is removed on exit,
// failure and Ctrl-C included.
//
// Run as root: build/bin/stats_bench [--containers N] [--interval SECONDS] [--seconds S].
// Main thread only.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "harness.h"
#include "support/subprocess.h"

namespace skiff::bench {
namespace {

struct Options {
  int containers = 100;
  int interval = 1;
  int seconds = 20;
};

// utime + stime of a process, in seconds; 0 when it is gone.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {  // Field 3 is the state.
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of the shims of the containerd at `address` (they read the cgroups for
// Tasks.Metrics); the machine's other containerds' shims are left out.
double ShimCpuSeconds(const std::string& address) {
  double total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (!absl::StartsWith(name, "containerd-shim")) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), {});
    if (!absl::StrContains(args, address)) continue;
    pid_t pid = 0;
    if (absl::SimpleAtoi(entry.path().filename().string(), &pid)) total += CpuSeconds(pid);
  }
  return total;
}

// The Tasks.Metrics calls skiffd recorded: count and summed seconds.
struct MetricsCalls {
  double count = 0;
  double seconds = 0;
};

MetricsCalls ScrapeMetricsCalls(const std::string& url) {
  MetricsCalls out;
  absl::StatusOr<skiff::testing::CommandResult> r = skiff::testing::RunCommand(
      {"curl", "-sS", "--noproxy", "*", url + "/metrics"}, absl::Seconds(10));
  if (!r.ok()) return out;
  std::istringstream lines(r->stdout_text);
  for (std::string line; std::getline(lines, line);) {
    const std::string series = "skiff_containerd_request_duration_seconds";
    const std::string labels = "{method=\"Tasks.Metrics\"} ";
    double value = 0;
    if (absl::StartsWith(line, series + "_count" + labels) &&
        absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
      out.count = value;
    } else if (absl::StartsWith(line, series + "_sum" + labels) &&
               absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
      out.seconds = value;
    }
  }
  return out;
}

class StatsBench {
 public:
  explicit StatsBench(Options options) : options_(options) {}

  absl::Status Setup() {
    absl::StatusOr<std::unique_ptr<BenchHarness>> harness = BenchHarness::Start(
        {.name = "stats_bench",
         .import_for_ctr = false,
         .skiffd_flags = {"--stats-interval", absl::StrCat(options_.interval)}});
    if (!harness.ok()) return harness.status();
    harness_ = *std::move(harness);
    return absl::OkStatus();
  }

  absl::Status Run() {
    if (absl::Status s = StartService(); !s.ok()) return s;
    // Two rounds, so that every container has two samples before the measurement starts.
    std::this_thread::sleep_for(std::chrono::seconds(2 * options_.interval + 1));
    const pid_t skiffd = harness_->skiffd().pid();
    const pid_t containerd = harness_->containerd().pid();
    const std::string url = harness_->skiffd().HttpEndpoint();
    const MetricsCalls calls0 = ScrapeMetricsCalls(url);
    const double skiffd0 = CpuSeconds(skiffd), containerd0 = CpuSeconds(containerd);
    const double shims0 = ShimCpuSeconds(harness_->containerd().socket_path());
    const absl::Time t0 = absl::Now();
    for (int i = 0; i < options_.seconds * 10 && !Interrupted(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
    const double skiffd1 = CpuSeconds(skiffd), containerd1 = CpuSeconds(containerd);
    const double shims1 = ShimCpuSeconds(harness_->containerd().socket_path());
    const MetricsCalls calls1 = ScrapeMetricsCalls(url);
    const double n = calls1.count - calls0.count;
    harness_->PrintMachine({{"containers", absl::StrCat(options_.containers)},
                            {"--stats-interval", absl::StrCat(options_.interval, " s")}});
    std::cout << absl::StrFormat("\n%-44s %10s\n", "over the window", "value")
              << absl::StrFormat("%-44s %10.1f\n", "wall seconds", wall)
              << absl::StrFormat("%-44s %10.0f\n", "Tasks.Metrics calls", n)
              << absl::StrFormat("%-44s %10.2f\n", "Tasks.Metrics mean latency (ms)",
                                 n > 0 ? (calls1.seconds - calls0.seconds) / n * 1000 : 0)
              << absl::StrFormat("%-44s %10.2f\n", "skiffd CPU (% of one core)",
                                 (skiffd1 - skiffd0) / wall * 100)
              << absl::StrFormat("%-44s %10.2f\n", "containerd CPU (% of one core)",
                                 (containerd1 - containerd0) / wall * 100)
              << absl::StrFormat("%-44s %10.2f\n", "its shims CPU (% of one core)",
                                 (shims1 - shims0) / wall * 100);
    return absl::OkStatus();
  }

  void Shutdown() {
    if (harness_ != nullptr) harness_->Shutdown();
  }

 private:
  absl::Status StartService() {
    const std::string definition = R"({"family": "stats", "networkMode": "host",
        "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test",
          "memory": 8, "command": ["sh", "-c", "exec sleep 100000"]}]})";
    if (absl::Status s = harness_->client().RegisterTaskDefinition(definition); !s.ok()) return s;
    v1::CreateServiceRequest create;
    create.set_service_name("stats");
    create.set_task_definition("stats");
    create.set_desired_count(options_.containers);
    if (absl::StatusOr<v1::Service> s = harness_->client().CreateService(create); !s.ok()) {
      return s.status();
    }
    const int want = options_.containers;
    absl::StatusOr<v1::Service> stable = harness_->client().WaitForService(
        "stats", [want](const v1::Service& s) { return s.running_count() == want; },
        "all tasks running", absl::Seconds(600), absl::Seconds(1));
    return stable.status();
  }

  Options options_;
  std::unique_ptr<BenchHarness> harness_;
};

bool ParseFlags(int argc, char** argv, Options* options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    int* target = flag == "--containers" ? &options->containers
                  : flag == "--interval" ? &options->interval
                  : flag == "--seconds"  ? &options->seconds
                                         : nullptr;
    if (target == nullptr || !absl::SimpleAtoi(argv[i + 1], target) || *target <= 0) return false;
  }
  return argc % 2 == 1;
}

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) {
  skiff::bench::Options options;
  if (!skiff::bench::ParseFlags(argc, argv, &options)) {
    std::cerr << "usage: stats_bench [--containers N] [--interval SECONDS] [--seconds S]\n";
    return 2;
  }
  skiff::bench::StatsBench bench(options);
  return skiff::bench::SetUpRunAndShutDown("stats_bench", bench);
}

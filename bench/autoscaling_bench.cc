// autoscaling_bench: how fast a service scales out on real CPU load, and that it does not flap.
//
// Measured (real skiffd, private containerd, --stats-interval I, default 10 s as skiffd's): a
// service of busybox tasks with cpu 256 burns CPU while a file exists in a host directory they
// all mount. Target tracking on ECSServiceAverageCPUUtilization, target 50, min 1 max 3,
// ScaleOutCooldown 0. Each run turns the load on with 1 task running and times the scale-out
// decision (the activity's StartTime) and the new task RUNNING (describe-services polled every
// 200 ms); then the load goes off, the count is set back to 1 by hand and the bench waits for
// 3 idle samples, so the next run starts from an idle history. Where in a sampling interval the
// load starts decides most of the time: run i of N starts (i + 0.5) / N of an interval after a
// stats round (DescribeStats' sampledAt), so the runs cover the interval evenly.
//
// Simulated (the Autoscaler engine alone, in simulated time, no containers): 10 minutes of
// 10 s samples of a metric held at target ±5% (uniform noise, fixed seed), counting scaling
// activities with the default 10% tolerance and with 0 (AWS's alarm at the target itself).
//
// Run as root: build/bin/autoscaling_bench [--runs N] [--interval SECONDS].
// Main thread only.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "harness.h"
#include "nlohmann/json.hpp"
#include "skiff/scaling/autoscaler.h"

namespace skiff::bench {
namespace {

using json = nlohmann::json;

struct Options {
  int runs = 3;
  int interval = 10;
};

// Activities of the simulated hold at target ±5% for ten minutes.
int SimulatedActivities(double tolerance) {
  scaling::Autoscaler engine({.scale_out_tolerance = tolerance,
                              .max_sample_gap = absl::Seconds(30)});
  const scaling::ScalableTarget target{.resource_id = "service/default/web", .min_capacity = 1,
                                       .max_capacity = 10};
  const std::vector<scaling::TargetTrackingPolicy> policies = {
      {.name = "cpu50", .target_value = 50, .scale_out_cooldown = absl::Seconds(60),
       .scale_in_cooldown = absl::Seconds(60)}};
  std::mt19937 random(20);
  std::uniform_real_distribution<double> noise(-0.05, 0.05);
  scaling::AutoscalerState state;
  int desired = 3;
  int activities = 0;
  const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i <= 60; ++i) {
    const scaling::Sample sample{.at = t0 + absl::Seconds(10 * i), .desired_count = desired,
                                 .running_count = desired,
                                 .metrics = {.cpu_utilization = 50 * (1 + noise(random))}};
    if (auto decision = engine.Evaluate(target, policies, state, sample)) {
      ++activities;
      desired = decision->new_desired_count;
      state = decision->state_after;
    }
  }
  return activities;
}

class AutoscalingBench {
 public:
  explicit AutoscalingBench(Options options) : options_(options) {}

  absl::Status Setup() {
    absl::StatusOr<std::unique_ptr<BenchHarness>> harness = BenchHarness::Start(
        {.name = "autoscaling_bench",
         .import_for_ctr = false,
         .skiffd_flags = {"--stats-interval", absl::StrCat(options_.interval)}});
    if (!harness.ok()) return harness.status();
    harness_ = *std::move(harness);
    load_dir_ = harness_->skiffd().dir() + "/load";
    std::filesystem::create_directories(load_dir_);
    return absl::OkStatus();
  }

  absl::Status Run() {
    if (absl::Status s = StartService(); !s.ok()) return s;
    Row decision{"load start -> scale-out decision"}, running{"load start -> new task RUNNING"};
    for (int run = 0; run < options_.runs && !Interrupted(); ++run) {
      if (absl::Status s = OneRun(run, decision, running); !s.ok()) return s;
    }
    harness_->PrintMachine({{"--stats-interval", absl::StrCat(options_.interval, " s")},
                            {"runs", absl::StrCat(decision.samples.size())}});
    PrintTable(decision, running);
    return absl::OkStatus();
  }

  void Shutdown() {
    std::error_code ec;
    std::filesystem::remove(load_dir_ + "/burn", ec);
    if (harness_ != nullptr) harness_->Shutdown();
  }

 private:
  absl::StatusOr<json> Cli(const std::vector<std::string>& args) {
    absl::StatusOr<std::string> out = harness_->Skiff(args);
    if (!out.ok()) return out.status();
    if (out->empty()) return json();
    return json::parse(*out, nullptr, false);
  }

  absl::Status StartService() {
    const json definition = {
        {"family", "burner"}, {"networkMode", "host"}, {"cpu", "256"}, {"memory", "64"},
        {"volumes", json::array({{{"name", "load"}, {"host", {{"sourcePath", load_dir_}}}}})},
        {"containerDefinitions",
         json::array({{{"name", "main"}, {"image", "skiff.local/busybox:test"},
                       {"stopTimeout", 2},
                       {"mountPoints", json::array({{{"sourceVolume", "load"},
                                                     {"containerPath", "/load"}}})},
                       {"command", json::array({"sh", "-c",
                                                "trap 'exit 0' TERM; while :; do while [ -e "
                                                "/load/burn ]; do :; done; sleep 1; done"})}}})}};
    if (absl::Status s = harness_->client().RegisterTaskDefinition(definition.dump()); !s.ok()) {
      return s;
    }
    const std::vector<std::vector<std::string>> steps = {
        {"create-service", "--service-name", "hot", "--task-definition", "burner",
         "--desired-count", "1"},
        {"wait", "services-stable", "--services", "hot", "--timeout", "60"},
        {"application-autoscaling", "register-scalable-target", "--service-namespace", "ecs",
         "--scalable-dimension", "ecs:service:DesiredCount", "--resource-id",
         "service/default/hot", "--min-capacity", "1", "--max-capacity", "3"},
        {"application-autoscaling", "put-scaling-policy", "--service-namespace", "ecs",
         "--scalable-dimension", "ecs:service:DesiredCount", "--resource-id",
         "service/default/hot", "--policy-name", "cpu50", "--policy-type",
         "TargetTrackingScaling", "--target-tracking-scaling-policy-configuration",
         R"({"TargetValue": 50, "PredefinedMetricSpecification": {"PredefinedMetricType":
             "ECSServiceAverageCPUUtilization"}, "ScaleOutCooldown": 0,
             "ScaleInCooldown": 3600})"}};
    for (const auto& step : steps) {
      if (absl::StatusOr<json> r = Cli(step); !r.ok()) return r.status();
    }
    return absl::OkStatus();
  }

  // The newest activity's StartTime (epoch seconds), 0 when none.
  double NewestActivity() {
    absl::StatusOr<json> a = Cli({"application-autoscaling", "describe-scaling-activities",
                                  "--service-namespace", "ecs"});
    if (!a.ok() || !a->contains("ScalingActivities") || (*a)["ScalingActivities"].empty()) {
      return 0;
    }
    return (*a)["ScalingActivities"][0].value("StartTime", 0.0);
  }

  absl::Status WaitForPhase(double phase);
  absl::Status OneRun(int run, Row& decision, Row& running);
  absl::Status Reset();
  void PrintTable(const Row& decision, const Row& running) const;

  Options options_;
  std::unique_ptr<BenchHarness> harness_;
  std::string load_dir_;
};

// Sleeps until `phase` (0-1) of an interval after the next stats round.
absl::Status AutoscalingBench::WaitForPhase(double phase) {
  auto sampled_at = [this]() -> absl::StatusOr<double> {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::DescribeStatsResponse response;
    grpc::Status s =
        harness_->client().node().DescribeStats(&context, v1::DescribeStatsRequest(), &response);
    if (!s.ok()) return absl::UnavailableError("DescribeStats: " + s.error_message());
    return response.sampled_at();
  };
  const absl::StatusOr<double> first = sampled_at();
  if (!first.ok()) return first.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(3 * options_.interval);
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const absl::StatusOr<double> now = sampled_at();
    if (!now.ok()) return now.status();
    if (*now != *first) break;
    if (absl::Now() > deadline) return absl::DeadlineExceededError("no stats round");
  }
  absl::SleepFor(absl::Seconds(phase * options_.interval));
  return absl::OkStatus();
}

absl::Status AutoscalingBench::OneRun(int run, Row& decision, Row& running) {
  if (absl::Status s = WaitForPhase((run + 0.5) / options_.runs); !s.ok()) return s;
  const double before = NewestActivity();
  const absl::Time start = absl::Now();
  std::ofstream(load_dir_ + "/burn") << "1";
  const absl::Time deadline = start + absl::Seconds(12 * options_.interval + 30);
  double decided_at = 0;
  while (absl::Now() < deadline && !Interrupted()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    absl::StatusOr<json> s = Cli({"describe-services", "--services", "hot"});
    if (!s.ok()) return s.status();
    const json& service = (*s)["services"][0];
    if (decided_at == 0 && service["desiredCount"].get<int>() > 1) {
      decided_at = NewestActivity();
      if (decided_at <= before) decided_at = 0;  // Not yet visible: next poll.
    }
    if (decided_at > 0 && service["runningCount"].get<int>() >= 2) {
      const double t0 = absl::ToDoubleSeconds(start - absl::UnixEpoch());
      decision.samples.push_back((decided_at - t0) * 1000);
      running.samples.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
      std::cerr << absl::StrFormat("run %d: decision %.1f s, RUNNING %.1f s\n",
                                   decision.samples.size(), decision.samples.back() / 1000,
                                   running.samples.back() / 1000);
      return Reset();
    }
  }
  return absl::DeadlineExceededError("no scale-out within 12 sampling intervals + 30 s");
}

// Load off, back to 1 task by hand, and idle samples until the history has no high one.
absl::Status AutoscalingBench::Reset() {
  std::filesystem::remove(load_dir_ + "/burn");
  for (const auto& step : std::vector<std::vector<std::string>>{
           {"update-service", "--service", "hot", "--desired-count", "1"},
           {"wait", "services-stable", "--services", "hot", "--timeout", "60"}}) {
    if (absl::StatusOr<json> r = Cli(step); !r.ok()) return r.status();
  }
  for (int i = 0; i < 40 * options_.interval && !Interrupted(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::OkStatus();
}

void AutoscalingBench::PrintTable(const Row& decision, const Row& running) const {
  const auto line = [](const std::string& name, const std::string& value,
                       const std::string& source) {
    std::cout << absl::StrFormat("%-46s %-22s %s\n", name, value, source);
  };
  const auto measured = [](const Row& row) {
    return absl::StrFormat("%.1f s (%.1f-%.1f)", row.Median() / 1000, row.Min() / 1000,
                           row.Max() / 1000);
  };
  std::cout << "\n";
  line("scale-out", "median (min-max)", "source");
  line("skiff: load start -> decision", measured(decision), "measured");
  line("skiff: load start -> new task RUNNING", measured(running), "measured");
  line("ECS: load start -> scale-out triggered", "86-363 s", "AWS documented, not measured");
  line("Kubernetes HPA: decision loop", "every 15 s", "documented default, not measured");
  std::cout << "\n";
  line("no flapping (10 min at target +-5%)", "activities", "source");
  line("skiff engine, tolerance 10% (default)", absl::StrCat(SimulatedActivities(0.1)),
       "simulated time, 61 samples at 10 s");
  line("engine with tolerance 0 (alarm at target)", absl::StrCat(SimulatedActivities(0)),
       "simulated time, same samples");
}

bool ParseFlags(int argc, char** argv, Options* options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    int* target = flag == "--runs"       ? &options->runs
                  : flag == "--interval" ? &options->interval
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
    std::cerr << "usage: autoscaling_bench [--runs N] [--interval SECONDS]\n";
    return 2;
  }
  skiff::bench::AutoscalingBench bench(options);
  return skiff::bench::SetUpRunAndShutDown("autoscaling_bench", bench);
}

// `skiff stats` against the kernel: skiffd samples every second (--stats-interval 1); a task
// with cpu 256 (a CFS quota of a quarter core) burns CPU in a shell loop and another sleeps.
// What `skiff stats --no-stream --output json` reports is compared with the containers' cgroup
// files read directly (cgroup v1: cpuacct.usage, memory.usage_in_bytes and memory.stat's
// total_inactive_file), found through /proc/PID/cgroup of the containers' processes.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <utility>
#include <vector>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/subprocess.h"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;

// The cgroup v1 path of `controller` ("cpuacct", "memory") of a process whose cgroup ends with
// `runtime_id`, from the /proc/PID/cgroup of any process in it; "" when none is found.
std::string CgroupDir(const std::string& runtime_id, const std::string& controller) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream in(entry.path() / "cgroup");
    for (std::string line; std::getline(in, line);) {
      // "4:cpuacct:/ns/id" or "3:cpu,cpuacct:/ns/id".
      std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
      if (parts.size() != 3 || !absl::EndsWith(parts[2], "/" + runtime_id)) continue;
      for (absl::string_view c : absl::StrSplit(parts[1], ',')) {
        if (c != controller) continue;
        const std::string mount = absl::StrCat("/sys/fs/cgroup/", parts[1]);
        const std::string base =
            std::filesystem::exists(mount) ? mount : "/sys/fs/cgroup/" + controller;
        return base + parts[2];
      }
    }
  }
  return "";
}

uint64_t ReadNumber(const std::string& path) {
  std::ifstream in(path);
  uint64_t n = 0;
  in >> n;
  return n;
}

uint64_t MemoryStat(const std::string& dir, const std::string& key) {
  std::ifstream in(dir + "/memory.stat");
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

// A cumulative cgroup counter read every 2 ms on a thread of its own until Stop(); At(t)
// interpolates it at wall-clock time t (epoch seconds), as skiffd's sample times are.
class KernelCounter {
 public:
  explicit KernelCounter(std::string path)
      : path_(std::move(path)), thread_([this] { Record(); }) {}
  ~KernelCounter() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  double At(double t) const {
    for (size_t i = 1; i < readings_.size(); ++i) {
      const auto& [t0, v0] = readings_[i - 1];
      const auto& [t1, v1] = readings_[i];
      if (t0 <= t && t <= t1) return v0 + (v1 - v0) * (t - t0) / std::max(t1 - t0, 1e-9);
    }
    ADD_FAILURE() << "no reading around " << t;
    return 0;
  }

 private:
  void Record() {
    while (!stop_) {
      const double t = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
      readings_.emplace_back(t, static_cast<double>(ReadNumber(path_)));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  const std::string path_;
  std::atomic<bool> stop_{false};
  std::vector<std::pair<double, double>> readings_;  // Written by thread_ until Stop().
  std::thread thread_;
};

class StatsTest : public E2eTest {
 protected:
  StatsTest() { namespace_prefix_ = "skiff-stats"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // A skip only on a developer's machine: in CI a missing hierarchy fails the test.
    SKIFF_REQUIRE_NOTHING_MISSING(std::filesystem::exists("/sys/fs/cgroup/memory")
                                      ? std::string()
                                      : std::string("this test reads cgroup v1 files; the host "
                                                    "has no v1 memory hierarchy"));
    ASSERT_NO_FATAL_FAILURE(StartSkiffd({"--stats-interval", "1"}));
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
  }

  void Register(const std::string& family, const std::string& script) {
    RegisterTaskDefinition(
        {{"family", family},
         {"networkMode", "host"},
         {"cpu", "256"},
         {"memory", "128"},
         {"containerDefinitions",
          json::array({{{"name", "main"},
                        {"image", skiff::testing::kTestImageRef},
                        {"command", json::array({"sh", "-c", script})}}})}});
  }

  // The container of `task` in a `skiff stats --no-stream --output json`.
  json ContainerOf(const json& stats, const std::string& task) {
    for (const json& t : stats.value("tasks", json::array())) {
      if (absl::EndsWith(t.value("taskArn", ""), task)) return t["containers"][0];
    }
    return json();
  }
};

TEST_F(StatsTest, CpuAndWorkingSetAgreeWithTheCgroupFiles) {
  Register("burner", "while :; do :; done");
  Register("idler", "exec sleep 100000");
  const std::string burner = RunTask("burner");
  const std::string idler = RunTask("idler");
  ASSERT_FALSE(WaitForTaskStatus(burner, "RUNNING", absl::Seconds(20)).task_arn().empty());
  ASSERT_FALSE(WaitForTaskStatus(idler, "RUNNING", absl::Seconds(20)).task_arn().empty());
  const std::string cpu_dir = CgroupDir(burner + "-main", "cpuacct");
  const std::string memory_dir = CgroupDir(burner + "-main", "memory");
  ASSERT_FALSE(cpu_dir.empty()) << "no process in a cgroup of " << burner << "-main";
  ASSERT_FALSE(memory_dir.empty());

  // The kernel's counter, read every 2 ms while skiffd samples, so that its rate can be taken
  // over exactly the interval between skiffd's two samples.
  KernelCounter kernel(cpu_dir + "/cpuacct.usage");
  json before;
  for (int i = 0; i < 40 && !before.contains("cpuPercent"); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    before = ContainerOf(Ok({"stats", "--no-stream", "--output", "json"}), burner);
  }
  json after = before;
  for (int i = 0; i < 40 && after.value("sampledAt", 0.0) <= before.value("sampledAt", 0.0);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = ContainerOf(Ok({"stats", "--no-stream", "--output", "json"}), burner);
  }
  kernel.Stop();
  const json stats = Ok({"stats", "--no-stream", "--output", "json"});
  const uint64_t usage = ReadNumber(memory_dir + "/memory.usage_in_bytes");
  const uint64_t inactive = MemoryStat(memory_dir, "total_inactive_file");
  const double kernel_working_set = static_cast<double>(usage - std::min(usage, inactive));

  ASSERT_TRUE(after.contains("cpuPercent")) << after.dump(2);
  const double from = before["sampledAt"].get<double>(), to = after["sampledAt"].get<double>();
  ASSERT_LT(to - from, 1.5) << "two samples of a 1 s interval, one after the other";
  const double kernel_percent =
      (kernel.At(to) - kernel.At(from)) / ((to - from) * 1e9) * 100;
  const double cpu = after["cpuPercent"].get<double>();
  const json idle = ContainerOf(stats, idler);
  const json burning = ContainerOf(stats, burner);
  std::cout << "burner over " << (to - from) << " s: skiff stats " << cpu << "% CPU, cgroup "
            << kernel_percent << "%; working set skiff " << burning["memoryWorkingSetBytes"]
            << " B, cgroup " << kernel_working_set << " B; idle " << idle["cpuPercent"]
            << "% CPU\n";
  // cpu 256: a quota of a quarter core, which the loop uses whole on an idle host and less
  // beside a busy suite on two cores.
  EXPECT_GT(kernel_percent, 10);
  EXPECT_LT(kernel_percent, 25 * 1.1);
  EXPECT_NEAR(cpu, kernel_percent, kernel_percent * 0.05);
  EXPECT_LT(idle["cpuPercent"].get<double>(), 1.0);
  // The sample is up to a second older than this reading, and the kernel moves a new
  // container's file pages to its inactive list meanwhile (seen: 608 KiB sampled, 228 KiB read
  // after). So within 5% or 1 MiB, which still tells the working set from the limit (128 MiB)
  // or from usage with the page cache of a busier container in it.
  EXPECT_NEAR(burning["memoryWorkingSetBytes"].get<double>(), kernel_working_set,
              std::max(kernel_working_set * 0.05, 1024.0 * 1024));
  EXPECT_EQ(burning["memoryLimitBytes"].get<int64_t>(), int64_t{128} << 20);
}

TEST_F(StatsTest, AServiceReportsItsUtilizationAndTheTableShowsIt) {
  Register("busy", "while :; do :; done");
  Ok({"create-service", "--service-name", "hot", "--task-definition", "busy",
      "--desired-count", "1"});
  Ok({"wait", "services-stable", "--services", "hot"});
  json service, stats;
  // Two samples of the task's container are needed: wait for the second, up to ten seconds.
  for (int i = 0; i < 20 && !service.contains("cpuUtilization"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stats = Ok({"stats", "--service", "hot", "--no-stream", "--output", "json"});
    if (stats.contains("services")) service = stats["services"][0];
  }
  ASSERT_TRUE(service.contains("cpuUtilization")) << service.dump();
  ASSERT_EQ(stats["tasks"].size(), 1u) << stats.dump(2);
  const double task_percent = stats["tasks"][0]["cpuPercent"].get<double>();
  const double utilization = service["cpuUtilization"].get<double>();
  // ECS's figure: the task's CPU over the 256 units (a quarter core) it reserves, from the
  // same sample. The loop is held to that quota, so at most about 100%; how close it gets
  // depends on what else the host runs (81% seen in CI beside the rest of the suite), and
  // its agreement with the kernel's counter is the test above's.
  EXPECT_NEAR(utilization, task_percent / 25 * 100, 0.01) << stats.dump(2);
  EXPECT_GT(utilization, 40);
  EXPECT_LT(utilization, 105);
  EXPECT_LT(service["memoryUtilization"].get<double>(), 10);
  const skiff::testing::CommandResult table = Skiff({"stats", "--no-stream"});
  ASSERT_EQ(table.exit_code, 0) << table.stderr_text;
  std::cout << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(table.stdout_text, "CONTAINER")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(table.stdout_text, "MEM USAGE / LIMIT")) << table.stdout_text;
  EXPECT_TRUE(absl::StrContains(table.stdout_text, "hot")) << table.stdout_text;

  // Without --no-stream it prints a round every interval (1 s) until interrupted.
  absl::StatusOr<skiff::testing::CommandResult> stream = skiff::testing::RunCommand(
      {"sh", "-c", "timeout -s INT 2.5 \"$0\" --socket \"$1\" stats; exit 0", SKIFF_BINARY,
       skiffd_->socket()},
      absl::Seconds(10));
  ASSERT_TRUE(stream.ok()) << stream.status();
  size_t rounds = 0;
  for (size_t at = stream->stdout_text.find("CONTAINER"); at != std::string::npos;
       at = stream->stdout_text.find("CONTAINER", at + 1)) {
    ++rounds;
  }
  EXPECT_GE(rounds, 2u) << stream->stdout_text;
}

}  // namespace
}  // namespace skiff::e2e

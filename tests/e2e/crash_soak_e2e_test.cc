// The crash-safety soak: skiffd is SIGKILLed at random moments, 25 times, while one service
// scales (UpdateService desiredCount) and rolls (UpdateService to a new revision, the revisions
// differing by an environment variable). Kills land right after a write is acknowledged, while a
// write is in flight, in the middle of launches and rollouts, and once the service is stable
// (then the restart must change nothing: same tasks, same processes). After every restart the
// service must read back as its last acknowledged write (or a write whose answer the kill cut
// off); after the last one it must become stable with exactly its desired count running on the
// final revision, and the store and containerd must match one to one.
//
// Random but reproducible: the seed is printed at the start and in every failure message, and
// SKIFF_SOAK_SEED=N replays the same writes, kill moments and pauses (the machine's timing still
// varies). Bounded: 25 kills, and the whole soak fails past kBudget.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "crash_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::e2e {
namespace {

constexpr int kKills = 25;
constexpr int kMaxCount = 4;
// Kills, restarts and the final settling together; CTest's timeout for this test is above it.
constexpr absl::Duration kBudget = absl::Minutes(4);
constexpr char kService[] = "web";

uint64_t SoakSeed() {
  uint64_t seed = 0;
  if (const char* env = getenv("SKIFF_SOAK_SEED"); env != nullptr && absl::SimpleAtoi(env, &seed)) {
    return seed;
  }
  return std::random_device()();
}

// What the store may hold for a value after the kills: the last acknowledged write, plus every
// write sent after it whose answer did not come (it may or may not have committed).
class Candidates {
 public:
  explicit Candidates(int acknowledged) : values_{acknowledged} {}
  void Acknowledged(int value) { values_ = {value}; }
  void Unanswered(int value) { values_.insert(value); }
  bool Allows(int value) const { return values_.count(value) > 0; }
  std::string ToString() const { return absl::StrJoin(values_, ","); }

 private:
  std::set<int> values_;
};

// Whether a failed call is what a SIGKILL of the server does to a call (connection gone), as
// opposed to the server refusing it.
bool CutOffByTheKill(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::CANCELLED ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         s.error_code() == grpc::StatusCode::UNKNOWN;
}

int RevisionOf(const std::string& task_definition_arn) {
  int revision = -1;
  const size_t colon = task_definition_arn.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(task_definition_arn.substr(colon + 1), &revision)) {
    return -1;
  }
  return revision;
}

TEST_F(CrashTest, TwentyFiveRandomKill9sWhileAServiceScalesAndRolls) {
  const uint64_t seed = SoakSeed();
  std::cout << "crash soak: seed " << seed << " (SKIFF_SOAK_SEED=" << seed << " replays it)"
            << std::endl;
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE(absl::StrCat("SKIFF_SOAK_SEED=", seed));
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const absl::Time begin = absl::Now();

  Start();
  Setup();
  ASSERT_TRUE(CreateService(kService, 2).ok());
  Candidates desired(2);
  Candidates revision(1);
  int latest_revision = 1;
  int kills_in_flight = 0;
  int writes_cut_off = 0;

  for (int kill = 0; kill < kKills; ++kill) {
    SCOPED_TRACE(absl::StrCat("kill ", kill + 1, " of ", kKills));
    ASSERT_LT(absl::Now() - begin, kBudget) << "soak over its time budget";

    // 1 to 3 writes; the last one may be sent while the kill lands.
    const int writes = uniform(1, 3);
    // 0: kill as soon as the last write is answered; 1: kill while it is in flight;
    // 2: kill after a random pause, in the middle of launches, stops and rollouts;
    // 3: kill once the service is stable, which must then change nothing at all.
    const int when = uniform(0, 3);
    for (int w = 0; w < writes; ++w) {
      const bool in_flight = when == 1 && w == writes - 1;
      std::optional<int> count;
      std::optional<int> roll_to;
      if (uniform(0, 1) == 0) {
        count = uniform(1, kMaxCount);
      } else {
        absl::StatusOr<int> registered = RegisterSleeper(absl::StrCat("kill", kill, "-", w));
        ASSERT_TRUE(registered.ok()) << registered.status();
        ASSERT_EQ(*registered, latest_revision + 1);
        latest_revision = *registered;
        roll_to = *registered;
        if (uniform(0, 2) == 0) count = uniform(1, kMaxCount);  // Scale and roll at once.
      }
      std::optional<std::string> definition;
      if (roll_to) definition = absl::StrCat(kFamily, ":", *roll_to);
      grpc::Status answer;
      if (in_flight) {
        ++kills_in_flight;
        std::thread writer([&] { answer = UpdateService(kService, count, definition); });
        absl::SleepFor(absl::Microseconds(uniform(0, 3000)));
        Kill9();
        writer.join();
      } else {
        answer = UpdateService(kService, count, definition);
        ASSERT_TRUE(answer.ok()) << answer.error_message();
      }
      if (answer.ok()) {
        if (count) desired.Acknowledged(*count);
        if (roll_to) revision.Acknowledged(*roll_to);
      } else {
        ASSERT_TRUE(CutOffByTheKill(answer))
            << "refused: " << answer.error_code() << " " << answer.error_message();
        ++writes_cut_off;
        if (count) desired.Unanswered(*count);
        if (roll_to) revision.Unanswered(*roll_to);
      }
    }
    if (when == 2) absl::SleepFor(absl::Milliseconds(uniform(0, 2000)));
    std::vector<std::string> settled;
    std::map<std::string, int> settled_pids;
    if (when == 3) {
      WaitStable(kService);
      ASSERT_FALSE(HasFatalFailure());
      settled = Tasks("RUNNING", kService);
      std::sort(settled.begin(), settled.end());
      settled_pids = Pids();
    }
    if (when != 1) Kill9();
    ASSERT_FALSE(HasFatalFailure());

    Start();
    ASSERT_FALSE(HasFatalFailure());
    absl::StatusOr<v1::Service> service = DescribeService(kService);
    ASSERT_TRUE(service.ok()) << service.status();
    const int stored_revision = RevisionOf(service->task_definition());
    ASSERT_TRUE(desired.Allows(service->desired_count()))
        << "desired count " << service->desired_count() << ", wrote " << desired.ToString();
    ASSERT_TRUE(revision.Allows(stored_revision))
        << "revision " << stored_revision << ", wrote " << revision.ToString();
    // What the restarted daemon reads back is what it holds from now on.
    desired.Acknowledged(service->desired_count());
    revision.Acknowledged(stored_revision);
    if (when == 3) {
      // Adopted as they were: the same tasks, each with the same process.
      WaitStable(kService);
      ASSERT_FALSE(HasFatalFailure());
      std::vector<std::string> now = Tasks("RUNNING", kService);
      std::sort(now.begin(), now.end());
      EXPECT_EQ(now, settled) << "a kill of a stable service replaced tasks";
      const std::map<std::string, int> pids = Pids();
      for (const std::string& id : settled) {
        auto before = settled_pids.find(id + "-app");
        auto after = pids.find(id + "-app");
        ASSERT_NE(before, settled_pids.end()) << id << " had no process while stable";
        EXPECT_TRUE(after != pids.end() && after->second == before->second)
            << id << ": process " << before->second << " not adopted";
      }
    }
  }

  // The daemon of the last restart runs; it must finish whatever the kills interrupted.
  const absl::Duration left = kBudget - (absl::Now() - begin);
  ASSERT_GT(left, absl::ZeroDuration()) << "soak over its time budget";
  WaitStable(kService, left);
  ASSERT_FALSE(HasFatalFailure());
  absl::StatusOr<v1::Service> service = DescribeService(kService);
  ASSERT_TRUE(service.ok()) << service.status();
  const int final_revision = RevisionOf(service->task_definition());
  EXPECT_TRUE(revision.Allows(final_revision)) << final_revision;
  const std::vector<std::string> running = Tasks("RUNNING", kService);
  EXPECT_EQ(static_cast<int>(running.size()), service->desired_count())
      << absl::StrJoin(running, " ");
  for (const std::string& id : running) {
    const v1::Task task = DescribeTask(id);
    EXPECT_EQ(task.last_status(), "RUNNING") << id;
    EXPECT_EQ(RevisionOf(task.task_definition_arn()), final_revision) << id;
  }
  ExpectStoreMatchesContainerd();
  const absl::Duration took = absl::Now() - begin;
  std::cout << "crash soak: " << kKills << " kills (" << kills_in_flight
            << " with a write in flight, " << writes_cut_off << " of those cut off), "
            << latest_revision << " revisions, final count "
            << service->desired_count() << " on revision " << final_revision << ", "
            << absl::FormatDuration(took) << std::endl;
  EXPECT_LT(took, kBudget);
}

}  // namespace
}  // namespace skiff::e2e

// ScalingController in simulated time: a real AutoScalingManager on a store in a temp dir, fake
// services and metrics, a manual loop. Given this world, a few stats rounds (or a time step for
// scheduled actions), these calls, activities and persisted state.
#include "skiff/scaling/scaling_controller.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fakes/manual_event_loop.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"

namespace skiff::scaling {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kWeb[] = "service/default/web";

// ECS services as the scaler sees them: counts the test sets, SetDesiredCountForScaling
// recorded (or failed on demand), deletions heard by listeners.
class FakeServices final : public scheduler::ScalableServices {
 public:
  struct Call {
    std::string service;
    int count;
    std::string cause;
  };

  absl::StatusOr<scheduler::ScalableServiceView> ScalableService(
      const std::string& cluster, const std::string& name) override {
    auto it = services_.find(cluster + "/" + name);
    if (it == services_.end()) return absl::NotFoundError("no service");
    return it->second;
  }
  absl::Status SetDesiredCountForScaling(const std::string& cluster, const std::string& name,
                                         int count, const std::string& cause) override {
    calls.push_back({name, count, cause});
    if (!fail_with.ok()) return fail_with;
    services_.at(cluster + "/" + name).desired_count = count;
    return absl::OkStatus();
  }
  void AddListener(ServiceListener listener) override { listeners_.push_back(listener); }

  scheduler::ScalableServiceView& Add(const std::string& name, int count) {
    scheduler::ScalableServiceView& view = services_["default/" + name];
    view.cluster = "default";
    view.service = name;
    view.status = "ACTIVE";
    view.desired_count = count;
    view.running_count = count;
    view.task_definition.set_family(name);
    view.task_definition.set_cpu("256");
    view.task_definition.set_memory("512");
    return view;
  }
  scheduler::ScalableServiceView& View(const std::string& name) {
    return services_.at("default/" + name);
  }
  void Delete(const std::string& name) {
    View(name).status = "DRAINING";
    store::StoredService record;
    record.cluster = "default";
    record.service.set_service_name(name);
    record.service.set_status("DRAINING");
    for (const auto& listener : listeners_) listener(record);
  }

  std::vector<Call> calls;
  absl::Status fail_with;

 private:
  std::map<std::string, scheduler::ScalableServiceView> services_;
  std::vector<ServiceListener> listeners_;
};

class FakeMetrics final : public ScalingMetrics {
 public:
  ServiceUtilization UtilizationOf(const std::string&, const std::string&) override {
    return {.cpu_percent = cpu, .memory_percent = 30, .tasks = 1};
  }
  std::optional<double> RequestsPerTarget(const std::vector<std::string>&) override {
    return std::nullopt;
  }
  std::optional<double> cpu = 20;
};

class ScalingControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    services_.Add("web", 1);
    Open();
  }

  // (Re)opens the store, the manager and a new controller, as a restart of skiffd does.
  void Open() {
    controller_.reset();
    manager_.reset();
    store_.reset();
    loop_.DropPending();
    auto store = store::Store::Open(dir_.path() + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    manager_ = std::make_unique<AutoScalingManager>(AutoScalingManagerOptions{}, store_.get(),
                                                    &services_, &clock_, &random_);
    ASSERT_TRUE(manager_->Load().ok());
    controller_ = std::make_unique<ScalingController>(
        ScalingControllerOptions{.stats_interval = absl::Seconds(1)}, &loop_, manager_.get(),
        &services_, &metrics_, &clock_);
    controller_->Start();
  }

  template <typename Request>
  static Request Parse(const std::string& json) {
    Request request;
    absl::Status decoded = model::DecodeMessageText(json, &request);
    EXPECT_TRUE(decoded.ok()) << decoded << " in " << json;
    return request;
  }
  static std::string Target() {
    return R"("ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount",
              "ResourceId": "service/default/web")";
  }
  void Register(const std::string& extra = "") {
    ASSERT_TRUE(manager_
                    ->RegisterScalableTarget(Parse<aas::RegisterScalableTargetRequest>(
                        absl::StrCat("{", Target(), R"(, "MinCapacity": 1, "MaxCapacity": 3)",
                                     extra, "}")))
                    .ok());
  }
  void PutCpuPolicy() {
    ASSERT_TRUE(manager_
                    ->PutScalingPolicy(Parse<aas::PutScalingPolicyRequest>(absl::StrCat(
                        "{", Target(), R"(, "PolicyName": "cpu50",
                        "PolicyType": "TargetTrackingScaling",
                        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50,
                          "PredefinedMetricSpecification":
                            {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                          "ScaleOutCooldown": 5, "ScaleInCooldown": 10}})")))
                    .ok());
  }
  void PutAction(const std::string& name, const std::string& schedule,
                 const std::string& bounds) {
    ASSERT_TRUE(manager_
                    ->PutScheduledAction(Parse<aas::PutScheduledActionRequest>(absl::StrCat(
                        "{", Target(), R"(, "ScheduledActionName": ")", name,
                        R"(", "Schedule": ")", schedule, R"(", "ScalableTargetAction": )",
                        bounds, "}")))
                    .ok());
  }
  // `n` stats rounds, one a second.
  void Rounds(int n) {
    for (int i = 0; i < n; ++i) {
      loop_.AdvanceTime(absl::Seconds(1));
      controller_->OnStatsRound();
    }
  }
  const ScalableTargetState& Web() const { return *manager_->Find(kWeb); }
  std::vector<std::string> Descriptions() const {
    std::vector<std::string> out;
    for (const aas::ScalingActivity& a : Web().activities) out.push_back(a.description());
    return out;
  }
  // at() of `d` from now, in UTC.
  std::string AtIn(absl::Duration d) const {
    return absl::StrCat("at(", absl::FormatTime("%Y-%m-%dT%H:%M:%S", clock_.Now() + d,
                                                 absl::UTCTimeZone()), ")");
  }

  fakes::TempDir dir_;
  SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  fakes::ManualEventLoop loop_{&clock_};
  SeededRandom random_{7};
  FakeServices services_;
  FakeMetrics metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AutoScalingManager> manager_;
  std::unique_ptr<ScalingController> controller_;
};

TEST_F(ScalingControllerTest, AHighMetricOnThreeRoundsSetsTheDesiredCountAndRecordsIt) {
  Register();
  PutCpuPolicy();
  metrics_.cpu = 90;
  Rounds(2);
  EXPECT_THAT(services_.calls, IsEmpty());  // Two samples are not three.
  Rounds(1);
  ASSERT_THAT(services_.calls, SizeIs(1));
  EXPECT_EQ(services_.calls[0].count, 2);  // ceil(1 × 90 / 50).
  EXPECT_THAT(services_.calls[0].cause, HasSubstr("triggered policy cpu50"));
  ASSERT_THAT(Web().activities, SizeIs(1));
  const aas::ScalingActivity& a = Web().activities.front();
  EXPECT_EQ(a.description(), "Setting desired count to 2.");
  EXPECT_EQ(a.status_code(), "Successful");
  EXPECT_EQ(a.status_message(),
            "Successfully set desired count to 2. Change successfully fulfilled by ecs.");
  EXPECT_THAT(a.cause(), HasSubstr("monitor TargetTracking-service/default/web-High-cpu50 in "
                                   "state ALARM triggered policy cpu50"));
  EXPECT_EQ(Web().engine.last_scale_out, clock_.Now());
  EXPECT_THAT(Web().engine.extra, HasSubstr("\"scale_out_capacity\":2"));

  // Persisted: a restart keeps the activity and the cooldown.
  Open();
  EXPECT_THAT(Descriptions(), ElementsAre("Setting desired count to 2."));
  EXPECT_EQ(Web().engine.last_scale_out, clock_.Now());
}

TEST_F(ScalingControllerTest, AFailedChangeIsAFailedActivityAndStartsNoCooldown) {
  Register();
  PutCpuPolicy();
  metrics_.cpu = 90;
  services_.fail_with = absl::FailedPreconditionError("service web is DRAINING, not ACTIVE");
  Rounds(3);
  ASSERT_THAT(Web().activities, SizeIs(1));
  const aas::ScalingActivity& a = Web().activities.front();
  EXPECT_EQ(a.status_code(), "Failed");
  EXPECT_EQ(a.status_message(), "Failed to set desired count to 2. Reason: service web is "
                                "DRAINING, not ACTIVE");
  EXPECT_EQ(Web().engine.last_scale_out, absl::InfinitePast());
  // Decided again on every sample; the same failure is not recorded again.
  Rounds(2);
  EXPECT_THAT(services_.calls, SizeIs(3));
  EXPECT_THAT(Web().activities, SizeIs(1));
  // Another reason is another activity.
  services_.fail_with = absl::UnavailableError("the store is read-only");
  Rounds(1);
  ASSERT_THAT(Web().activities, SizeIs(2));
  EXPECT_EQ(Web().activities.front().status_message(),
            "Failed to set desired count to 2. Reason: the store is read-only");
  services_.fail_with = absl::OkStatus();
  Rounds(1);
  EXPECT_EQ(Web().activities.front().status_code(), "Successful");
  EXPECT_EQ(services_.View("web").desired_count, 2);
}

TEST_F(ScalingControllerTest, ADesiredCountOutsideTheBoundsIsBroughtBack) {
  Register();
  services_.View("web").desired_count = 7;
  Rounds(1);
  ASSERT_THAT(services_.calls, SizeIs(1));
  EXPECT_EQ(services_.calls[0].count, 3);
  EXPECT_THAT(Descriptions(), ElementsAre("Setting desired count to 3."));
}

TEST_F(ScalingControllerTest, SuspendedScaleOutDecidesNothing) {
  Register(R"(, "SuspendedState": {"DynamicScalingOutSuspended": true})");
  PutCpuPolicy();
  metrics_.cpu = 95;
  Rounds(5);
  EXPECT_THAT(services_.calls, IsEmpty());
  EXPECT_THAT(Web().activities, IsEmpty());
}

TEST_F(ScalingControllerTest, ScalesInAfterTheWindowWhenTheLoadIsGone) {
  Register();
  PutCpuPolicy();
  services_.View("web").desired_count = 3;
  services_.View("web").running_count = 3;
  metrics_.cpu = 10;
  const absl::Time start = clock_.Now();
  Rounds(5);
  EXPECT_THAT(services_.calls, IsEmpty());  // ScaleInCooldown 10 s: the window is not full.
  for (int i = 0; i < 10 && services_.calls.empty(); ++i) Rounds(1);
  ASSERT_THAT(services_.calls, SizeIs(1));
  EXPECT_GE(clock_.Now() - start, absl::Seconds(10));
  EXPECT_EQ(services_.calls[0].count, 1);  // max(min 1, ceil(3 × 10 / 50)).
  EXPECT_EQ(Web().engine.last_scale_in, clock_.Now());
  EXPECT_THAT(Web().activities.front().cause(),
              HasSubstr("every policy with scale-in enabled agrees"));
}

TEST_F(ScalingControllerTest, ADeletedServiceGetsNoDecision) {
  Register();
  PutCpuPolicy();
  metrics_.cpu = 90;
  services_.View("web").status = "DRAINING";  // Not heard yet: the target is still there.
  Rounds(3);
  EXPECT_THAT(services_.calls, IsEmpty());
  services_.Delete("web");  // The manager deregisters its target.
  EXPECT_EQ(manager_->Find(kWeb), nullptr);
  Rounds(3);
  EXPECT_THAT(services_.calls, IsEmpty());
}

TEST_F(ScalingControllerTest, AScheduledActionFiresOnceAcrossARestart) {
  Register();
  PutAction("morning", AtIn(absl::Seconds(60)), R"({"MinCapacity": 2, "MaxCapacity": 3})");
  EXPECT_EQ(controller_->next_scheduled_run(), clock_.Now() + absl::Seconds(60));
  loop_.AdvanceTime(absl::Seconds(59));
  EXPECT_THAT(Web().activities, IsEmpty());
  loop_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(Web().target.min_capacity(), 2);
  ASSERT_THAT(services_.calls, SizeIs(1));
  EXPECT_EQ(services_.calls[0].count, 2);  // Below the new minimum: raised to it.
  EXPECT_THAT(Descriptions(), ElementsAre("Setting desired count to 2.",
                                          "Setting min capacity to 2 and max capacity to 3"));
  EXPECT_EQ(Web().activities.back().cause(), "scheduled action name morning was triggered");

  // A restart right after: the action is not run again.
  Open();
  loop_.AdvanceTime(absl::Minutes(5));
  EXPECT_THAT(services_.calls, SizeIs(1));
  EXPECT_THAT(Web().activities, SizeIs(2));
  EXPECT_EQ(controller_->next_scheduled_run(), absl::InfiniteFuture());
}

TEST_F(ScalingControllerTest, AnOccurrenceMissedWhileDownRunsOnceAtStart) {
  Register();
  PutAction("evening", AtIn(absl::Seconds(30)), R"({"MaxCapacity": 2})");
  controller_.reset();  // skiffd is down while it comes due.
  loop_.DropPending();
  clock_.Advance(absl::Minutes(2));
  Open();
  loop_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(Web().target.max_capacity(), 2);
  EXPECT_THAT(Descriptions(), ElementsAre("Setting max capacity to 2"));
  Open();
  loop_.AdvanceTime(absl::Seconds(1));
  EXPECT_THAT(Web().activities, SizeIs(1));
}

TEST_F(ScalingControllerTest, SuspendedScheduledScalingSkipsTheAction) {
  Register(R"(, "SuspendedState": {"ScheduledScalingSuspended": true})");
  PutAction("morning", AtIn(absl::Seconds(10)), R"({"MinCapacity": 2})");
  loop_.AdvanceTime(absl::Seconds(20));
  EXPECT_EQ(Web().target.min_capacity(), 1);
  EXPECT_THAT(Web().activities, IsEmpty());
  EXPECT_EQ(controller_->next_scheduled_run(), absl::InfiniteFuture());  // Skipped, not retried.
}

}  // namespace
}  // namespace skiff::scaling

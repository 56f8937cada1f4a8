// AutoScalingManager on a real store in a temp dir, a fake ECS service side and simulated time:
// the API's checks with their exact messages and exception names, paging, what the engine
// records, and that everything survives reopening the store.
#include "skiff/scaling/auto_scaling_manager.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::scaling {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

constexpr char kWeb[] = "service/default/web";

// Services as ServiceManager would show them; a listener hears of deletions.
class FakeServices final : public scheduler::ScalableServices {
 public:
  absl::StatusOr<scheduler::ScalableServiceView> ScalableService(
      const std::string& cluster, const std::string& name) override {
    auto it = services_.find(cluster + "/" + name);
    if (it == services_.end()) return absl::NotFoundError("no service");
    return it->second;
  }
  absl::Status SetDesiredCountForScaling(const std::string&, const std::string&, int,
                                         const std::string&) override {
    return absl::OkStatus();
  }
  void AddListener(ServiceListener listener) override { listeners_.push_back(listener); }

  scheduler::ScalableServiceView& Add(const std::string& cluster, const std::string& name) {
    scheduler::ScalableServiceView& view = services_[cluster + "/" + name];
    view.cluster = cluster;
    view.service = name;
    view.status = "ACTIVE";
    view.task_definition.set_family(name);
    view.task_definition.set_revision(3);
    view.task_definition.set_cpu("256");
    view.task_definition.set_memory("512");
    return view;
  }
  void Delete(const std::string& cluster, const std::string& name) {
    services_.erase(cluster + "/" + name);
    store::StoredService record;
    record.cluster = cluster;
    record.service.set_service_name(name);
    record.service.set_status("DRAINING");
    for (const auto& listener : listeners_) listener(record);
  }

 private:
  std::map<std::string, scheduler::ScalableServiceView> services_;
  std::vector<ServiceListener> listeners_;
};

class AutoScalingManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    services_.Add("default", "web");
    services_.Add("default", "api");
    Open();
  }

  void Open() {
    manager_.reset();
    store_.reset();
    auto store = store::Store::Open(dir_.path() + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    manager_ = std::make_unique<AutoScalingManager>(
        AutoScalingManagerOptions{.max_activities_per_target = 3}, store_.get(), &services_,
        &clock_, &random_);
    ASSERT_TRUE(manager_->Load().ok());
  }

  template <typename Request>
  static Request Parse(const std::string& json) {
    Request request;
    absl::Status decoded = model::DecodeMessageText(json, &request);
    EXPECT_TRUE(decoded.ok()) << decoded;
    return request;
  }

  absl::Status Register(const std::string& resource_id, const std::string& extra) {
    return manager_
        ->RegisterScalableTarget(Parse<aas::RegisterScalableTargetRequest>(absl::StrCat(
            R"({"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": ")",
            resource_id, "\"", extra, "}")))
        .status();
  }
  absl::Status RegisterWeb() { return Register(kWeb, R"(, "MinCapacity": 1, "MaxCapacity": 4)"); }

  absl::StatusOr<aas::PutScalingPolicyResponse> Put(const std::string& config,
                                                    const std::string& type =
                                                        "TargetTrackingScaling") {
    return manager_->PutScalingPolicy(Parse<aas::PutScalingPolicyRequest>(absl::StrCat(
        R"({"PolicyName": "cpu", "ServiceNamespace": "ecs", "ResourceId": "service/default/web",
            "ScalableDimension": "ecs:service:DesiredCount", "PolicyType": ")",
        type, "\"", config, "}")));
  }
  static std::string Tracking(const std::string& metric, double target = 50,
                              const std::string& more = "") {
    return absl::StrCat(R"(, "TargetTrackingScalingPolicyConfiguration": {"TargetValue": )",
                        target, R"(, "PredefinedMetricSpecification": {"PredefinedMetricType": ")",
                        metric, "\"", more, "}}");
  }

  absl::Status PutAction(const std::string& name, const std::string& fields) {
    return manager_
        ->PutScheduledAction(Parse<aas::PutScheduledActionRequest>(absl::StrCat(
            R"({"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": "service/default/web", "ScheduledActionName": ")",
            name, "\"", fields, "}")))
        .status();
  }

  // The error's exception name and message, as the API edge shows them.
  static std::string Error(const absl::Status& status) {
    return absl::StrCat("(", model::EcsExceptionName(status), ") ", status.message());
  }

  fakes::TempDir dir_;
  SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  SeededRandom random_{5};
  FakeServices services_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AutoScalingManager> manager_;
};

TEST_F(AutoScalingManagerTest, RegistersAServiceAsAScalableTarget) {
  auto registered = manager_->RegisterScalableTarget(Parse<aas::RegisterScalableTargetRequest>(
      R"({"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount",
          "ResourceId": "service/default/web", "MinCapacity": 1, "MaxCapacity": 4})"));
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_THAT(registered->scalable_target_arn(),
              MatchesRegex("arn:aws:application-autoscaling:local:000000000000:"
                           "scalable-target/[0-9a-f]{36}"));
  const ScalableTargetState* web = manager_->Find(kWeb);
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->cluster, "default");
  EXPECT_EQ(web->service, "web");
  EXPECT_EQ(web->target.min_capacity(), 1);
  EXPECT_EQ(web->target.creation_time(), 1'700'000'000);
  EXPECT_FALSE(web->target.suspended_state().dynamic_scaling_in_suspended());
  EXPECT_THAT(web->target.role_arn(), HasSubstr("AWSServiceRoleForApplicationAutoScaling_ECS"));
}

TEST_F(AutoScalingManagerTest, RegisteringAgainUpdatesWhatIsGiven) {
  ASSERT_TRUE(RegisterWeb().ok());
  const std::string arn = manager_->Find(kWeb)->target.scalable_target_arn();
  ASSERT_TRUE(Register(kWeb, R"(, "MaxCapacity": 9,
                         "SuspendedState": {"DynamicScalingInSuspended": true})").ok());
  const aas::ScalableTarget& t = manager_->Find(kWeb)->target;
  EXPECT_EQ(t.scalable_target_arn(), arn);
  EXPECT_EQ(t.min_capacity(), 1);
  EXPECT_EQ(t.max_capacity(), 9);
  EXPECT_TRUE(t.suspended_state().dynamic_scaling_in_suspended());
  EXPECT_FALSE(t.suspended_state().scheduled_scaling_suspended());
  EXPECT_EQ(Error(Register(kWeb, R"(, "MinCapacity": 10)")),
            "(ValidationException) MinCapacity: must not be greater than MaxCapacity (10 > 9)");
}

TEST_F(AutoScalingManagerTest, RegisterChecksWhatItNames) {
  auto with = [this](const std::string& ns, const std::string& dimension,
                     const std::string& id, const std::string& extra) {
    return Error(manager_
                     ->RegisterScalableTarget(Parse<aas::RegisterScalableTargetRequest>(
                         absl::StrCat(R"({"ServiceNamespace": ")", ns,
                                      R"(", "ScalableDimension": ")", dimension,
                                      R"(", "ResourceId": ")", id, "\"", extra, "}")))
                     .status());
  };
  const std::string bounds = R"(, "MinCapacity": 1, "MaxCapacity": 2)";
  EXPECT_EQ(with("dynamodb", "dynamodb:table:ReadCapacityUnits", "table/t", bounds),
            "(ValidationException) ServiceNamespace: a Skiff node scales ECS services only "
            "(ecs); got \"dynamodb\"");
  EXPECT_EQ(with("ecs", "dynamodb:table:ReadCapacityUnits", kWeb, bounds),
            "(ValidationException) ScalableDimension: must be ecs:service:DesiredCount for "
            "ServiceNamespace ecs; got \"dynamodb:table:ReadCapacityUnits\"");
  EXPECT_EQ(with("ecs", "ecs:service:DesiredCount", "service/web", bounds),
            "(ValidationException) ResourceId: must be service/CLUSTER/SERVICE; got "
            "\"service/web\"");
  EXPECT_EQ(with("ecs", "ecs:service:DesiredCount", "service/default/nope", bounds),
            "(ValidationException) ResourceId: ECS service doesn't exist: "
            "service/default/nope");
  EXPECT_EQ(with("ecs", "ecs:service:DesiredCount", kWeb, R"(, "MaxCapacity": 2)"),
            "(ValidationException) MinCapacity: required when registering a new scalable "
            "target");
  EXPECT_EQ(with("ecs", "ecs:service:DesiredCount", kWeb, R"(, "MinCapacity": 3,
                                                            "MaxCapacity": 2)"),
            "(ValidationException) MinCapacity: must not be greater than MaxCapacity (3 > 2)");
  EXPECT_EQ(manager_->Find(kWeb), nullptr);
}

TEST_F(AutoScalingManagerTest, DeregisterTakesThePoliciesAlongAndAnUnknownTargetIsNotFound) {
  ASSERT_TRUE(RegisterWeb().ok());
  ASSERT_TRUE(Put(Tracking("ECSServiceAverageCPUUtilization")).ok());
  aas::DeregisterScalableTargetRequest request;
  request.set_service_namespace("ecs");
  request.set_scalable_dimension("ecs:service:DesiredCount");
  request.set_resource_id(kWeb);
  ASSERT_TRUE(manager_->DeregisterScalableTarget(request).ok());
  EXPECT_EQ(manager_->Find(kWeb), nullptr);
  EXPECT_EQ(Error(manager_->DeregisterScalableTarget(request).status()),
            "(ObjectNotFoundException) No scalable target registered for service namespace: "
            "ecs, resource ID: service/default/web, scalable dimension: "
            "ecs:service:DesiredCount");
  Open();
  EXPECT_TRUE(manager_->targets().empty());
  auto rows = store_->LoadAutoscalingObjects();
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST_F(AutoScalingManagerTest, PutScalingPolicyMakesATargetTrackingPolicyWithAWSsDefaults) {
  ASSERT_TRUE(RegisterWeb().ok());
  auto put = Put(Tracking("ECSServiceAverageCPUUtilization", 75));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_THAT(put->policy_arn(),
              MatchesRegex("arn:aws:autoscaling:local:000000000000:scalingPolicy:"
                           "[0-9a-f-]{36}:resource/ecs/service/default/web:policyName/cpu"));
  const aas::ScalingPolicy& policy = manager_->Find(kWeb)->policies.at("cpu");
  const auto& c = policy.target_tracking_scaling_policy_configuration();
  EXPECT_EQ(c.target_value(), 75);
  EXPECT_EQ(c.scale_out_cooldown(), 300);
  EXPECT_EQ(c.scale_in_cooldown(), 300);
  EXPECT_FALSE(c.disable_scale_in());
  // Put again: an update that keeps the ARN.
  auto update = Put(R"(, "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 60,
      "PredefinedMetricSpecification": {"PredefinedMetricType":
      "ECSServiceAverageMemoryUtilization"}, "ScaleInCooldown": 30, "DisableScaleIn": true})");
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->policy_arn(), put->policy_arn());
  const auto& u = manager_->Find(kWeb)->policies.at("cpu")
                      .target_tracking_scaling_policy_configuration();
  EXPECT_EQ(u.scale_in_cooldown(), 30);
  EXPECT_EQ(u.scale_out_cooldown(), 300);
  EXPECT_TRUE(u.disable_scale_in());
}

TEST_F(AutoScalingManagerTest, PutScalingPolicyRefusesWhatANodeCannotDoInSoManyWords) {
  EXPECT_EQ(Error(Put(Tracking("ECSServiceAverageCPUUtilization")).status()),
            "(ObjectNotFoundException) No scalable target registered for service namespace: "
            "ecs, resource ID: service/default/web, scalable dimension: "
            "ecs:service:DesiredCount");
  ASSERT_TRUE(RegisterWeb().ok());
  EXPECT_EQ(Error(Put(R"(, "StepScalingPolicyConfiguration": {"AdjustmentType":
                         "ChangeInCapacity"})", "StepScaling").status()),
            "(ValidationException) PolicyType: StepScaling is not supported on a Skiff node: it "
            "is driven by a CloudWatch alarm, and the node has no CloudWatch; use "
            "TargetTrackingScaling");
  EXPECT_EQ(Error(Put(R"(, "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50,
                         "CustomizedMetricSpecification": {"MetricName": "Queue",
                         "Namespace": "App", "Statistic": "Average"}})").status()),
            "(ValidationException) TargetTrackingScalingPolicyConfiguration."
            "CustomizedMetricSpecification: customized CloudWatch metrics are not supported on "
            "a Skiff node; use PredefinedMetricSpecification");
  EXPECT_EQ(Error(Put(Tracking("ECSServiceAverageCPUUtilization", 0)).status()),
            "(ValidationException) TargetTrackingScalingPolicyConfiguration.TargetValue: must be "
            "greater than 0 and at most 1000000000; got 0");
  EXPECT_EQ(Error(Put(Tracking("DynamoDBReadCapacityUtilization")).status()),
            "(ValidationException) TargetTrackingScalingPolicyConfiguration."
            "PredefinedMetricSpecification.PredefinedMetricType: must be "
            "ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization or "
            "ALBRequestCountPerTarget for an ECS service; got \"DynamoDBReadCapacityUtilization\"");
  EXPECT_TRUE(manager_->Find(kWeb)->policies.empty());
}

TEST_F(AutoScalingManagerTest, ACpuPolicyNeedsACpuReservation) {
  scheduler::ScalableServiceView& web = services_.Add("default", "web");
  web.task_definition.clear_cpu();
  web.task_definition.add_container_definitions()->set_memory(128);  // No cpu.
  ASSERT_TRUE(RegisterWeb().ok());
  EXPECT_EQ(Error(Put(Tracking("ECSServiceAverageCPUUtilization")).status()),
            "(ValidationException) TargetTrackingScalingPolicyConfiguration."
            "PredefinedMetricSpecification.PredefinedMetricType: service web has no CPU "
            "utilization: its task definition web:3 reserves no CPU (set the task's cpu, or cpu "
            "on every container)");
  EXPECT_TRUE(Put(Tracking("ECSServiceAverageMemoryUtilization")).ok());
}

TEST_F(AutoScalingManagerTest, RequestCountPerTargetNeedsATargetGroupOfTheService) {
  services_.Add("default", "web").target_group_arns = {
      "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/web/0123456789abcdef"};
  ASSERT_TRUE(RegisterWeb().ok());
  const std::string metric = "ALBRequestCountPerTarget";
  EXPECT_EQ(Error(Put(Tracking(metric, 100)).status()),
            "(ValidationException) TargetTrackingScalingPolicyConfiguration."
            "PredefinedMetricSpecification.ResourceLabel: required for ALBRequestCountPerTarget: "
            "app/LOAD_BALANCER/ID/targetgroup/TARGET_GROUP/ID");
  EXPECT_EQ(Error(Put(Tracking(metric, 100, R"(, "ResourceLabel":
                "app/lb/fedcba9876543210/targetgroup/other/0123456789abcdef")")).status()),
            "(ValidationException) TargetTrackingScalingPolicyConfiguration."
            "PredefinedMetricSpecification.ResourceLabel: service web has no target group "
            "targetgroup/other/0123456789abcdef in its loadBalancers");
  EXPECT_TRUE(Put(Tracking(metric, 100, R"(, "ResourceLabel":
                  "app/lb/fedcba9876543210/targetgroup/web/0123456789abcdef")")).ok());
}

TEST_F(AutoScalingManagerTest, ScheduledActionsAreCheckedAndUpdatedByName) {
  ASSERT_TRUE(RegisterWeb().ok());
  EXPECT_THAT(Error(PutAction("night", R"j(, "Schedule": "cron(0 22 * * *)",
                              "ScalableTargetAction": {"MinCapacity": 0})j")),
              HasSubstr("(ValidationException) Schedule: Invalid schedule expression "
                        "'cron(0 22 * * *)': cron() takes 6 fields"));
  EXPECT_EQ(Error(PutAction("night", R"j(, "Schedule": "rate(0 minutes)",
                            "ScalableTargetAction": {"MinCapacity": 0})j")),
            "(ValidationException) Schedule: Invalid schedule expression 'rate(0 minutes)': "
            "rate() takes a positive whole number and a unit, as rate(5 minutes)");
  EXPECT_EQ(Error(PutAction("night", R"j(, "Schedule": "at(2024-13-01T00:00:00)",
                            "ScalableTargetAction": {"MinCapacity": 0})j")),
            "(ValidationException) Schedule: Invalid schedule expression "
            "'at(2024-13-01T00:00:00)': '2024-13-01T00:00:00' is not a date and time");
  EXPECT_EQ(Error(PutAction("night", R"j(, "Schedule": "cron(0 0 32 * ? *)",
                            "ScalableTargetAction": {"MinCapacity": 0})j")),
            "(ValidationException) Schedule: Invalid schedule expression 'cron(0 0 32 * ? *)': "
            "field 3 (Day-of-month): '32' is out of range 1-31");
  EXPECT_EQ(Error(PutAction("night", R"j(, "Schedule": "rate(1 hour)", "Timezone": "Mars/Base",
                            "ScalableTargetAction": {"MinCapacity": 0})j")),
            "(ValidationException) Timezone: not a time zone of the IANA database (such as "
            "Europe/Paris); got \"Mars/Base\"");
  EXPECT_EQ(Error(PutAction("night", R"j(, "Schedule": "rate(1 hour)", "StartTime": 200,
                            "EndTime": 100, "ScalableTargetAction": {"MinCapacity": 0})j")),
            "(ValidationException) StartTime: must be before EndTime");
  ASSERT_TRUE(PutAction("night", R"j(, "Schedule": "cron(0 22 ? * MON-FRI *)",
                        "Timezone": "Europe/Paris",
                        "ScalableTargetAction": {"MinCapacity": 0, "MaxCapacity": 1})j").ok());
  ASSERT_TRUE(PutAction("night", R"j(, "ScalableTargetAction": {"MaxCapacity": 2})j").ok());
  const aas::ScheduledAction& night = manager_->Find(kWeb)->scheduled_actions.at("night");
  EXPECT_EQ(night.schedule(), "cron(0 22 ? * MON-FRI *)");
  EXPECT_EQ(night.timezone(), "Europe/Paris");
  EXPECT_EQ(night.scalable_target_action().max_capacity(), 2);
  EXPECT_THAT(night.scheduled_action_arn(),
              MatchesRegex("arn:aws:autoscaling:local:000000000000:scheduledAction:[0-9a-f-]{36}"
                           ":resource/ecs/service/default/web:scheduledActionName/night"));
}

TEST_F(AutoScalingManagerTest, DescribePagesWithNextToken) {
  services_.Add("default", "db");
  ASSERT_TRUE(RegisterWeb().ok());
  ASSERT_TRUE(Register("service/default/api", R"(, "MinCapacity": 0, "MaxCapacity": 1)").ok());
  ASSERT_TRUE(Register("service/default/db", R"(, "MinCapacity": 0, "MaxCapacity": 1)").ok());
  aas::DescribeScalableTargetsRequest request;
  request.set_service_namespace("ecs");
  request.set_max_results(2);
  auto first = manager_->DescribeScalableTargets(request);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_THAT(first->scalable_targets(), SizeIs(2));
  EXPECT_EQ(first->scalable_targets(0).resource_id(), "service/default/api");
  ASSERT_TRUE(first->has_next_token());
  request.set_next_token(first->next_token());
  auto second = manager_->DescribeScalableTargets(request);
  ASSERT_TRUE(second.ok());
  ASSERT_THAT(second->scalable_targets(), SizeIs(1));
  EXPECT_EQ(second->scalable_targets(0).resource_id(), kWeb);
  EXPECT_FALSE(second->has_next_token());
  request.set_next_token("garbage");
  EXPECT_EQ(Error(manager_->DescribeScalableTargets(request).status()),
            "(InvalidNextTokenException) NextToken: not a token this API returned");
  request.clear_next_token();
  request.set_max_results(51);
  EXPECT_EQ(Error(manager_->DescribeScalableTargets(request).status()),
            "(ValidationException) MaxResults: must be between 1 and 50; got 51");
  request.clear_max_results();
  request.add_resource_ids(kWeb);
  auto one = manager_->DescribeScalableTargets(request);
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(one->scalable_targets(), SizeIs(1));
}

TEST_F(AutoScalingManagerTest, EverythingSurvivesReopeningTheStore) {
  ASSERT_TRUE(RegisterWeb().ok());
  ASSERT_TRUE(Put(Tracking("ECSServiceAverageCPUUtilization")).ok());
  ASSERT_TRUE(PutAction("morning", R"j(, "Schedule": "at(2030-01-01T08:00:00)",
                        "ScalableTargetAction": {"MinCapacity": 2})j").ok());
  for (int i = 1; i <= 4; ++i) {
    clock_.Advance(absl::Minutes(1));
    auto recorded = manager_->RecordActivity(
        {.resource_id = kWeb,
         .description = absl::StrCat("Setting desired count to ", i, "."),
         .cause = "monitor alarm TargetTracking-service/default/web-AlarmHigh in state ALARM "
                  "triggered policy cpu",
         .status_message = absl::StrCat("Successfully set desired count to ", i, "."),
         .start_time = clock_.Now(),
         .end_time = clock_.Now()});
    ASSERT_TRUE(recorded.ok()) << recorded.status();
  }
  const ScalingEngineState engine{.last_scale_out = clock_.Now(),
                                  .extra = R"({"samples":[71,72,73]})"};
  ASSERT_TRUE(manager_->SaveEngineState(kWeb, engine).ok());
  Open();
  const ScalableTargetState* web = manager_->Find(kWeb);
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->target.max_capacity(), 4);
  EXPECT_EQ(web->cluster, "default");
  EXPECT_THAT(web->policies, SizeIs(1));
  EXPECT_THAT(web->scheduled_actions, SizeIs(1));
  EXPECT_EQ(web->engine, engine);
  // The last three, newest first: the bound of this test's manager.
  std::vector<std::string> descriptions;
  for (const auto& a : web->activities) descriptions.push_back(a.description());
  EXPECT_THAT(descriptions, ElementsAre("Setting desired count to 4.",
                                        "Setting desired count to 3.",
                                        "Setting desired count to 2."));
  aas::DescribeScalingActivitiesRequest request;
  request.set_service_namespace("ecs");
  request.set_resource_id(kWeb);
  request.set_max_results(1);
  auto page = manager_->DescribeScalingActivities(request);
  ASSERT_TRUE(page.ok());
  ASSERT_THAT(page->scaling_activities(), SizeIs(1));
  EXPECT_EQ(page->scaling_activities(0).status_code(), "Successful");
  EXPECT_EQ(page->next_token(), "1");
}

TEST_F(AutoScalingManagerTest, ADeletedServiceLosesItsTarget) {
  ASSERT_TRUE(RegisterWeb().ok());
  std::vector<std::string> changed;
  manager_->AddChangeListener([&changed](const std::string& id) { changed.push_back(id); });
  services_.Delete("default", "web");
  EXPECT_EQ(manager_->Find(kWeb), nullptr);
  EXPECT_THAT(changed, ElementsAre(kWeb));
  Open();
  EXPECT_EQ(manager_->Find(kWeb), nullptr);
}

}  // namespace
}  // namespace skiff::scaling

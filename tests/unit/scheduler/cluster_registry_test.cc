#include "skiff/scheduler/cluster_registry.h"

#include <sys/utsname.h>

#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_runtime.h"
#include "fakes/fake_runtime_health.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/scheduler_stack.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kImage[] = "skiff.local/busybox:test";
constexpr char kInstanceId[] = "0123456789abcdef0123456789abcdef";
constexpr char kPrefix[] = "arn:aws:ecs:local:000000000000:";

std::string Arn(const std::string& rest) { return kPrefix + rest; }

// A request from its ECS JSON, as the CLI and the API deliver it.
template <typename Request>
Request Parse(const std::string& json) {
  Request request;
  absl::Status decoded = model::DecodeMessageText(json, &request);
  EXPECT_TRUE(decoded.ok()) << decoded << " in " << json;
  return request;
}

// The code, the ECS exception name and the message of a failed call, in one line to compare.
template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& result) {
  if (result.ok()) return "OK";
  return absl::StrCat(absl::StatusCodeToString(result.status().code()), " ",
                      model::EcsExceptionName(result.status()), ": ", result.status().message());
}

std::vector<std::string> TagsOf(const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  std::vector<std::string> out;
  for (const v1::Tag& t : tags) out.push_back(t.key() + "=" + t.value());
  return out;
}

const v1::Resource* FindResource(const google::protobuf::RepeatedPtrField<v1::Resource>& list,
                                 const std::string& name) {
  for (const v1::Resource& r : list) {
    if (r.name() == name) return &r;
  }
  return nullptr;
}

class ClusterRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_.AddImage(kImage);
    scope_.instance_id = kInstanceId;
    Open();
    Register(R"({"family": "web", "networkMode": "host", "cpu": "256", "memory": "512",
                 "tags": [{"key": "team", "value": "core"}],
                 "containerDefinitions": [
                   {"name": "app", "image": "skiff.local/busybox:test", "memory": 64}]})");
  }

  // (Re)opens the store and builds every component over it, as skiffd does at startup.
  void Open() {
    stack_.reset();
    loop_.DropPending();  // Work the old managers posted must not reach the new ones.
    auto stack = fakes::SchedulerStack::Open(
        {.loop = &loop_,
         .executor = &executor_,
         .runtime = &runtime_,
         .clock = &clock_,
         .random = &random_},
        {.state_dir = dir_.path() + "/state",
         .scope = scope_,
         .tasks = {.capacity = {.cpu = 2048, .memory = 4096}},
         .node = {.agent_version = "1.2.3",
                  .runtime_version = [] { return std::string("containerd 1.6.20"); },
                  .runtime_health = &runtime_health_}});
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    store_ = &stack_->store();
    registry_ = &stack_->registry();
    directory_ = &stack_->directory();
    tasks_ = &stack_->tasks();
    services_ = &stack_->services();
    clusters_ = &stack_->clusters();
  }

  void Register(const std::string& json) {
    ASSERT_TRUE(registry_->Register(Parse<v1::RegisterTaskDefinitionRequest>(json)).ok());
  }

  void Settle() {
    while (loop_.RunPending() + executor_.RunAll() > 0) {
    }
  }

  absl::StatusOr<v1::Cluster> Create(const std::string& json) {
    auto response = clusters_->CreateCluster(Parse<v1::CreateClusterRequest>(json));
    if (!response.ok()) return response.status();
    return response->cluster();
  }

  absl::StatusOr<v1::DescribeClustersResponse> Describe(const std::string& json) {
    return clusters_->DescribeClusters(Parse<v1::DescribeClustersRequest>(json));
  }

  // The one cluster that a DescribeClusters request names.
  v1::Cluster DescribeOne(const std::string& json) {
    auto response = Describe(json);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->clusters_size() != 1) {
      ADD_FAILURE() << "no cluster for " << json;
      return v1::Cluster();
    }
    return response->clusters(0);
  }

  std::vector<std::string> ListAll() {
    auto response = clusters_->ListClusters({});
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok()) return {};
    return {response->cluster_arns().begin(), response->cluster_arns().end()};
  }

  std::string RunOne(const std::string& cluster = "") {
    v1::RunTaskRequest request;
    request.set_task_definition("web");
    if (!cluster.empty()) request.set_cluster(cluster);
    auto response = tasks_->RunTask(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return "";
    const std::string arn = response->tasks(0).task_arn();
    return arn.substr(arn.rfind('/') + 1);
  }

  absl::StatusOr<v1::ContainerInstance> DescribeInstance(const std::string& json) {
    auto response = clusters_->DescribeContainerInstances(
        Parse<v1::DescribeContainerInstancesRequest>(json));
    if (!response.ok()) return response.status();
    if (response->container_instances_size() != 1) {
      return absl::NotFoundError(model::EncodeMessageCompact(*response));
    }
    return response->container_instances(0);
  }

  absl::StatusOr<std::vector<std::string>> ListTags(const std::string& arn) {
    v1::ListTagsForResourceRequest request;
    request.set_resource_arn(arn);
    auto response = clusters_->ListTagsForResource(request);
    if (!response.ok()) return response.status();
    return TagsOf(response->tags());
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  model::ArnScope scope_;
  fakes::FakeRuntimeHealth runtime_health_;
  std::unique_ptr<fakes::SchedulerStack> stack_;
  // The stack's parts.
  store::Store* store_ = nullptr;
  TaskDefinitionRegistry* registry_ = nullptr;
  ClusterDirectory* directory_ = nullptr;
  TaskManager* tasks_ = nullptr;
  ServiceManager* services_ = nullptr;
  ClusterRegistry* clusters_ = nullptr;
};

// --- The default cluster and Resolve ---

TEST_F(ClusterRegistryTest, LoadCreatesAndPersistsTheDefaultCluster) {
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default")));
  auto stored = store_->LoadClusters();
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].cluster.cluster_name(), "default");
  EXPECT_EQ((*stored)[0].registered_at, 1700000000);

  // A later start finds it and keeps its registration time.
  clock_.Advance(absl::Hours(5));
  Open();
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default")));
  auto instance =
      DescribeInstance(R"({"containerInstances": ["0123456789abcdef0123456789abcdef"]})");
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->registered_at(), 1700000000);
}

TEST_F(ClusterRegistryTest, ResolveTakesNamesArnsAndTheEmptyDefault) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  EXPECT_EQ(*directory_->Resolve(""), "default");
  EXPECT_EQ(*directory_->Resolve("prod"), "prod");
  EXPECT_EQ(*directory_->Resolve(Arn("cluster/prod")), "prod");
  EXPECT_EQ(ErrorOf(directory_->Resolve("staging")),
            "NOT_FOUND ClusterNotFoundException: Cluster not found.");
  EXPECT_THAT(ErrorOf(directory_->Resolve("bad name")),
              StartsWith("INVALID_ARGUMENT InvalidParameterException: cluster: must be 1-255"));
  EXPECT_THAT(ErrorOf(directory_->Resolve("arn:aws:ecs:us-east-1:000000000000:cluster/prod")),
              StartsWith("INVALID_ARGUMENT InvalidParameterException: cluster: a cluster ARN"));
}

TEST_F(ClusterRegistryTest, RunTaskNeedsAnExistingCluster) {
  v1::RunTaskRequest request;
  request.set_task_definition("web");
  request.set_cluster("staging");
  EXPECT_EQ(ErrorOf(tasks_->RunTask(request)),
            "NOT_FOUND ClusterNotFoundException: Cluster not found.");
}

// --- CreateCluster ---

TEST_F(ClusterRegistryTest, CreateClusterReturnsTheNewClusterAndKeepsIt) {
  auto cluster = Create(R"({"clusterName": "prod",
      "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": ""}],
      "configuration": {"executeCommandConfiguration": {"logging": "DEFAULT"}}})");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->cluster_arn(), Arn("cluster/prod"));
  EXPECT_EQ(cluster->cluster_name(), "prod");
  EXPECT_EQ(cluster->status(), "ACTIVE");
  EXPECT_EQ(cluster->registered_container_instances_count(), 1);
  EXPECT_TRUE(cluster->has_running_tasks_count());
  EXPECT_EQ(cluster->running_tasks_count(), 0);
  EXPECT_EQ(cluster->pending_tasks_count(), 0);
  EXPECT_EQ(cluster->active_services_count(), 0);
  EXPECT_THAT(TagsOf(cluster->tags()), ElementsAre("env=prod", "team="));
  ASSERT_EQ(cluster->settings_size(), 1);
  EXPECT_EQ(cluster->settings(0).name(), "containerInsights");
  EXPECT_EQ(cluster->settings(0).value(), "disabled");
  EXPECT_EQ(cluster->configuration().execute_command_configuration().logging(), "DEFAULT");

  Open();
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default"), Arn("cluster/prod")));
  const v1::Cluster again = DescribeOne(R"({"clusters": ["prod"], "include": ["TAGS"]})");
  EXPECT_THAT(TagsOf(again.tags()), ElementsAre("env=prod", "team="));
}

TEST_F(ClusterRegistryTest, CreateClusterKeepsTheSettingsItIsGiven) {
  auto cluster = Create(R"({"clusterName": "watched",
      "settings": [{"name": "containerInsights", "value": "enabled"}],
      "capacityProviders": ["FARGATE"],
      "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}],
      "serviceConnectDefaults": {"namespace": "internal"}})");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->settings(0).value(), "enabled");
  EXPECT_THAT(cluster->capacity_providers(), ElementsAre("FARGATE"));
  EXPECT_EQ(cluster->default_capacity_provider_strategy(0).weight(), 1);
  EXPECT_EQ(cluster->service_connect_defaults().namespace_(), "internal");
}

TEST_F(ClusterRegistryTest, CreatingAnExistingClusterReturnsItUnchanged) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod", "tags": [{"key": "v", "value": "1"}]})").ok());
  auto again = Create(R"({"clusterName": "prod", "tags": [{"key": "v", "value": "2"}]})");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(TagsOf(again->tags()), ElementsAre("v=1"));
  // No name means default, which exists.
  auto unnamed = Create("{}");
  ASSERT_TRUE(unnamed.ok()) << unnamed.status();
  EXPECT_EQ(unnamed->cluster_arn(), Arn("cluster/default"));
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default"), Arn("cluster/prod")));
}

TEST_F(ClusterRegistryTest, CreateClusterRejectsBadInputNamingTheField) {
  std::string many_tags;
  for (int i = 0; i < 51; ++i) {
    absl::StrAppend(&many_tags, i ? "," : "", R"({"key": "k)", i, R"("})");
  }
  const std::string long_name(256, 'a');
  struct Case {
    std::string request;
    std::string error;
  };
  const std::vector<Case> cases = {
      {R"({"clusterName": ""})",
       "INVALID_ARGUMENT InvalidParameterException: clusterName: must be 1-255 letters"},
      {R"({"clusterName": "my cluster"})",
       "INVALID_ARGUMENT InvalidParameterException: clusterName: must be 1-255 letters, digits, "
       "hyphens or underscores; got \"my cluster\""},
      {R"({"clusterName": ")" + long_name + R"("})",
       "INVALID_ARGUMENT InvalidParameterException: clusterName: must be 1-255"},
      {R"({"clusterName": "c", "tags": [{"key": "a"}, {"key": "b"}, {"key": "aws:x"}]})",
       "INVALID_ARGUMENT InvalidParameterException: tags[2].key: the aws: prefix is reserved"},
      {R"({"clusterName": "c", "tags": [{"key": ""}]})",
       "INVALID_ARGUMENT InvalidParameterException: tags[0].key: must be 1-128 characters"},
      {R"({"clusterName": "c", "tags": [{"value": "v"}]})",
       "INVALID_ARGUMENT InvalidParameterException: tags[0].key: must be 1-128 characters"},
      {R"({"clusterName": "c", "tags": [{"key": "k", "value": ")" + std::string(257, 'v') +
           R"("}]})",
       "INVALID_ARGUMENT InvalidParameterException: tags[0].value: must be at most 256"},
      {R"({"clusterName": "c", "tags": [{"key": "k"}, {"key": "k"}]})",
       "INVALID_ARGUMENT InvalidParameterException: tags[1].key: duplicate tag key \"k\""},
      {R"({"clusterName": "c", "tags": [)" + many_tags + "]}",
       "INVALID_ARGUMENT InvalidParameterException: tags: at most 50 tags; got 51"},
      {R"({"clusterName": "c", "settings": [{"name": "containerInsights", "value": "on"}]})",
       "INVALID_ARGUMENT InvalidParameterException: settings[0].value: must be enabled or "
       "disabled; got \"on\""},
      {R"({"clusterName": "c", "settings": [{"value": "enabled"}]})",
       "INVALID_ARGUMENT InvalidParameterException: settings[0].name: must be containerInsights"},
      {R"({"clusterName": "c", "defaultCapacityProviderStrategy": [
           {"capacityProvider": "FARGATE", "weight": 1001}]})",
       "INVALID_ARGUMENT InvalidParameterException: defaultCapacityProviderStrategy[0].weight: "
       "must be between 0 and 1000; got 1001"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(Create(c.request)), StartsWith(c.error)) << c.request;
  }
  // A request that skipped the JSON decoder still gets its shape checked.
  v1::CreateClusterRequest unshaped;
  unshaped.set_cluster_name("c");
  unshaped.add_settings()->set_name("fastMode");
  EXPECT_THAT(ErrorOf(clusters_->CreateCluster(unshaped)),
              StartsWith("INVALID_ARGUMENT ClientException: settings[0].name"));
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default")));  // Nothing was created.
}

// --- DescribeClusters and ListClusters ---

TEST_F(ClusterRegistryTest, DescribeClustersByNameArnOrNothing) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod", "tags": [{"key": "env", "value": "p"}]})").ok());
  auto response = Describe(R"({"clusters": ["prod", ")" + Arn("cluster/default") +
                           R"(", "staging", "not valid"]})");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->clusters_size(), 2);
  EXPECT_EQ(response->clusters(0).cluster_name(), "prod");
  EXPECT_EQ(response->clusters(1).cluster_name(), "default");
  // Without include, no tags and no settings, as ECS.
  EXPECT_THAT(response->clusters(0).tags(), IsEmpty());
  EXPECT_THAT(response->clusters(0).settings(), IsEmpty());
  ASSERT_EQ(response->failures_size(), 2);
  EXPECT_EQ(response->failures(0).arn(), Arn("cluster/staging"));
  EXPECT_EQ(response->failures(0).reason(), "MISSING");
  EXPECT_EQ(response->failures(1).arn(), "not valid");
  EXPECT_EQ(response->failures(1).reason(), "MISSING");

  EXPECT_EQ(DescribeOne("{}").cluster_name(), "default");
  const v1::Cluster full =
      DescribeOne(R"({"clusters": ["prod"], "include": ["TAGS", "SETTINGS", "STATISTICS"]})");
  EXPECT_THAT(TagsOf(full.tags()), ElementsAre("env=p"));
  EXPECT_EQ(full.settings(0).value(), "disabled");
  ASSERT_EQ(full.statistics_size(), 4);
  EXPECT_EQ(full.statistics(0).name(), "runningEC2TasksCount");
  EXPECT_EQ(full.statistics(0).value(), "0");
}

TEST_F(ClusterRegistryTest, DescribeClustersRejectsMoreThanOneHundred) {
  v1::DescribeClustersRequest request;
  for (int i = 0; i < 101; ++i) request.add_clusters(absl::StrCat("c", i));
  EXPECT_EQ(ErrorOf(clusters_->DescribeClusters(request)),
            "INVALID_ARGUMENT InvalidParameterException: clusters: at most 100 clusters; got 101");
  v1::DescribeClustersRequest bad_include;
  bad_include.add_include("EVERYTHING");
  EXPECT_THAT(ErrorOf(clusters_->DescribeClusters(bad_include)),
              StartsWith("INVALID_ARGUMENT ClientException: include"));
}

TEST_F(ClusterRegistryTest, ClusterCountsFollowTheTasksOfThatCluster) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  const std::string id = RunOne("prod");
  v1::Cluster prod = DescribeOne(R"({"clusters": ["prod"], "include": ["STATISTICS"]})");
  EXPECT_EQ(prod.pending_tasks_count(), 1);
  EXPECT_EQ(prod.running_tasks_count(), 0);
  EXPECT_EQ(prod.statistics(2).name(), "pendingEC2TasksCount");
  EXPECT_EQ(prod.statistics(2).value(), "1");
  Settle();
  prod = DescribeOne(R"({"clusters": ["prod"]})");
  EXPECT_EQ(prod.pending_tasks_count(), 0);
  EXPECT_EQ(prod.running_tasks_count(), 1);
  EXPECT_EQ(DescribeOne("{}").running_tasks_count(), 0);  // default has none.

  v1::StopTaskRequest stop;
  stop.set_cluster("prod");
  stop.set_task(id);
  ASSERT_TRUE(tasks_->StopTask(stop).ok());
  EXPECT_EQ(DescribeOne(R"({"clusters": ["prod"]})").running_tasks_count(), 0);
}

TEST_F(ClusterRegistryTest, ListClustersPaginates) {
  for (const char* name : {"b", "a", "c"}) {
    ASSERT_TRUE(Create(absl::StrCat(R"({"clusterName": ")", name, R"("})")).ok());
  }
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/a"), Arn("cluster/b"), Arn("cluster/c"),
                                     Arn("cluster/default")));
  auto first = clusters_->ListClusters(Parse<v1::ListClustersRequest>(R"({"maxResults": 3})"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(first->cluster_arns(),
              ElementsAre(Arn("cluster/a"), Arn("cluster/b"), Arn("cluster/c")));
  ASSERT_TRUE(first->has_next_token());
  v1::ListClustersRequest next;
  next.set_next_token(first->next_token());
  auto second = clusters_->ListClusters(next);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(second->cluster_arns(), ElementsAre(Arn("cluster/default")));
  EXPECT_FALSE(second->has_next_token());

  EXPECT_EQ(ErrorOf(clusters_->ListClusters(
                Parse<v1::ListClustersRequest>(R"({"nextToken": "bogus"})"))),
            "INVALID_ARGUMENT InvalidParameterException: nextToken: not a token this listing "
            "returned");
  EXPECT_EQ(ErrorOf(clusters_->ListClusters(
                Parse<v1::ListClustersRequest>(R"({"maxResults": 0})"))),
            "INVALID_ARGUMENT InvalidParameterException: maxResults: must be between 1 and 100; "
            "got 0");
}

// --- DeleteCluster ---

TEST_F(ClusterRegistryTest, DeleteClusterReturnsItInactiveAndForgetsIt) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod", "tags": [{"key": "k", "value": "v"}]})").ok());
  auto deleted = clusters_->DeleteCluster(Parse<v1::DeleteClusterRequest>(
      R"({"cluster": ")" + Arn("cluster/prod") + R"("})"));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->cluster().status(), "INACTIVE");
  EXPECT_EQ(deleted->cluster().cluster_arn(), Arn("cluster/prod"));
  EXPECT_EQ(deleted->cluster().registered_container_instances_count(), 0);

  auto described = Describe(R"({"clusters": ["prod"]})");
  ASSERT_TRUE(described.ok());
  EXPECT_THAT(described->clusters(), IsEmpty());
  EXPECT_EQ(described->failures(0).reason(), "MISSING");
  Open();
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default")));

  // Re-created, it starts afresh: the old tags went with it.
  auto again = Create(R"({"clusterName": "prod"})");
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->tags(), IsEmpty());
}

TEST_F(ClusterRegistryTest, DeleteClusterRefusesUnknownClustersAndBadReferences) {
  EXPECT_EQ(ErrorOf(clusters_->DeleteCluster(Parse<v1::DeleteClusterRequest>(
                R"({"cluster": "staging"})"))),
            "NOT_FOUND ClusterNotFoundException: Cluster not found.");
  EXPECT_THAT(ErrorOf(clusters_->DeleteCluster(Parse<v1::DeleteClusterRequest>(
                  R"({"cluster": "a/b"})"))),
              StartsWith("INVALID_ARGUMENT InvalidParameterException: cluster: must be 1-255"));
  EXPECT_THAT(ErrorOf(clusters_->DeleteCluster(v1::DeleteClusterRequest())),
              StartsWith("INVALID_ARGUMENT ClientException: cluster"));
}

TEST_F(ClusterRegistryTest, DeleteClusterRefusesWhileATaskIsNotStopped) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  const std::string id = RunOne("prod");
  Settle();
  const auto request = Parse<v1::DeleteClusterRequest>(R"({"cluster": "prod"})");
  EXPECT_EQ(ErrorOf(clusters_->DeleteCluster(request)),
            "FAILED_PRECONDITION ClusterContainsTasksException: The Cluster cannot be deleted "
            "while Tasks are active.");

  v1::StopTaskRequest stop;
  stop.set_cluster("prod");
  stop.set_task(id);
  ASSERT_TRUE(tasks_->StopTask(stop).ok());
  Settle();
  // Stopping is not stopped.
  EXPECT_THAT(ErrorOf(clusters_->DeleteCluster(request)),
              StartsWith("FAILED_PRECONDITION ClusterContainsTasksException"));
  runtime_.Exit(id + "-app", 143, clock_.Now());
  Settle();
  EXPECT_TRUE(clusters_->DeleteCluster(request).ok());
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default")));
}

TEST_F(ClusterRegistryTest, TheDefaultClusterCanBeDeletedAndComesBackAtTheNextStart) {
  ASSERT_TRUE(clusters_->DeleteCluster(Parse<v1::DeleteClusterRequest>(
                  R"({"cluster": "default"})")).ok());
  EXPECT_EQ(ErrorOf(directory_->Resolve("")),
            "NOT_FOUND ClusterNotFoundException: Cluster not found.");
  EXPECT_THAT(ListAll(), IsEmpty());
  EXPECT_TRUE(Create("{}").ok());  // CreateCluster without a name brings it back.
  EXPECT_EQ(*directory_->Resolve(""), "default");
  ASSERT_TRUE(clusters_->DeleteCluster(Parse<v1::DeleteClusterRequest>(
                  R"({"cluster": "default"})")).ok());
  Open();
  EXPECT_THAT(ListAll(), ElementsAre(Arn("cluster/default")));
}

TEST_F(ClusterRegistryTest, DeleteClusterRefusesWhileItHasServices) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  ASSERT_TRUE(services_->CreateService(Parse<v1::CreateServiceRequest>(
      R"({"cluster": "prod", "serviceName": "api", "taskDefinition": "web",
          "desiredCount": 0})")).ok());
  EXPECT_EQ(DescribeOne(R"({"clusters": ["prod"]})").active_services_count(), 1);
  EXPECT_EQ(DescribeOne("{}").active_services_count(), 0);
  const auto request = Parse<v1::DeleteClusterRequest>(R"({"cluster": "prod"})");
  EXPECT_EQ(ErrorOf(clusters_->DeleteCluster(request)),
            "FAILED_PRECONDITION ClusterContainsServicesException: The Cluster cannot be deleted "
            "while Services are active.");
  ASSERT_TRUE(services_->DeleteService(Parse<v1::DeleteServiceRequest>(
      R"({"cluster": "prod", "service": "api"})")).ok());
  Settle();  // The service, with no task, goes INACTIVE.
  EXPECT_EQ(DescribeOne(R"({"clusters": ["prod"]})").active_services_count(), 0);
  EXPECT_TRUE(clusters_->DeleteCluster(request).ok());
}

TEST_F(ClusterRegistryTest, CreateServiceNeedsAnExistingCluster) {
  EXPECT_EQ(ErrorOf(services_->CreateService(Parse<v1::CreateServiceRequest>(
                R"({"cluster": "staging", "serviceName": "api", "taskDefinition": "web",
                    "desiredCount": 0})"))),
            "NOT_FOUND ClusterNotFoundException: Cluster not found.");
}

// --- DescribeContainerInstances ---

TEST_F(ClusterRegistryTest, TheNodeIsTheContainerInstanceOfEveryCluster) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  const std::string arn = Arn(std::string("container-instance/prod/") + kInstanceId);
  for (const std::string& ref :
       {arn, std::string(kInstanceId), Arn(std::string("container-instance/") + kInstanceId)}) {
    auto instance = DescribeInstance(R"({"cluster": "prod", "containerInstances": [")" + ref +
                                     R"("]})");
    ASSERT_TRUE(instance.ok()) << ref << ": " << instance.status();
    EXPECT_EQ(instance->container_instance_arn(), arn);
  }
  auto instance = DescribeInstance(R"({"cluster": "prod", "containerInstances": [")" +
                                   std::string(kInstanceId) + R"("]})");
  ASSERT_TRUE(instance.ok());
  EXPECT_FALSE(instance->has_ec2_instance_id());
  EXPECT_EQ(instance->status(), "ACTIVE");
  EXPECT_TRUE(instance->agent_connected());
  EXPECT_EQ(instance->version_info().agent_version(), "1.2.3");
  EXPECT_EQ(instance->version_info().docker_version(), "containerd 1.6.20");
  EXPECT_EQ(instance->registered_at(), 1700000000);
  EXPECT_EQ(instance->running_tasks_count(), 0);
  EXPECT_EQ(instance->pending_tasks_count(), 0);
  EXPECT_FALSE(instance->has_health_status());
  const v1::Resource* cpu = FindResource(instance->registered_resources(), "CPU");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->type(), "INTEGER");
  EXPECT_EQ(cpu->integer_value(), 2048);
  EXPECT_EQ(FindResource(instance->registered_resources(), "MEMORY")->integer_value(), 4096);
  const v1::Resource* ports = FindResource(instance->registered_resources(), "PORTS");
  ASSERT_NE(ports, nullptr);
  EXPECT_EQ(ports->type(), "STRINGSET");
  EXPECT_THAT(ports->string_set_value(), IsEmpty());
  EXPECT_NE(FindResource(instance->remaining_resources(), "PORTS_UDP"), nullptr);

  struct utsname name {};
  ASSERT_EQ(uname(&name), 0);
  const std::string machine = name.machine;
  ASSERT_EQ(instance->attributes_size(), 2);
  EXPECT_EQ(instance->attributes(0).name(), "ecs.os-type");
  EXPECT_EQ(instance->attributes(0).value(), "linux");
  EXPECT_EQ(instance->attributes(1).name(), "ecs.cpu-architecture");
  EXPECT_EQ(instance->attributes(1).value(), machine == "aarch64" ? "arm64" : machine);
}

TEST_F(ClusterRegistryTest, RemainingResourcesAreWhatTasksLeave) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  RunOne("prod");
  RunOne();  // In default: the node is shared, so it counts against every cluster's instance.
  const std::string request =
      R"({"cluster": "prod", "containerInstances": ["0123456789abcdef0123456789abcdef"]})";
  auto instance = DescribeInstance(request);
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(FindResource(instance->remaining_resources(), "CPU")->integer_value(), 2048 - 512);
  EXPECT_EQ(FindResource(instance->remaining_resources(), "MEMORY")->integer_value(),
            4096 - 1024);
  EXPECT_EQ(FindResource(instance->registered_resources(), "CPU")->integer_value(), 2048);
  EXPECT_EQ(instance->pending_tasks_count(), 1);  // Only prod's.
  Settle();
  instance = DescribeInstance(request);
  ASSERT_TRUE(instance.ok());
  EXPECT_EQ(instance->running_tasks_count(), 1);
  EXPECT_EQ(instance->pending_tasks_count(), 0);
}

TEST_F(ClusterRegistryTest, ContainerInstanceHealthFollowsTheRuntime) {
  runtime_health_.up = false;
  auto instance = DescribeInstance(
      R"({"containerInstances": ["0123456789abcdef0123456789abcdef"],
          "include": ["CONTAINER_INSTANCE_HEALTH"]})");
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_FALSE(instance->agent_connected());
  EXPECT_EQ(instance->health_status().overall_status(), "IMPAIRED");
  ASSERT_EQ(instance->health_status().details_size(), 1);
  EXPECT_EQ(instance->health_status().details(0).type(), "CONTAINER_RUNTIME");
  EXPECT_EQ(instance->health_status().details(0).status(), "IMPAIRED");
}

TEST_F(ClusterRegistryTest, UnknownContainerInstancesAreMissing) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  auto response = clusters_->DescribeContainerInstances(
      Parse<v1::DescribeContainerInstancesRequest>(R"({"cluster": "prod", "containerInstances":
          ["ffffffffffffffffffffffffffffffff", "i-0abc", "0123456789abcdef0123456789abcdef"]})"));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->container_instances_size(), 1);
  ASSERT_EQ(response->failures_size(), 2);
  EXPECT_EQ(response->failures(0).arn(),
            Arn("container-instance/prod/ffffffffffffffffffffffffffffffff"));
  EXPECT_EQ(response->failures(0).reason(), "MISSING");
  EXPECT_EQ(response->failures(1).arn(), "i-0abc");
  // The instance ARN of another cluster names the node, but not in this cluster.
  response = clusters_->DescribeContainerInstances(Parse<v1::DescribeContainerInstancesRequest>(
      R"({"cluster": "prod", "containerInstances": [")" +
      Arn(std::string("container-instance/default/") + kInstanceId) + R"("]})"));
  ASSERT_TRUE(response.ok());
  EXPECT_THAT(response->container_instances(), IsEmpty());
  EXPECT_EQ(response->failures(0).reason(), "MISSING");
}

TEST_F(ClusterRegistryTest, DescribeContainerInstancesChecksItsInput) {
  EXPECT_EQ(ErrorOf(DescribeInstance(R"({"cluster": "staging", "containerInstances": ["x"]})")),
            "NOT_FOUND ClusterNotFoundException: Cluster not found.");
  EXPECT_THAT(ErrorOf(clusters_->DescribeContainerInstances({})),
              StartsWith("INVALID_ARGUMENT ClientException: containerInstances"));
  v1::DescribeContainerInstancesRequest many;
  for (int i = 0; i < 101; ++i) many.add_container_instances(kInstanceId);
  EXPECT_EQ(ErrorOf(clusters_->DescribeContainerInstances(many)),
            "INVALID_ARGUMENT InvalidParameterException: containerInstances: at most 100 "
            "container instances; got 101");
}

// --- Tags ---

TEST_F(ClusterRegistryTest, ClusterTagsMergeRemoveAndPersist) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod", "tags": [{"key": "a", "value": "1"}]})").ok());
  const std::string arn = Arn("cluster/prod");
  auto tagged = clusters_->TagResource(Parse<v1::TagResourceRequest>(
      R"({"resourceArn": ")" + arn + R"(", "tags": [{"key": "b", "value": "2"},
                                                  {"key": "a", "value": "10"}]})"));
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_THAT(*ListTags(arn), ElementsAre("a=10", "b=2"));

  auto untagged = clusters_->UntagResource(Parse<v1::UntagResourceRequest>(
      R"({"resourceArn": ")" + arn + R"(", "tagKeys": ["a", "not-there"]})"));
  ASSERT_TRUE(untagged.ok()) << untagged.status();
  EXPECT_THAT(*ListTags(arn), ElementsAre("b=2"));

  Open();
  EXPECT_THAT(*ListTags(arn), ElementsAre("b=2"));
  EXPECT_THAT(TagsOf(DescribeOne(R"({"clusters": ["prod"], "include": ["TAGS"]})").tags()),
              ElementsAre("b=2"));
}

TEST_F(ClusterRegistryTest, TaskDefinitionTagsLiveWithTheRevision) {
  const std::string arn = Arn("task-definition/web:1");
  EXPECT_THAT(*ListTags(arn), ElementsAre("team=core"));
  ASSERT_TRUE(clusters_->TagResource(Parse<v1::TagResourceRequest>(
      R"({"resourceArn": ")" + arn + R"(", "tags": [{"key": "tier", "value": "front"}]})")).ok());
  ASSERT_TRUE(clusters_->UntagResource(Parse<v1::UntagResourceRequest>(
      R"({"resourceArn": ")" + arn + R"(", "tagKeys": ["team"]})")).ok());
  EXPECT_THAT(*ListTags(arn), ElementsAre("tier=front"));
  // DescribeTaskDefinition sees the same tags.
  auto described = registry_->Describe(Parse<v1::DescribeTaskDefinitionRequest>(
      R"({"taskDefinition": "web:1", "include": ["TAGS"]})"));
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_THAT(TagsOf(described->tags()), ElementsAre("tier=front"));
}

TEST_F(ClusterRegistryTest, ServiceTagsGoThroughTheServiceManager) {
  ASSERT_TRUE(Create(R"({"clusterName": "prod"})").ok());
  ASSERT_TRUE(services_->CreateService(Parse<v1::CreateServiceRequest>(
      R"({"cluster": "prod", "serviceName": "api", "taskDefinition": "web", "desiredCount": 0,
          "tags": [{"key": "team", "value": "core"}]})")).ok());
  const std::string arn = Arn("service/prod/api");
  EXPECT_THAT(*ListTags(arn), ElementsAre("team=core"));
  ASSERT_TRUE(clusters_->TagResource(Parse<v1::TagResourceRequest>(
      R"({"resourceArn": ")" + arn + R"(", "tags": [{"key": "team", "value": "edge"},
                                                  {"key": "tier", "value": "1"}]})")).ok());
  ASSERT_TRUE(clusters_->UntagResource(Parse<v1::UntagResourceRequest>(
      R"({"resourceArn": ")" + arn + R"(", "tagKeys": ["tier"]})")).ok());
  EXPECT_THAT(*ListTags(arn), ElementsAre("team=edge"));
  // DescribeServices shows what TagResource wrote.
  auto described = services_->DescribeServices(Parse<v1::DescribeServicesRequest>(
      R"({"cluster": "prod", "services": ["api"], "include": ["TAGS"]})"));
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ(described->services_size(), 1);
  EXPECT_THAT(TagsOf(described->services(0).tags()), ElementsAre("team=edge"));

  // The older ARN form without a cluster names a service of default.
  ASSERT_TRUE(services_->CreateService(Parse<v1::CreateServiceRequest>(
      R"({"serviceName": "old", "taskDefinition": "web", "desiredCount": 0,
          "tags": [{"key": "k", "value": "v"}]})")).ok());
  EXPECT_THAT(*ListTags(Arn("service/old")), ElementsAre("k=v"));

  const std::string missing = Arn("service/prod/nope");
  EXPECT_EQ(ErrorOf(ListTags(missing)),
            "NOT_FOUND InvalidParameterException: The specified resource wasn't found: " + missing);
  EXPECT_EQ(ErrorOf(clusters_->TagResource(Parse<v1::TagResourceRequest>(
                R"({"resourceArn": ")" + missing + R"(", "tags": [{"key": "k"}]})"))),
            "NOT_FOUND ResourceNotFoundException: The specified resource wasn't found: " +
                missing);
}

TEST_F(ClusterRegistryTest, TagOperationsOnMissingResources) {
  const std::string gone = Arn("task-definition/web:9");
  EXPECT_EQ(ErrorOf(clusters_->TagResource(Parse<v1::TagResourceRequest>(
                R"({"resourceArn": ")" + gone + R"(", "tags": [{"key": "k"}]})"))),
            "NOT_FOUND ResourceNotFoundException: The specified resource wasn't found: " + gone);
  EXPECT_EQ(ErrorOf(clusters_->UntagResource(Parse<v1::UntagResourceRequest>(
                R"({"resourceArn": ")" + gone + R"(", "tagKeys": ["k"]})"))),
            "NOT_FOUND ResourceNotFoundException: The specified resource wasn't found: " + gone);
  EXPECT_EQ(ErrorOf(ListTags(gone)),
            "NOT_FOUND InvalidParameterException: The specified resource wasn't found: " + gone);
  for (const std::string& arn : {Arn("cluster/staging"), Arn("service/staging/web")}) {
    EXPECT_EQ(ErrorOf(ListTags(arn)), "NOT_FOUND ClusterNotFoundException: Cluster not found.")
        << arn;
  }
}

TEST_F(ClusterRegistryTest, TagOperationsRejectBadInputNamingTheField) {
  const std::string arn = Arn("cluster/default");
  auto tag = [&](const std::string& tags) {
    return ErrorOf(clusters_->TagResource(Parse<v1::TagResourceRequest>(
        R"({"resourceArn": ")" + arn + R"(", "tags": )" + tags + "}")));
  };
  EXPECT_EQ(tag(R"([{"key": "ok"}, {"key": "aws:owner", "value": "x"}])"),
            "INVALID_ARGUMENT InvalidParameterException: tags[1].key: the aws: prefix is "
            "reserved");
  EXPECT_EQ(tag(R"([{"key": "k", "value": "a;b"}])"),
            "INVALID_ARGUMENT InvalidParameterException: tags[0].value: may hold letters, "
            "digits, spaces and + - = . _ : / @; got \"a;b\"");
  v1::TagResourceRequest no_tags;  // The JSON decoder refuses this; a gRPC caller may not.
  no_tags.set_resource_arn(arn);
  EXPECT_EQ(ErrorOf(clusters_->TagResource(no_tags)),
            "INVALID_ARGUMENT ClientException: tags: must have at least one item");

  // The limit of 50 holds for the merged tags.
  std::string fifty;
  for (int i = 0; i < 50; ++i) absl::StrAppend(&fifty, i ? "," : "", R"({"key": "k)", i, R"("})");
  EXPECT_EQ(tag("[" + fifty + "]"), "OK");
  EXPECT_EQ(tag(R"([{"key": "k0", "value": "again"}])"), "OK");  // Overwrites, still 50.
  EXPECT_EQ(tag(R"([{"key": "one-more"}])"),
            "INVALID_ARGUMENT InvalidParameterException: tags: the resource would have 51 tags; "
            "the limit is 50");

  EXPECT_EQ(ErrorOf(clusters_->UntagResource(Parse<v1::UntagResourceRequest>(
                R"({"resourceArn": ")" + arn + R"(", "tagKeys": ["k1", ""]})"))),
            "INVALID_ARGUMENT InvalidParameterException: tagKeys[1]: must be 1-128 characters");

  struct Case {
    std::string arn;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"default", "resourceArn: must be the ARN of a cluster, service or task definition"},
      {"arn:aws:ecs:us-east-1:000000000000:cluster/default", "resourceArn: must be the ARN"},
      {Arn("task/default/0123456789abcdef0123456789abcdef"), "resourceArn: must be the ARN"},
      {Arn("container-instance/default/") + kInstanceId, "resourceArn: must be the ARN"},
      {Arn("cluster/a b"), "resourceArn: the cluster name must be 1-255"},
      {Arn("service/default/a/b"), "resourceArn: the service name must be 1-255"},
      {Arn("service/bad cluster/web"), "resourceArn: the cluster name must be 1-255"},
      {Arn("task-definition/web"), "resourceArn: a task definition ARN must end with :REVISION"},
      {Arn("task-definition/web:0"), "resourceArn: revision must be a positive integer"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(ListTags(c.arn)),
                StartsWith("INVALID_ARGUMENT InvalidParameterException: " + c.error))
        << c.arn;
  }
}

}  // namespace
}  // namespace skiff::scheduler

// ServiceManagerTest: a ServiceManager on a real TaskManager, HealthMonitor and store, with the
// fake runtime, a manual loop and executor, and simulated time. Shared by the ServiceManager
// test files; test thread only.
#ifndef SKIFF_TESTS_UNIT_SCHEDULER_SERVICE_FIXTURE_H_
#define SKIFF_TESTS_UNIT_SCHEDULER_SERVICE_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "fakes/fake_network.h"
#include "fakes/fake_runtime.h"
#include "fakes/fake_runtime_health.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/scheduler_stack.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/health_monitor.h"
#include "skiff/scheduler/service_manager.h"

namespace skiff::scheduler {

inline constexpr char kImage[] = "skiff.local/busybox:test";

class ServiceManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_.AddImage(kImage);
    Open();
    Register(R"({"family": "web", "networkMode": "host", "containerDefinitions": [
        {"name": "app", "image": "skiff.local/busybox:test", "memory": 32}]})");
  }

  // (Re)opens the store and builds the managers on it, as a restart of skiffd does.
  void Open(Resources capacity = {.cpu = 4096, .memory = 4096}) {
    stack_.reset();
    health_.reset();
    loop_.DropPending();  // Work the old managers posted must not reach the new ones.
    health_ = std::make_unique<HealthMonitor>(&loop_, &executor_, &runtime_, &clock_);
    ServiceManagerOptions services = service_options_;
    services.targets = target_registry_;
    auto stack = fakes::SchedulerStack::Open(
        {.loop = &loop_,
         .executor = &executor_,
         .runtime = &runtime_,
         .clock = &clock_,
         .random = &random_,
         .health = health_.get()},
        {.state_dir = dir_.path() + "/state",
         .tasks = {.capacity = capacity,
                   // No port is bound on a simulated host.
                   .ports = {.in_use = [](int, const std::string&) { return false; }},
                   .runtime_health = &runtime_health_,
                   .network = &network_,
                   .targets = target_registry_,
                   .dns_search = dns_search_},
         .services = std::move(services)});
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    store_ = &stack_->store();
    registry_ = &stack_->registry();
    tasks_ = &stack_->tasks();
    services_ = &stack_->services();
    services_->AddListener([this](const store::StoredService&) { ++saves_; });
  }

  void Register(const std::string& json) {
    v1::RegisterTaskDefinitionRequest request;
    ASSERT_TRUE(model::DecodeMessageText(json, &request).ok());
    ASSERT_TRUE(registry_->Register(request).ok());
  }

  void Settle() {
    while (loop_.RunPending() + executor_.RunAll() > 0) {
    }
  }
  // Moves simulated time on, letting every timer that falls due run (and what it causes).
  void Advance(absl::Duration d) {
    const absl::Duration step = absl::Milliseconds(100);
    for (absl::Duration done; done < d; done += step) {
      loop_.AdvanceTime(std::min(step, d - done));
      Settle();
    }
  }

  template <typename Request>
  static Request Parse(const std::string& json) {
    Request request;
    absl::Status decoded = model::DecodeMessageText(json, &request);
    EXPECT_TRUE(decoded.ok()) << decoded;
    return request;
  }

  absl::Status Create(const std::string& json) {
    return services_->CreateService(Parse<v1::CreateServiceRequest>(json)).status();
  }
  absl::Status Update(const std::string& json) {
    return services_->UpdateService(Parse<v1::UpdateServiceRequest>(json)).status();
  }

  v1::Service Describe(const std::string& name = "web") {
    v1::DescribeServicesRequest request;
    request.add_services(name);
    auto response = services_->DescribeServices(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->services().empty()) return v1::Service();
    return response->services(0);
  }

  // Ids of the service's tasks whose desired status is `desired`.
  std::vector<std::string> TaskIds(const std::string& service = "web",
                                   const std::string& desired = "RUNNING") {
    std::vector<std::string> ids;
    tasks_->ForEachTask([&](const store::StoredTask& t) {
      if (t.service == service && t.task.desired_status() == desired) ids.push_back(t.id);
    });
    return ids;
  }
  int Launches() const {
    int n = 0;
    for (const std::string& call : runtime_.calls()) n += absl::StartsWith(call, "StartContainer");
    return n;
  }
  // Exits every running container of the task (its process died).
  void Kill(const std::string& task_id, uint32_t status = 137) {
    runtime_.Exit(task_id + "-app", status, clock_.Now());
    Settle();
  }
  std::vector<std::string> Events(const std::string& name = "web") {
    std::vector<std::string> out;
    const v1::Service service = Describe(name);
    for (const v1::ServiceEvent& e : service.events()) out.push_back(e.message());
    return out;
  }
  static bool HasEvent(const std::vector<std::string>& events, absl::string_view text) {
    for (const std::string& e : events) {
      if (absl::StrContains(e, text)) return true;
    }
    return false;
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  fakes::FakeRuntimeHealth runtime_health_;
  fakes::FakeNetwork network_;
  // Most tests look at one pass at a time: a RUNNING task counts as healthy at once. The
  // deployment tests use the daemon's defaults (a task counts after 500 ms).
  ServiceManagerOptions service_options_{.planner = {.ready_after = absl::ZeroDuration()}};
  // Load balancing, for the tests that set it before Open(); it outlives restarts.
  TargetRegistry* target_registry_ = nullptr;
  // Discovery's search domain of a cluster's tasks, for the tests that set it before Open().
  std::function<std::string(const std::string&)> dns_search_;
  std::unique_ptr<HealthMonitor> health_;
  std::unique_ptr<fakes::SchedulerStack> stack_;
  // The stack's parts.
  store::Store* store_ = nullptr;
  TaskDefinitionRegistry* registry_ = nullptr;
  TaskManager* tasks_ = nullptr;
  ServiceManager* services_ = nullptr;
  int saves_ = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_TESTS_UNIT_SCHEDULER_SERVICE_FIXTURE_H_

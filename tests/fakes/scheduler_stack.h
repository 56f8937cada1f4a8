// SchedulerStack: the scheduler's objects wired as skiffd wires them (src/daemon/daemon.cc), for
// the tests and benchmarks that run them in process: one store, the task-definition registry,
// the cluster directory, TaskManager, ServiceManager and the cluster API, constructed in
// dependency order and loaded, with the runtime's events posted to the loop for the tasks. The
// caller owns the loop, executor, runtime, clock and random source (fakes, usually).
//
// To restart skiffd in a test, destroy the stack (after dropping the loop's pending work, which
// points into it) and open a new one on the same state dir. TearDown destroys it part by part,
// for a benchmark that weighs each part's heap.
#ifndef SKIFF_TESTS_FAKES_SCHEDULER_STACK_H_
#define SKIFF_TESTS_FAKES_SCHEDULER_STACK_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/arn.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scheduler/cluster_directory.h"
#include "skiff/scheduler/cluster_registry.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/executor.h"
#include "skiff/scheduler/health_monitor.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/store/store.h"

namespace skiff::fakes {

// What the stack runs on; every pointer must outlive it.
struct SchedulerDeps {
  scheduler::EventLoop* loop = nullptr;
  scheduler::Executor* executor = nullptr;
  runtime::ContainerRuntime* runtime = nullptr;
  const Clock* clock = nullptr;
  RandomSource* random = nullptr;
  scheduler::HealthMonitor* health = nullptr;  // Optional: no health checks without one.
};

struct SchedulerStackOptions {
  std::string state_dir;  // The store and the tasks' files; also tasks.state_dir.
  model::ArnScope scope;
  scheduler::TaskManagerOptions tasks;  // state_dir and random are set from the above.
  scheduler::ServiceManagerOptions services;
  scheduler::NodeInfo node;
};

class SchedulerStack {
 public:
  // As skiffd going down: the runtime's events no longer reach the managers it held (a test
  // that drops a stack and opens another on the same runtime must not see the old one called).
  ~SchedulerStack() {
    if (events_started_) deps_.runtime->StopEvents();
  }

  static absl::StatusOr<std::unique_ptr<SchedulerStack>> Open(const SchedulerDeps& deps,
                                                              SchedulerStackOptions options) {
    SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store,
                           store::Store::Open(options.state_dir));
    std::unique_ptr<SchedulerStack> stack(new SchedulerStack(deps, std::move(options),
                                                             std::move(store)));
    SKIFF_RETURN_IF_ERROR(stack->Load());
    return stack;
  }

  SchedulerStack(const SchedulerStack&) = delete;
  SchedulerStack& operator=(const SchedulerStack&) = delete;

  store::Store& store() { return *store_; }
  scheduler::TaskDefinitionRegistry& registry() { return *registry_; }
  scheduler::ClusterDirectory& directory() { return *directory_; }
  scheduler::TaskManager& tasks() { return *tasks_; }
  scheduler::ServiceManager& services() { return *services_; }
  scheduler::ClusterRegistry& clusters() { return *clusters_; }

  // Destroys the parts in the reverse order of their construction, calling `after` with each
  // one's name ("clusters", "services", "tasks", "directory", "registry", "store") once it is
  // gone. The stack is then empty: only its destructor may follow.
  void TearDown(const std::function<void(absl::string_view part)>& after) {
    clusters_.reset();
    after("clusters");
    services_.reset();
    after("services");
    tasks_.reset();
    after("tasks");
    directory_.reset();
    after("directory");
    registry_.reset();
    after("registry");
    store_.reset();
    after("store");
  }

 private:
  SchedulerStack(const SchedulerDeps& deps, SchedulerStackOptions options,
                 std::unique_ptr<store::Store> store)
      : deps_(deps), store_(std::move(store)) {
    const model::ArnScope& scope = options.scope;
    registry_ = std::make_unique<scheduler::TaskDefinitionRegistry>(store_.get(), deps.clock,
                                                                     scope, deps.loop);
    directory_ =
        std::make_unique<scheduler::ClusterDirectory>(store_.get(), deps.clock, scope, deps.loop);
    scheduler::TaskManagerOptions task_options = options.tasks;
    task_options.state_dir = options.state_dir;
    task_options.random = deps.random;
    // Never this host's ports: a unit test must not fail because an end-to-end test beside it
    // holds one (a skiff-dns on 53 did). Tests of the probe set their own.
    if (!task_options.ports.in_use) {
      task_options.ports.in_use = [](int, const std::string&) { return false; };
    }
    tasks_ = std::make_unique<scheduler::TaskManager>(
        deps.loop, deps.executor, deps.runtime, store_.get(), registry_.get(), directory_.get(),
        deps.clock, scope, std::move(task_options), deps.health);
    services_ = std::make_unique<scheduler::ServiceManager>(
        deps.loop, tasks_.get(), registry_.get(), directory_.get(), store_.get(), deps.clock,
        deps.random, scope, options.services);
    clusters_ = std::make_unique<scheduler::ClusterRegistry>(
        directory_.get(), tasks_.get(), services_.get(), registry_.get(), deps.clock, scope,
        std::move(options.node), deps.loop);
  }

  // As skiffd at startup: clusters, tasks, services; then the runtime's events.
  absl::Status Load() {
    SKIFF_RETURN_IF_ERROR(directory_->Load());
    SKIFF_RETURN_IF_ERROR(tasks_->Load());
    SKIFF_RETURN_IF_ERROR(services_->Load());
    scheduler::EventLoop* loop = deps_.loop;
    scheduler::TaskManager* tasks = tasks_.get();
    scheduler::ServiceManager* services = services_.get();
    deps_.runtime->StartEvents([loop, tasks, services](const runtime::RuntimeEvent& event) {
      loop->Post([tasks, services, event] {
        tasks->OnRuntimeEvent(event);
        if (event.kind == runtime::RuntimeEvent::Kind::kStreamUp) services->MarkAllDirty();
      });
    });
    events_started_ = true;
    return absl::OkStatus();
  }

  SchedulerDeps deps_;
  bool events_started_ = false;
  // In construction order; destroyed in reverse.
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<scheduler::TaskDefinitionRegistry> registry_;
  std::unique_ptr<scheduler::ClusterDirectory> directory_;
  std::unique_ptr<scheduler::TaskManager> tasks_;
  std::unique_ptr<scheduler::ServiceManager> services_;
  std::unique_ptr<scheduler::ClusterRegistry> clusters_;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_SCHEDULER_STACK_H_

// EcsClient: a synchronous handle on one skiffd's gRPC API (skiff.v1.Ecs and skiff.v1.Node) for
// end-to-end tests and benchmarks that talk to the daemon without the CLI. Every call has a
// deadline and comes back as an absl status (gRPC's code, the call's name in the message), and
// every wait is bounded: WaitForService polls DescribeServices until a condition holds or its
// timeout passes, and TaskWatch collects a cluster's task changes on its own thread.
//
// Thread contract: EcsClient's calls may come from any thread (gRPC stubs are thread-safe).
// A TaskWatch is created, read and destroyed on one thread; only its reader thread is internal.
#ifndef SKIFF_TESTS_E2E_ECS_CLIENT_H_
#define SKIFF_TESTS_E2E_ECS_CLIENT_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::e2e {

// Converts a finished call's status, naming the call.
absl::Status FromGrpc(const grpc::Status& status, absl::string_view call);

// The id at the end of a task ARN (.../task/default/<id>), or the argument if it has no '/'.
std::string TaskIdOf(const std::string& arn);

class EcsClient {
 public:
  static constexpr absl::Duration kCallTimeout = absl::Seconds(30);

  explicit EcsClient(const std::string& socket_path);

  // Streams an image tarball to Node.LoadImage; NotFound if `expect_ref` is not among the loaded.
  absl::Status LoadImage(const std::string& tarball, const std::string& expect_ref);
  // `json` is the ECS request (protobuf's JSON mapping uses the ECS member names).
  absl::Status RegisterTaskDefinition(const std::string& json);

  absl::StatusOr<v1::Service> CreateService(const v1::CreateServiceRequest& request);
  absl::StatusOr<v1::Service> UpdateService(const v1::UpdateServiceRequest& request);
  absl::StatusOr<v1::Service> DeleteService(const std::string& service, bool force);
  // NotFound when skiffd answers MISSING.
  absl::StatusOr<v1::Service> DescribeService(const std::string& service);

  // The service's tasks with this desired status, every page of ListTasks, described.
  absl::StatusOr<std::vector<v1::Task>> ServiceTasks(const std::string& service,
                                                     const std::string& desired_status);
  // RUNNING and STOPPED together: every task the service has launched that skiffd still keeps.
  absl::StatusOr<std::vector<v1::Task>> AllServiceTasks(const std::string& service);

  // Polls DescribeServices every `interval` until `done` holds and returns the service then.
  // DeadlineExceeded after `timeout`, with `what` and the last state seen.
  absl::StatusOr<v1::Service> WaitForService(const std::string& service,
                                             const std::function<bool(const v1::Service&)>& done,
                                             absl::string_view what, absl::Duration timeout,
                                             absl::Duration interval = absl::Milliseconds(100));

  absl::StatusOr<v1::RunTaskResponse> RunTask(const v1::RunTaskRequest& request);
  // NotFound when DescribeTasks does not know the task.
  absl::StatusOr<v1::Task> DescribeTask(const std::string& task);
  absl::Status StopTask(const std::string& task);
  // Polls DescribeTasks every `interval` until `done` holds and returns the task then.
  // DeadlineExceeded after `timeout`, with `what` and the last state seen.
  absl::StatusOr<v1::Task> WaitForTask(const std::string& task,
                                       const std::function<bool(const v1::Task&)>& done,
                                       absl::string_view what, absl::Duration timeout,
                                       absl::Duration interval = absl::Milliseconds(100));

  v1::Ecs::Stub& ecs() { return *ecs_; }
  v1::Node::Stub& node() { return *node_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Ecs::Stub> ecs_;
  std::unique_ptr<v1::Node::Stub> node_;
};

// Steady state reached: one deployment, running == desired, nothing pending.
bool IsSteady(const v1::Service& service);
// Whether any of the service's events contains `text`.
bool HasEvent(const v1::Service& service, absl::string_view text);
// The service's events, newest first, one per line (for failure messages).
std::string EventsText(const v1::Service& service);

// Every task change of the default cluster, as Node.Watch streams them, each stamped with the
// steady-clock time it arrived. The stream is open once Start() returns, but skiffd subscribes
// it on its loop a moment later: wait for a first event (WaitFor) before relying on it.
class TaskWatch {
 public:
  struct Change {
    std::chrono::steady_clock::time_point at;
    v1::Task task;
  };

  explicit TaskWatch(EcsClient* client) : client_(client) {}
  ~TaskWatch();  // Cancels the stream and joins the reader.

  void Start();
  // Waits until a change arrives that `match` accepts and returns it; changes that came before
  // are looked at first (and dropped when they do not match). DeadlineExceeded after `timeout`;
  // Unavailable if the stream ended.
  absl::StatusOr<Change> WaitFor(const std::function<bool(const Change&)>& match,
                                 absl::Duration timeout);
  // Drops the changes received so far.
  void Clear();

 private:
  void ReadLoop();

  EcsClient* client_;
  grpc::ClientContext context_;
  std::thread reader_;
  absl::Mutex mu_;
  std::deque<Change> changes_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  std::string end_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace skiff::e2e

#endif  // SKIFF_TESTS_E2E_ECS_CLIENT_H_

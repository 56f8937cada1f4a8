#include "ecs_client.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"

namespace skiff::e2e {
namespace {

constexpr size_t kImageChunk = 1 << 20;
// A Watch stream lives as long as the test or benchmark that holds it, but not forever.
constexpr absl::Duration kWatchLifetime = absl::Hours(1);

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status, absl::string_view call) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(call, ": ", status.error_message()));
}

std::string TaskIdOf(const std::string& arn) { return arn.substr(arn.rfind('/') + 1); }

EcsClient::EcsClient(const std::string& socket_path)
    : channel_(grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials())),
      ecs_(v1::Ecs::NewStub(channel_)),
      node_(v1::Node::NewStub(channel_)) {}

absl::Status EcsClient::LoadImage(const std::string& tarball, const std::string& expect_ref) {
  std::ifstream in(tarball, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + tarball);
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(120)));
  v1::LoadImageResponse response;
  auto writer = node_->LoadImage(&context, &response);
  std::string buffer(kImageChunk, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() <= 0) break;
    v1::LoadImageChunk chunk;
    chunk.set_data(buffer.data(), static_cast<size_t>(in.gcount()));
    if (!writer->Write(chunk)) break;  // Finish() says why.
  }
  writer->WritesDone();
  if (absl::Status s = FromGrpc(writer->Finish(), "LoadImage"); !s.ok()) return s;
  for (const v1::Image& image : response.images()) {
    if (image.name() == expect_ref) return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("LoadImage did not load ", expect_ref));
}

absl::Status EcsClient::RegisterTaskDefinition(const std::string& json) {
  v1::RegisterTaskDefinitionRequest request;
  if (auto parsed = google::protobuf::util::JsonStringToMessage(json, &request); !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("task definition JSON: ", parsed.ToString()));
  }
  grpc::ClientContext context;
  context.set_deadline(Deadline(kCallTimeout));
  v1::RegisterTaskDefinitionResponse response;
  return FromGrpc(ecs_->RegisterTaskDefinition(&context, request, &response),
                  "RegisterTaskDefinition");
}

absl::StatusOr<v1::Service> EcsClient::CreateService(const v1::CreateServiceRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(Deadline(kCallTimeout));
  v1::CreateServiceResponse response;
  if (absl::Status s = FromGrpc(ecs_->CreateService(&context, request, &response),
                                "CreateService");
      !s.ok()) {
    return s;
  }
  return response.service();
}

absl::StatusOr<v1::Service> EcsClient::UpdateService(const v1::UpdateServiceRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(Deadline(kCallTimeout));
  v1::UpdateServiceResponse response;
  if (absl::Status s = FromGrpc(ecs_->UpdateService(&context, request, &response),
                                "UpdateService");
      !s.ok()) {
    return s;
  }
  return response.service();
}

absl::StatusOr<v1::Service> EcsClient::DeleteService(const std::string& service, bool force) {
  grpc::ClientContext context;
  context.set_deadline(Deadline(kCallTimeout));
  v1::DeleteServiceRequest request;
  request.set_service(service);
  request.set_force(force);
  v1::DeleteServiceResponse response;
  if (absl::Status s = FromGrpc(ecs_->DeleteService(&context, request, &response),
                                "DeleteService");
      !s.ok()) {
    return s;
  }
  return response.service();
}

absl::StatusOr<v1::Service> EcsClient::DescribeService(const std::string& service) {
  grpc::ClientContext context;
  context.set_deadline(Deadline(kCallTimeout));
  v1::DescribeServicesRequest request;
  request.add_services(service);
  v1::DescribeServicesResponse response;
  if (absl::Status s = FromGrpc(ecs_->DescribeServices(&context, request, &response),
                                "DescribeServices");
      !s.ok()) {
    return s;
  }
  if (response.services_size() != 1) {
    return absl::NotFoundError(absl::StrCat("DescribeServices: no service ", service));
  }
  return response.services(0);
}

absl::StatusOr<std::vector<v1::Task>> EcsClient::ServiceTasks(const std::string& service,
                                                              const std::string& desired_status) {
  std::vector<std::string> arns;
  std::string next_token;
  do {
    grpc::ClientContext context;
    context.set_deadline(Deadline(kCallTimeout));
    v1::ListTasksRequest request;
    request.set_service_name(service);
    request.set_desired_status(desired_status);
    request.set_max_results(100);
    if (!next_token.empty()) request.set_next_token(next_token);
    v1::ListTasksResponse response;
    if (absl::Status s = FromGrpc(ecs_->ListTasks(&context, request, &response), "ListTasks");
        !s.ok()) {
      return s;
    }
    arns.insert(arns.end(), response.task_arns().begin(), response.task_arns().end());
    next_token = response.next_token();
  } while (!next_token.empty());

  std::vector<v1::Task> tasks;
  for (size_t at = 0; at < arns.size(); at += 100) {
    grpc::ClientContext context;
    context.set_deadline(Deadline(kCallTimeout));
    v1::DescribeTasksRequest request;
    for (size_t i = at; i < std::min(arns.size(), at + 100); ++i) request.add_tasks(arns[i]);
    v1::DescribeTasksResponse response;
    if (absl::Status s =
            FromGrpc(ecs_->DescribeTasks(&context, request, &response), "DescribeTasks");
        !s.ok()) {
      return s;
    }
    // A task removed between the two calls is simply gone.
    tasks.insert(tasks.end(), response.tasks().begin(), response.tasks().end());
  }
  return tasks;
}

absl::StatusOr<std::vector<v1::Task>> EcsClient::AllServiceTasks(const std::string& service) {
  absl::StatusOr<std::vector<v1::Task>> running = ServiceTasks(service, "RUNNING");
  if (!running.ok()) return running.status();
  absl::StatusOr<std::vector<v1::Task>> stopped = ServiceTasks(service, "STOPPED");
  if (!stopped.ok()) return stopped.status();
  // A task that went from one list to the other between the calls is counted once.
  std::vector<v1::Task> all = *std::move(stopped);
  for (v1::Task& task : *running) {
    bool seen = false;
    for (const v1::Task& t : all) seen = seen || t.task_arn() == task.task_arn();
    if (!seen) all.push_back(std::move(task));
  }
  return all;
}

absl::StatusOr<v1::Service> EcsClient::WaitForService(
    const std::string& service, const std::function<bool(const v1::Service&)>& done,
    absl::string_view what, absl::Duration timeout, absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::Service> last = absl::UnknownError("not described yet");
  while (true) {
    last = DescribeService(service);
    if (last.ok() && done(*last)) return last;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(interval);
  }
  std::string state = last.ok() ? absl::StrCat("status ", last->status(), ", running ",
                                               last->running_count(), ", pending ",
                                               last->pending_count(), ", desired ",
                                               last->desired_count(), "; events:\n",
                                               EventsText(*last))
                                : last.status().ToString();
  return absl::DeadlineExceededError(absl::StrCat("service ", service, ": not ", what, " within ",
                                                  absl::FormatDuration(timeout), "; last seen: ",
                                                  state));
}

absl::StatusOr<v1::RunTaskResponse> EcsClient::RunTask(const v1::RunTaskRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kCallTimeout));
  v1::RunTaskResponse response;
  if (absl::Status s = FromGrpc(ecs_->RunTask(&context, request, &response), "RunTask");
      !s.ok()) {
    return s;
  }
  return response;
}

absl::StatusOr<v1::Task> EcsClient::DescribeTask(const std::string& task) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kCallTimeout));
  v1::DescribeTasksRequest request;
  request.add_tasks(task);
  v1::DescribeTasksResponse response;
  if (absl::Status s = FromGrpc(ecs_->DescribeTasks(&context, request, &response),
                                "DescribeTasks");
      !s.ok()) {
    return s;
  }
  if (response.tasks_size() != 1) return absl::NotFoundError("DescribeTasks: no task " + task);
  return response.tasks(0);
}

absl::Status EcsClient::StopTask(const std::string& task) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kCallTimeout));
  v1::StopTaskRequest request;
  request.set_task(task);
  v1::StopTaskResponse response;
  return FromGrpc(ecs_->StopTask(&context, request, &response), "StopTask");
}

absl::StatusOr<v1::Task> EcsClient::WaitForTask(const std::string& task,
                                                const std::function<bool(const v1::Task&)>& done,
                                                absl::string_view what, absl::Duration timeout,
                                                absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::Task> last = absl::UnknownError("not described yet");
  while (true) {
    last = DescribeTask(task);
    if (last.ok() && done(*last)) return last;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(interval);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "task ", task, ": not ", what, " within ", absl::FormatDuration(timeout), "; last seen: ",
      last.ok() ? last->ShortDebugString() : last.status().ToString()));
}

bool IsSteady(const v1::Service& service) {
  return service.deployments_size() == 1 && service.running_count() == service.desired_count() &&
         service.pending_count() == 0;
}

bool HasEvent(const v1::Service& service, absl::string_view text) {
  for (const v1::ServiceEvent& e : service.events()) {
    if (absl::StrContains(e.message(), text)) return true;
  }
  return false;
}

std::string EventsText(const v1::Service& service) {
  std::string out;
  for (const v1::ServiceEvent& e : service.events()) absl::StrAppend(&out, "  ", e.message(), "\n");
  return out;
}

TaskWatch::~TaskWatch() {
  if (reader_.joinable()) {
    context_.TryCancel();
    reader_.join();
  }
}

void TaskWatch::Start() {
  context_.set_deadline(Deadline(kWatchLifetime));
  reader_ = std::thread([this] { ReadLoop(); });
}

void TaskWatch::ReadLoop() {
  v1::WatchRequest request;  // No tasks: every task of the default cluster, from now on.
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader =
      client_->node().Watch(&context_, request);
  v1::WatchEvent event;
  while (reader->Read(&event)) {
    if (!event.has_task()) continue;
    const auto at = std::chrono::steady_clock::now();
    absl::MutexLock lock(&mu_);
    changes_.push_back({at, event.task()});
  }
  const grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  ended_ = true;
  end_reason_ = status.ok() ? "stream ended" : status.error_message();
}

absl::StatusOr<TaskWatch::Change> TaskWatch::WaitFor(
    const std::function<bool(const Change&)>& match, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (true) {
    while (!changes_.empty()) {
      Change change = std::move(changes_.front());
      changes_.pop_front();
      if (match(change)) return change;
    }
    if (ended_) return absl::UnavailableError(absl::StrCat("watch: ", end_reason_));
    auto arrived = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !changes_.empty() || ended_;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
      return absl::DeadlineExceededError(
          absl::StrCat("watch: no matching task change within ", absl::FormatDuration(timeout)));
    }
  }
}

void TaskWatch::Clear() {
  absl::MutexLock lock(&mu_);
  changes_.clear();
}

}  // namespace skiff::e2e

#include "streams.h"

#include <unistd.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/descriptors.h"
#include "cli/exec_session.h"
#include "skiff/cli/app.h"
#include "skiff/cli/output.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::cli {
namespace {

constexpr size_t kUploadChunk = 1 << 20;
// The aws waiters: tasks 100 attempts 6 s apart, services 40 attempts 15 s apart.
constexpr int kDefaultWaitSeconds = 600;

// The short form of what users type: a task id or service name from an ARN, or the text itself.
std::string ShortName(const std::string& ref) {
  const size_t slash = ref.rfind('/');
  return slash == std::string::npos ? ref : ref.substr(slash + 1);
}

// What a waiter decides from the latest states.
enum class Verdict { kWaiting, kDone, kFailed };

// The latest state of each watched task and service, by task id or service name.
struct Watched {
  std::map<std::string, v1::Task> tasks;
  std::map<std::string, v1::Service> services;
};

using Decide = std::function<Verdict(const Watched&, std::string* why)>;

// A waiter request's --timeout in seconds, or 0 after printing a usage error.
template <typename WaitRequest>
int WaitSeconds(const WaitRequest& request) {
  const int seconds = request.has_timeout() ? request.timeout() : kDefaultWaitSeconds;
  if (seconds > 0) return seconds;
  std::cerr << "error: --timeout: must be a positive number of seconds\n";
  return 0;
}

// Watches what `watch` names (of one kind, `noun`: "task" or "service") until decide() says done
// or failed, or `timeout` seconds pass. The daemon first sends every named one's state or a
// Failure, then each change, so the waiter returns the moment the condition holds.
int WaitFor(const Connection& connection, const v1::WatchRequest& watch, int timeout,
            const std::string& waiter, const std::string& noun, const Decide& decide) {
  v1::Node::Stub stub(connection.channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(timeout)));
  auto reader = stub.Watch(&context, watch);
  std::set<std::string> wanted;
  for (const std::string& ref : watch.tasks()) wanted.insert(ShortName(ref));
  for (const std::string& ref : watch.services()) wanted.insert(ShortName(ref));
  Watched watched;
  std::map<std::string, v1::Failure> failures;
  v1::WatchEvent event;
  while (reader->Read(&event)) {
    if (event.has_task()) watched.tasks[ShortName(event.task().task_arn())] = event.task();
    if (event.has_service()) {
      watched.services[ShortName(event.service().service_arn())] = event.service();
    }
    if (event.has_failure()) failures[ShortName(event.failure().arn())] = event.failure();
    // The first answer covers every one named (state or failure); decide once all are known.
    if (watched.tasks.size() + watched.services.size() + failures.size() < wanted.size()) {
      continue;
    }
    std::string why;
    Verdict verdict = Verdict::kFailed;
    if (!failures.empty()) {
      // As the aws waiters: one that does not exist (MISSING) fails the waiter.
      why = absl::StrCat(noun, " ", failures.begin()->first, ": ",
                         failures.begin()->second.reason());
    } else {
      verdict = decide(watched, &why);
    }
    if (verdict == Verdict::kWaiting) continue;
    context.TryCancel();
    reader->Finish();
    if (verdict == Verdict::kDone) return kExitOk;
    std::cerr << "error: Waiter " << waiter << " failed: " << why << "\n";
    return kExitDaemonError;
  }
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::cerr << "error: Waiter " << waiter << " failed: not reached within " << timeout
              << " seconds\n";
    return kExitDaemonError;
  }
  return ReportError(connection, context, status);
}

int WaitTasks(const Connection& connection, const v1::WaitTasksRequest& request,
              const std::string& waiter, const Decide& decide) {
  if (request.tasks().empty()) {
    std::cerr << "error: --tasks: at least one task\n";
    return kExitUsage;
  }
  const int timeout = WaitSeconds(request);
  if (timeout == 0) return kExitUsage;
  v1::WatchRequest watch;
  watch.set_cluster(request.cluster());
  for (const std::string& task : request.tasks()) watch.add_tasks(task);
  return WaitFor(connection, watch, timeout, waiter, "task", decide);
}

}  // namespace

int ReportError(const Connection& connection, const grpc::ClientContext& context,
                const grpc::Status& status) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto exception = trailers.find(model::kExceptionMetadataKey);
  // Without the exception trailer the daemon never answered: it is down, or hangs.
  if (exception == trailers.end() &&
      (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
       status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
    std::cerr << "error: cannot reach skiffd at " << connection.socket << ": "
              << status.error_message() << "\n";
    return kExitUnreachable;
  }
  const std::string name = exception != trailers.end()
                               ? std::string(exception->second.data(), exception->second.size())
                               : "ServerException";
  std::cerr << "error: (" << name << ") " << status.error_message() << "\n";
  return kExitDaemonError;
}

void PrintResponse(const Connection& connection, const google::protobuf::Message& response) {
  std::cout << (connection.output == "table" ? RenderTable(model::EncodeMessage(response))
                                             : model::EncodeMessagePretty(response));
}

namespace {

std::string Bytes(int64_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  if (n < (1 << 20)) return absl::StrFormat("%.1f KiB", static_cast<double>(n) / 1024);
  return absl::StrFormat("%.1f MiB", static_cast<double>(n) / (1 << 20));
}

// Redraws one line per blob in place, as `ctr images pull` does.
class PullDisplay {
 public:
  void Update(const v1::PullImageProgress& p) {
    auto [it, inserted] = lines_.try_emplace(p.digest(), order_.size());
    if (inserted) order_.push_back(p);
    order_[it->second] = p;
    if (drawn_ > 0) std::cerr << "\033[" << drawn_ << "A";
    for (const v1::PullImageProgress& line : order_) {
      std::string state;
      if (line.present()) {
        state = "already present";
      } else if (line.done()) {
        state = absl::StrCat("done ", Bytes(line.size()));
      } else {
        state = absl::StrCat(Bytes(line.fetched()), " / ", Bytes(line.size()));
      }
      std::cerr << "\r\033[K" << line.kind() << " " << line.digest().substr(0, 19) << ": " << state
                << "\n";
    }
    drawn_ = order_.size();
    std::cerr.flush();
  }

 private:
  std::map<std::string, size_t> lines_;
  std::vector<v1::PullImageProgress> order_;
  size_t drawn_ = 0;
};

}  // namespace

int RunPullImage(const Connection& connection, const v1::PullImageRequest& request) {
  if (!request.has_image() || request.image().empty()) {
    std::cerr << "error: --image: the image reference to pull\n";
    return kExitUsage;
  }
  v1::Node::Stub stub(connection.channel);
  grpc::ClientContext context;
  auto reader = stub.PullImage(&context, request);
  const bool terminal = isatty(STDERR_FILENO) == 1;
  PullDisplay display;
  v1::PullImageProgress message;
  v1::PullImageProgress last;
  while (reader->Read(&message)) {
    if (message.has_image()) {
      last = message;
    } else if (terminal) {
      display.Update(message);
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(connection, context, status);
  PrintResponse(connection, *ToDynamic(last));
  return kExitOk;
}

int RunLoadImage(const Connection& connection, const v1::LoadImageRequest& request) {
  if (!request.has_input() || request.input().empty()) {
    std::cerr << "error: --input: the tarball to load\n";
    return kExitUsage;
  }
  std::ifstream in(request.input(), std::ios::binary);
  if (!in) {
    std::cerr << "error: --input: cannot open " << request.input() << "\n";
    return kExitUsage;
  }
  v1::Node::Stub stub(connection.channel);
  grpc::ClientContext context;
  v1::LoadImageResponse response;
  auto writer = stub.LoadImage(&context, &response);
  std::string buffer(kUploadChunk, '\0');
  v1::LoadImageChunk chunk;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = in.gcount();
    if (n <= 0) break;
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    if (!writer->Write(chunk)) break;  // The daemon ended the call; Finish says why.
  }
  if (in.bad()) {
    context.TryCancel();
    writer->Finish();
    std::cerr << "error: --input: read error on " << request.input() << "\n";
    return kExitUsage;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return ReportError(connection, context, status);
  PrintResponse(connection, *ToDynamic(response));
  return kExitOk;
}

int RunLogs(const Connection& connection, const v1::GetLogsRequest& request) {
  v1::Node::Stub stub(connection.channel);
  grpc::ClientContext context;
  auto reader = stub.GetLogs(&context, request);
  v1::LogChunk chunk;
  while (reader->Read(&chunk)) {
    std::cout.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    std::cout.flush();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(connection, context, status);
  return kExitOk;
}

int RunExecuteCommand(const Connection& connection, const v1::ExecuteCommandRequest& request) {
  if (request.interactive()) return RunExecSession(connection, request);
  v1::Node::Stub stub(connection.channel);
  grpc::ClientContext context;
  auto reader = stub.ExecuteCommand(&context, request);
  v1::ExecOutput output;
  int exit_code = kExitOk;
  while (reader->Read(&output)) {
    std::cout.write(output.stdout().data(), static_cast<std::streamsize>(output.stdout().size()));
    std::cerr.write(output.stderr().data(), static_cast<std::streamsize>(output.stderr().size()));
    if (output.has_exit_code()) exit_code = output.exit_code();
  }
  std::cout.flush();
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(connection, context, status);
  return exit_code;
}

int RunWaitTasksRunning(const Connection& connection, const v1::WaitTasksRequest& request) {
  // As the aws waiter: every task RUNNING; any STOPPED is a failure.
  return WaitTasks(connection, request, "TasksRunning",
                   [](const Watched& watched, std::string* why) {
                     bool all_running = true;
                     for (const auto& [id, task] : watched.tasks) {
                       if (task.last_status() == "STOPPED") {
                         *why = absl::StrCat("task ", id, " is STOPPED: ", task.stopped_reason());
                         return Verdict::kFailed;
                       }
                       all_running = all_running && task.last_status() == "RUNNING";
                     }
                     return all_running ? Verdict::kDone : Verdict::kWaiting;
                   });
}

int RunWaitTasksStopped(const Connection& connection, const v1::WaitTasksRequest& request) {
  return WaitTasks(connection, request, "TasksStopped",
                   [](const Watched& watched, std::string*) {
                     for (const auto& [id, task] : watched.tasks) {
                       if (task.last_status() != "STOPPED") return Verdict::kWaiting;
                     }
                     return Verdict::kDone;
                   });
}

int RunWaitServicesStable(const Connection& connection, const v1::WaitServicesRequest& request) {
  if (request.services().empty()) {
    std::cerr << "error: --services: at least one service\n";
    return kExitUsage;
  }
  const int timeout = WaitSeconds(request);
  if (timeout == 0) return kExitUsage;
  v1::WatchRequest watch;
  watch.set_cluster(request.cluster());
  for (const std::string& service : request.services()) watch.add_services(service);
  // As the aws waiter's acceptors, in their order: a DRAINING or INACTIVE service fails it;
  // it succeeds when every service has one deployment and runs as many tasks as it wants.
  return WaitFor(connection, watch, timeout, "ServicesStable", "service",
                 [](const Watched& watched, std::string* why) {
                   for (const auto& [name, service] : watched.services) {
                     if (service.status() == "DRAINING" || service.status() == "INACTIVE") {
                       *why = absl::StrCat("service ", name, " is ", service.status());
                       return Verdict::kFailed;
                     }
                   }
                   for (const auto& [name, service] : watched.services) {
                     if (service.deployments_size() != 1 ||
                         service.running_count() != service.desired_count()) {
                       return Verdict::kWaiting;
                     }
                   }
                   return Verdict::kDone;
                 });
}

}  // namespace skiff::cli

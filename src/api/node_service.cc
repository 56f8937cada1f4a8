#include "node_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "api/exec_session_call.h"
#include "skiff/api/errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/logs/log_file.h"
#include "skiff/model/arn.h"
#include "skiff/model/errors.h"
#include "spdlog/spdlog.h"

namespace skiff::api {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr absl::Duration kWatchPoll = absl::Milliseconds(500);
constexpr absl::Duration kFollowPoll = absl::Milliseconds(200);
constexpr absl::Duration kExecTimeout = absl::Minutes(10);
constexpr int64_t kMaxImageUpload = int64_t{16} << 30;

grpc::Status Fail(grpc::ServerContext* context, const absl::Status& status) {
  context->AddTrailingMetadata(model::kExceptionMetadataKey, model::EcsExceptionName(status));
  return ToGrpcStatus(status);
}

// Runs fn on the control loop and waits for its result on this (gRPC) thread.
template <typename Fn>
auto RunOnLoop(scheduler::EventLoop* loop, Fn fn) -> decltype(fn()) {
  using Result = decltype(fn());
  std::optional<Result> result;
  absl::Notification done;
  if (!loop->Post([&] {
        result.emplace(fn());
        done.Notify();
      })) {
    return absl::UnavailableError("skiffd is shutting down");
  }
  done.WaitForNotification();
  return *std::move(result);
}

v1::Image ToImage(const runtime::ImageInfo& info) {
  v1::Image image;
  image.set_name(info.name);
  image.set_digest(info.digest);
  image.set_image_id(info.config_digest);
  image.set_size(info.size);
  image.set_created_at(absl::ToDoubleSeconds(info.created - absl::UnixEpoch()));
  return image;
}

// With several containers in one stream, each line says whose it is ("app | ..."), as
// `docker compose logs` does. at_line_start carries over between chunks of one container.
std::string PrefixLines(const std::string& container, const std::string& data,
                        bool* at_line_start) {
  std::string out;
  out.reserve(data.size() + 16);
  for (char c : data) {
    if (*at_line_start) absl::StrAppend(&out, container, " | ");
    out += c;
    *at_line_start = c == '\n';
  }
  return out;
}

// Writes data in chunks no larger than kChunkBytes; false when the client is gone.
bool WriteLog(grpc::ServerWriter<v1::LogChunk>* writer, const std::string& container,
              const std::string& data) {
  for (size_t at = 0; at < data.size(); at += kChunkBytes) {
    v1::LogChunk chunk;
    chunk.set_container(container);
    chunk.set_data(data.substr(at, kChunkBytes));
    if (!writer->Write(chunk)) return false;
  }
  return true;
}

// ServeExecSession's view of a synchronous bidirectional call.
class GrpcExecCall final : public ExecCall {
 public:
  GrpcExecCall(grpc::ServerContext* context,
               grpc::ServerReaderWriter<v1::ExecOutput, v1::ExecInput>* stream)
      : context_(context), stream_(stream) {}
  bool Read(v1::ExecInput* input) override { return stream_->Read(input); }
  bool Write(const v1::ExecOutput& output) override { return stream_->Write(output); }
  bool IsCancelled() const override { return context_->IsCancelled(); }
  void Cancel() override { context_->TryCancel(); }

 private:
  grpc::ServerContext* const context_;
  grpc::ServerReaderWriter<v1::ExecOutput, v1::ExecInput>* const stream_;
};

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitCommand(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < command.size() &&
                 (command[i + 1] == '"' || command[i + 1] == '\\')) {
        word += command[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < command.size()) {
      word += command[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) {
    return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                           "command: unbalanced quote");
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) {
    return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                           "command: empty");
  }
  return words;
}

grpc::Status NodeService::Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                                grpc::ServerWriter<v1::WatchEvent>* writer) {
  absl::StatusOr<std::string> cluster = model::ParseClusterRef(b_.scope, request->cluster());
  if (!cluster.ok()) return Fail(context, cluster.status());
  WatchFilter filter{.cluster_arn = model::ClusterArn(b_.scope, *cluster)};
  for (const std::string& ref : request->tasks()) {
    absl::StatusOr<std::string> id = model::ParseTaskRef(b_.scope, ref, "tasks");
    if (!id.ok()) return Fail(context, id.status());
    filter.task_arns.insert(model::TaskArn(b_.scope, *cluster, *id));
  }
  std::set<std::string> service_names;
  for (const std::string& ref : request->services()) {
    absl::StatusOr<std::string> name = model::ParseServiceRef(b_.scope, ref, "services");
    if (!name.ok()) return Fail(context, name.status());
    service_names.insert(*name);
    filter.service_arns.insert(model::ServiceArn(b_.scope, *cluster, *name));
  }
  std::shared_ptr<WatchHub::Subscription> subscription;
  // Subscribing and reading the current state in one loop step: no change falls in between.
  absl::StatusOr<std::vector<v1::WatchEvent>> now =
      RunOnLoop(b_.loop, [&]() -> absl::StatusOr<std::vector<v1::WatchEvent>> {
        subscription = b_.watch_hub->Subscribe(filter);
        return Snapshot(*cluster, filter.task_arns, service_names);
      });
  absl::Cleanup unsubscribe = [&] {
    if (subscription) b_.watch_hub->Unsubscribe(subscription);
  };
  if (!now.ok()) return Fail(context, now.status());
  for (const v1::WatchEvent& event : *now) {
    if (!writer->Write(event)) return grpc::Status::OK;
  }
  while (!context->IsCancelled()) {
    std::optional<v1::WatchEvent> event = subscription->Next(kWatchPoll);
    if (!event) {
      if (subscription->overflowed()) {
        return Fail(context, absl::ResourceExhaustedError("watch: the client fell behind"));
      }
      continue;
    }
    if (!writer->Write(*event)) break;
  }
  return grpc::Status::OK;
}

absl::StatusOr<std::vector<v1::WatchEvent>> NodeService::Snapshot(
    const std::string& cluster, const std::set<std::string>& task_arns,
    const std::set<std::string>& service_names) {
  std::vector<v1::WatchEvent> events;
  std::vector<v1::Failure> failures;
  if (!task_arns.empty()) {
    v1::DescribeTasksRequest describe;
    describe.set_cluster(cluster);
    for (const std::string& arn : task_arns) describe.add_tasks(arn);
    absl::StatusOr<v1::DescribeTasksResponse> tasks = b_.task_manager->DescribeTasks(describe);
    if (!tasks.ok()) return tasks.status();
    for (const v1::Task& task : tasks->tasks()) *events.emplace_back().mutable_task() = task;
    failures.insert(failures.end(), tasks->failures().begin(), tasks->failures().end());
  }
  if (!service_names.empty()) {
    v1::DescribeServicesRequest describe;
    describe.set_cluster(cluster);
    for (const std::string& name : service_names) describe.add_services(name);
    absl::StatusOr<v1::DescribeServicesResponse> services =
        b_.services->DescribeServices(describe);
    if (!services.ok()) return services.status();
    for (const v1::Service& service : services->services()) {
      *events.emplace_back().mutable_service() = service;
    }
    failures.insert(failures.end(), services->failures().begin(), services->failures().end());
  }
  for (const v1::Failure& failure : failures) *events.emplace_back().mutable_failure() = failure;
  return events;
}

grpc::Status NodeService::GetLogs(grpc::ServerContext* context, const v1::GetLogsRequest* request,
                                  grpc::ServerWriter<v1::LogChunk>* writer) {
  auto find = [&] {
    return RunOnLoop(b_.loop, [&] {
      return b_.task_manager->FindContainers(request->cluster(), request->task(),
                                             request->container());
    });
  };
  absl::StatusOr<std::vector<scheduler::ContainerLocation>> containers = find();
  if (!containers.ok()) return Fail(context, containers.status());
  if (request->has_tail() && request->tail() < 0) {
    return Fail(context, model::EcsError(absl::StatusCode::kInvalidArgument,
                                         model::kInvalidParameterException,
                                         "tail: must be 0 or more"));
  }
  std::vector<logs::LogFollower> followers;
  const bool prefix = containers->size() > 1;
  std::vector<char> at_line_start(containers->size(), 1);
  auto send = [&](size_t i, const std::string& data) {
    const std::string& name = (*containers)[i].name;
    if (!prefix) return WriteLog(writer, name, data);
    bool start = at_line_start[i] != 0;
    const bool ok = WriteLog(writer, name, PrefixLines(name, data, &start));
    at_line_start[i] = start;
    return ok;
  };
  for (size_t i = 0; i < containers->size(); ++i) {
    const scheduler::ContainerLocation& c = (*containers)[i];
    // Follow from where the tail ends; a write landing in between may show twice, never not.
    followers.emplace_back(c.log_path, logs::LogFollower::SizeOf(c.log_path));
    absl::StatusOr<std::string> tail =
        logs::ReadTail(c.log_path, request->has_tail() ? request->tail() : -1,
                       b_.log_rotation.keep);
    if (!tail.ok() && tail.status().code() != absl::StatusCode::kNotFound) {
      return Fail(context, tail.status());
    }
    if (tail.ok() && !send(i, *tail)) return grpc::Status::OK;
  }
  if (!request->follow()) return grpc::Status::OK;
  absl::Time next_check = absl::Now() + absl::Seconds(1);
  bool any_running = true;
  while (!context->IsCancelled()) {
    bool wrote = false;
    for (size_t i = 0; i < followers.size(); ++i) {
      absl::StatusOr<std::string> data = followers[i].ReadNew(kChunkBytes);
      if (!data.ok() || data->empty()) continue;
      wrote = true;
      if (!send(i, *data)) return grpc::Status::OK;
    }
    if (wrote) continue;
    if (!any_running) break;  // Stopped, and everything it wrote has been sent.
    if (absl::Now() >= next_check) {
      next_check = absl::Now() + absl::Seconds(1);
      absl::StatusOr<std::vector<scheduler::ContainerLocation>> now = find();
      any_running = now.ok() && std::any_of(now->begin(), now->end(),
                                            [](const auto& c) { return c.running; });
      continue;  // One more read after the last check.
    }
    absl::SleepFor(kFollowPoll);
  }
  return grpc::Status::OK;
}

absl::StatusOr<NodeService::ExecTarget> NodeService::FindExecTarget(
    const v1::ExecuteCommandRequest& request) {
  absl::StatusOr<std::vector<std::string>> argv = SplitCommand(request.command());
  if (!argv.ok()) return argv.status();
  absl::StatusOr<std::vector<scheduler::ContainerLocation>> containers =
      RunOnLoop(b_.loop, [&] {
        return b_.task_manager->FindContainers(request.cluster(), request.task(),
                                               request.container());
      });
  if (!containers.ok()) return containers.status();
  if (containers->size() > 1) {
    return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                           absl::StrCat("container: the task has ", containers->size(),
                                        " containers; name one with --container"));
  }
  const scheduler::ContainerLocation& target = containers->front();
  if (!target.running) {
    return model::EcsError(absl::StatusCode::kFailedPrecondition,
                           model::kInvalidParameterException,
                           absl::StrCat("container ", target.name, " of task ", target.task_id,
                                        " is not running"));
  }
  return ExecTarget{.argv = *std::move(argv), .container = target};
}

grpc::Status NodeService::ExecuteCommand(grpc::ServerContext* context,
                                         const v1::ExecuteCommandRequest* request,
                                         grpc::ServerWriter<v1::ExecOutput>* writer) {
  if (request->interactive()) {
    return Fail(context, model::EcsError(absl::StatusCode::kInvalidArgument,
                                         model::kInvalidParameterException,
                                         "interactive: a session takes the client's input; "
                                         "call Node.ExecuteCommandSession (a stream both ways)"));
  }
  absl::StatusOr<ExecTarget> target = FindExecTarget(*request);
  if (!target.ok()) return Fail(context, target.status());
  absl::StatusOr<runtime::ExecResult> result =
      b_.runtime->Exec(target->container.runtime_id, target->argv, kExecTimeout,
                       runtime::kDefaultExecOutputLimit);
  if (!result.ok()) return Fail(context, result.status());
  v1::ExecOutput output;
  output.set_stdout(std::move(result->stdout_data));
  output.set_stderr(std::move(result->stderr_data));
  output.set_exit_code(result->exit_code);
  writer->Write(output);
  return grpc::Status::OK;
}

grpc::Status NodeService::ExecuteCommandSession(
    grpc::ServerContext* context, grpc::ServerReaderWriter<v1::ExecOutput, v1::ExecInput>* stream) {
  GrpcExecCall call(context, stream);
  absl::Status status = ServeExecSession(
      &call, [this](const v1::ExecStart& start) -> absl::StatusOr<OpenedExecSession> {
        if (!start.request().interactive()) {
          return model::EcsError(absl::StatusCode::kInvalidArgument,
                                 model::kInvalidParameterException,
                                 "interactive: must be true in a session");
        }
        SKIFF_ASSIGN_OR_RETURN(ExecTarget target, FindExecTarget(start.request()));
        runtime::ExecSessionOptions options{.tty = start.tty()};
        if (start.tty()) options.window = ToWindowSize(start.window());
        SKIFF_ASSIGN_OR_RETURN(
            std::unique_ptr<runtime::ExecSession> session,
            b_.runtime->StartExecSession(target.container.runtime_id, target.argv, options));
        return OpenedExecSession{.session = std::move(session),
                                 .container = absl::StrCat("container ", target.container.name,
                                                           " of task ",
                                                           target.container.task_id)};
      });
  if (!status.ok()) return Fail(context, status);
  return grpc::Status::OK;
}

grpc::Status NodeService::LoadImage(grpc::ServerContext* context,
                                    grpc::ServerReader<v1::LoadImageChunk>* reader,
                                    v1::LoadImageResponse* response) {
  std::error_code ec;
  std::filesystem::create_directories(b_.upload_dir, ec);
  const std::string path =
      absl::StrCat(b_.upload_dir, "/image-", RandomHex(*b_.random, 16), ".tar");
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Fail(context, absl::UnavailableError(
                             absl::StrCat("create ", path, ": ", std::strerror(errno))));
  }
  absl::Cleanup remove = [&] { unlink(path.c_str()); };
  int64_t total = 0;
  v1::LoadImageChunk chunk;
  absl::Status written;
  while (reader->Read(&chunk)) {
    total += static_cast<int64_t>(chunk.data().size());
    if (total > kMaxImageUpload) {
      written = absl::InvalidArgumentError("input: larger than 16 GiB");
      break;
    }
    const char* data = chunk.data().data();
    size_t left = chunk.data().size();
    while (left > 0 && written.ok()) {
      const ssize_t n = write(fd, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        written = absl::UnavailableError(absl::StrCat("write ", path, ": ", std::strerror(errno)));
        break;
      }
      data += n;
      left -= static_cast<size_t>(n);
    }
    if (!written.ok()) break;
  }
  close(fd);
  if (!written.ok()) return Fail(context, written);
  if (context->IsCancelled()) return grpc::Status::CANCELLED;
  absl::StatusOr<std::vector<runtime::ImageInfo>> images = b_.runtime->ImportImage(path);
  if (!images.ok()) return Fail(context, images.status());
  for (const runtime::ImageInfo& info : *images) {
    *response->add_images() = ToImage(info);
    spdlog::info("loaded image {} ({})", info.name, info.digest);
  }
  return grpc::Status::OK;
}

grpc::Status NodeService::ListImages(grpc::ServerContext* context, const v1::ListImagesRequest*,
                                     v1::ListImagesResponse* response) {
  absl::StatusOr<std::vector<runtime::ImageInfo>> images = b_.runtime->ListImages();
  if (!images.ok()) return Fail(context, images.status());
  for (const runtime::ImageInfo& info : *images) *response->add_images() = ToImage(info);
  return grpc::Status::OK;
}

grpc::Status NodeService::RemoveImage(grpc::ServerContext* context,
                                      const v1::RemoveImageRequest* request,
                                      v1::RemoveImageResponse* response) {
  absl::StatusOr<runtime::ImageInfo> image = b_.runtime->GetImage(request->image());
  if (!image.ok()) return Fail(context, image.status());
  absl::Status removed = b_.runtime->RemoveImage(image->name);
  if (!removed.ok()) return Fail(context, removed);
  *response->mutable_image() = ToImage(*image);
  return grpc::Status::OK;
}

grpc::Status NodeService::PullImage(grpc::ServerContext* context,
                                    const v1::PullImageRequest* request,
                                    grpc::ServerWriter<v1::PullImageProgress>* writer) {
  if (request->image().empty()) {
    return Fail(context, model::EcsError(absl::StatusCode::kInvalidArgument,
                                         model::kInvalidParameterException,
                                         "image: must not be empty"));
  }
  absl::Mutex mu;
  bool open = true;  // Guarded by mu: writes stop once the call is over.
  auto progress = [&](const runtime::PullProgress& p) {
    v1::PullImageProgress message;
    message.set_digest(p.digest);
    message.set_kind(p.kind);
    message.set_fetched(p.fetched);
    message.set_size(p.size);
    message.set_present(p.present);
    message.set_done(p.done);
    absl::MutexLock lock(&mu);
    if (open && !context->IsCancelled()) writer->Write(message);
  };
  absl::StatusOr<runtime::ImageInfo> image =
      b_.image_puller->Pull(request->image(), request->credentials_parameter(), progress);
  absl::MutexLock lock(&mu);
  open = false;
  if (!image.ok()) return Fail(context, image.status());
  v1::PullImageProgress last;
  *last.mutable_image() = ToImage(*image);
  writer->Write(last);
  return grpc::Status::OK;
}

grpc::Status NodeService::PruneImages(grpc::ServerContext* context, const v1::PruneImagesRequest*,
                                      v1::PruneImagesResponse* response) {
  // Every image a task that is not STOPPED names, pending ones included.
  absl::StatusOr<std::set<std::string>> used = RunOnLoop(b_.loop, [&] {
    std::set<std::string> names;
    b_.task_manager->ForEachTask([&](const store::StoredTask& record) {
      if (record.task.last_status() == "STOPPED") return;
      for (const v1::Container& c : record.task.containers()) {
        names.insert(runtime::NormalizeImageReference(c.image()));
      }
    });
    return absl::StatusOr<std::set<std::string>>(std::move(names));
  });
  if (!used.ok()) return Fail(context, used.status());
  absl::StatusOr<std::vector<runtime::ImageInfo>> images = b_.runtime->ListImages();
  if (!images.ok()) return Fail(context, images.status());
  for (const runtime::ImageInfo& info : *images) {
    if (used->count(info.name) > 0) continue;
    absl::Status removed = b_.runtime->RemoveImage(info.name);
    if (absl::IsNotFound(removed)) continue;
    if (!removed.ok()) return Fail(context, removed);
    spdlog::info("pruned image {} ({})", info.name, info.digest);
    *response->add_images() = ToImage(info);
  }
  return grpc::Status::OK;
}

grpc::Status NodeService::DescribeContainerHealth(
    grpc::ServerContext* context, const v1::DescribeContainerHealthRequest* request,
    v1::DescribeContainerHealthResponse* response) {
  absl::StatusOr<std::vector<v1::ContainerHealth>> health = RunOnLoop(
      b_.loop, [&] { return b_.task_manager->ContainerHealth(request->cluster(), request->task()); });
  if (!health.ok()) return Fail(context, health.status());
  for (v1::ContainerHealth& h : *health) *response->add_containers() = std::move(h);
  return grpc::Status::OK;
}

grpc::Status NodeService::DescribeStats(grpc::ServerContext* context,
                                        const v1::DescribeStatsRequest* request,
                                        v1::DescribeStatsResponse* response) {
  if (b_.stats == nullptr) {
    return Fail(context, absl::UnavailableError("this skiffd does not sample container stats"));
  }
  absl::StatusOr<v1::DescribeStatsResponse> stats =
      RunOnLoop(b_.loop, [&] { return b_.stats->DescribeStats(*request); });
  if (!stats.ok()) return Fail(context, stats.status());
  *response = *std::move(stats);
  return grpc::Status::OK;
}

}  // namespace skiff::api

#include "containerd/containerd_events.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "google/protobuf/empty.pb.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace skiff::runtime {
namespace {

namespace events_api = containerd::services::events::v1;

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(200);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// containerd's Any type URLs for events carry the Go package path, e.g.
// "containerd.events.TaskExit"; match on the message name at the end.
bool IsType(const google::protobuf::Any& any, absl::string_view name) {
  const std::string& url = any.type_url();
  return url.size() >= name.size() && url.compare(url.size() - name.size(), name.size(),
                                                  name.data(), name.size()) == 0;
}

}  // namespace

ContainerdEvents::ContainerdEvents(const ContainerdConnection* connection,
                                   ContainerRuntime::EventHandler handler)
    : connection_(connection), handler_(std::move(handler)) {}

ContainerdEvents::~ContainerdEvents() { Stop(); }

void ContainerdEvents::Start() {
  thread_ = std::thread([this] { Run(); });
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(+[](bool* done) { return *done; }, &first_attempt_done_));
}

void ContainerdEvents::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (active_ != nullptr) active_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void ContainerdEvents::Run() {
  absl::Duration backoff = kFirstBackoff;
  while (true) {
    const bool was_up = SubscribeOnce();
    absl::MutexLock lock(&mu_);
    first_attempt_done_ = true;
    if (stopping_) return;
    if (was_up) {
      backoff = kFirstBackoff;
      handler_(RuntimeEvent{.kind = RuntimeEvent::Kind::kStreamLost, .at = absl::Now()});
    }
    // Wait out the backoff, or less if Stop() comes first.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

bool ContainerdEvents::SubscribeOnce() {
  grpc::ClientContext context;
  context.AddMetadata("containerd-namespace", connection_->ns());
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    active_ = &context;
  }
  auto stub = events_api::Events::NewStub(connection_->channel());
  events_api::SubscribeRequest request;
  request.add_filters(absl::StrCat("namespace==", connection_->ns(), ",topic==\"/tasks/exit\""));
  request.add_filters(absl::StrCat("namespace==", connection_->ns(), ",topic==\"/tasks/oom\""));
  // Filters of one string are ANDed, separate strings ORed. The sync topic is ours: containerd
  // sends no headers before the first event, so the only proof that the subscription is
  // registered is receiving an event we published after subscribing.
  const std::string sync_topic = absl::StrCat("/skiff/subscribed/", reinterpret_cast<uintptr_t>(&context));
  request.add_filters(absl::StrCat("topic==\"", sync_topic, "\""));
  std::unique_ptr<grpc::ClientReader<events_api::Envelope>> reader =
      stub->Subscribe(&context, request);
  absl::Notification up_seen;
  std::thread prober([this, &up_seen, &sync_topic] {
    auto publisher = events_api::Events::NewStub(connection_->channel());
    for (int attempt = 0; attempt < 100 && !up_seen.HasBeenNotified(); ++attempt) {
      auto publish_context = connection_->NewContext(absl::Seconds(1));
      events_api::PublishRequest publish;
      publish.set_topic(sync_topic);
      publish.mutable_event()->set_type_url("skiff.v1.Subscribed");
      google::protobuf::Empty empty;
      if (!publisher->Publish(publish_context.get(), publish, &empty).ok()) break;
      up_seen.WaitForNotificationWithTimeout(absl::Milliseconds(20));
    }
  });
  bool up = false;
  events_api::Envelope envelope;
  while (reader->Read(&envelope)) {
    if (envelope.topic() == sync_topic) {
      if (!up) {
        up = true;
        up_seen.Notify();
        {
          absl::MutexLock lock(&mu_);
          first_attempt_done_ = true;
        }
        handler_(RuntimeEvent{.kind = RuntimeEvent::Kind::kStreamUp, .at = absl::Now()});
      }
      continue;
    }
    const google::protobuf::Any& event = envelope.event();
    if (IsType(event, "TaskExit")) {
      containerd::events::TaskExit exit;
      if (!exit.ParseFromString(event.value())) continue;
      // Exits of exec'd processes carry their exec id; only the main process ends a container.
      if (exit.id() != exit.container_id()) continue;
      handler_(RuntimeEvent{.kind = RuntimeEvent::Kind::kExit,
                            .container_id = exit.container_id(),
                            .exit_status = exit.exit_status(),
                            .at = ToTime(exit.exited_at())});
    } else if (IsType(event, "TaskOOM")) {
      containerd::events::TaskOOM oom;
      if (!oom.ParseFromString(event.value())) continue;
      handler_(RuntimeEvent{.kind = RuntimeEvent::Kind::kOom,
                            .container_id = oom.container_id(),
                            .at = ToTime(envelope.timestamp())});
    }
  }
  if (!up_seen.HasBeenNotified()) up_seen.Notify();
  prober.join();
  grpc::Status status = reader->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_ = nullptr;
    if (!stopping_ && up) {
      spdlog::warn("containerd event stream ended: {}", std::string(status.error_message()));
    }
  }
  return up;
}

}  // namespace skiff::runtime

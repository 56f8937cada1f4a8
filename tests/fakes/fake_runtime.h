// FakeRuntime: a ContainerRuntime for unit tests. It keeps images and containers in memory,
// records every call, answers Version() from a script, fails chosen calls on request, and lets
// the test play the runtime's event stream (Exit, Oom). Thread-safe, like the real runtime.
#ifndef SKIFF_TESTS_FAKES_FAKE_RUNTIME_H_
#define SKIFF_TESTS_FAKES_FAKE_RUNTIME_H_

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fakes/fake_exec_session.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::fakes {

class FakeRuntime final : public runtime::ContainerRuntime {
 public:
  // Queue the next answers of Version().
  void ScriptVersion(absl::StatusOr<runtime::RuntimeVersion> answer) {
    absl::MutexLock lock(&mu_);
    version_answers_.push_back(std::move(answer));
  }

  int version_calls() const {
    absl::MutexLock lock(&mu_);
    return version_calls_;
  }

  // Makes the next call of `method` ("CreateContainer", "StartContainer", ...) fail.
  void FailNext(const std::string& method, absl::Status status) {
    absl::MutexLock lock(&mu_);
    failures_[method].push_back(std::move(status));
  }

  // An image in the store, as load-image or a pull leaves it; again: the name moves on.
  void AddImage(const std::string& name, runtime::ImageConfig config = {},
                std::string digest = "") {
    absl::MutexLock lock(&mu_);
    images_[name] =
        runtime::ImageInfo{.name = name, .digest = std::move(digest), .config = std::move(config)};
  }

  // An image the fake's registry serves: PullImage of `name` stores it (and NotFound, as a
  // registry's MANIFEST_UNKNOWN, for names never added).
  void AddRegistryImage(const std::string& name, std::string digest = "sha256:pulled") {
    absl::MutexLock lock(&mu_);
    registry_[name] = runtime::ImageInfo{.name = name, .digest = std::move(digest)};
  }
  // While held, PullImage blocks (after counting itself in pulls_waiting) until released, so a
  // test can make pulls overlap without sleeping.
  void HoldPulls(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_pulls_ = hold;
  }
  // Blocks until `n` pulls are held.
  void AwaitHeldPulls(int n) const {
    absl::MutexLock lock(&mu_);
    std::pair<const int*, int> arg(&held_pulls_, n);
    mu_.Await(absl::Condition(
        +[](std::pair<const int*, int>* a) { return *a->first >= a->second; }, &arg));
  }
  int pull_calls() const {
    absl::MutexLock lock(&mu_);
    return pull_calls_;
  }
  // The username of the last pull's credentials ("" for none).
  std::string last_pull_username() const {
    absl::MutexLock lock(&mu_);
    return last_pull_username_;
  }

  // Every call so far, as "Method id" (e.g. "SignalContainer abc-web 15").
  std::vector<std::string> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  bool HasContainer(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    return containers_.count(id) > 0;
  }
  runtime::ContainerSpec SpecOf(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    return containers_.at(id).spec;
  }
  bool IsRunning(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    return it != containers_.end() && it->second.status.state ==
                                          runtime::ContainerStatus::State::kRunning;
  }

  // While true, Exit() changes the container but no event reaches the handler, as when skiffd
  // is down or its stream is broken.
  void DropEvents(bool drop) {
    absl::MutexLock lock(&mu_);
    drop_events_ = drop;
  }

  // Plays an event, as the stream thread would: the process of `id` exited.
  void Exit(const std::string& id, uint32_t status, absl::Time at) {
    EventHandler handler;
    {
      absl::MutexLock lock(&mu_);
      auto it = containers_.find(id);
      if (it != containers_.end()) {
        it->second.status.state = runtime::ContainerStatus::State::kStopped;
        it->second.status.exit_status = status;
        it->second.status.exited_at = at;
      }
      if (!drop_events_) handler = handler_;
    }
    if (handler) handler({.kind = runtime::RuntimeEvent::Kind::kExit, .container_id = id,
                          .exit_status = status, .at = at});
  }
  void Oom(const std::string& id, absl::Time at) {
    EventHandler handler;
    {
      absl::MutexLock lock(&mu_);
      handler = handler_;
    }
    if (handler) handler({.kind = runtime::RuntimeEvent::Kind::kOom, .container_id = id, .at = at});
  }

  absl::StatusOr<runtime::RuntimeVersion> Version(absl::Duration) override {
    absl::MutexLock lock(&mu_);
    ++version_calls_;
    if (version_answers_.empty()) return absl::UnavailableError("fake runtime: no answer scripted");
    absl::StatusOr<runtime::RuntimeVersion> answer = version_answers_.front();
    if (version_answers_.size() > 1) version_answers_.pop_front();
    return answer;
  }

  absl::StatusOr<std::vector<runtime::ImageInfo>> ImportImage(const std::string& path) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("ImportImage", path); !s.ok()) return s;
    return std::vector<runtime::ImageInfo>{};
  }
  absl::StatusOr<runtime::ImageInfo> PullImage(
      const std::string& reference, const std::optional<registry::Credentials>& credentials,
      const runtime::PullProgressHandler& progress) override {
    absl::MutexLock lock(&mu_);
    ++pull_calls_;
    last_pull_username_ = credentials ? credentials->username : "";
    if (absl::Status s = Call("PullImage", reference); !s.ok()) return s;
    ++held_pulls_;
    mu_.Await(absl::Condition(+[](bool* hold) { return !*hold; }, &hold_pulls_));
    --held_pulls_;
    auto it = registry_.find(reference);
    if (it == registry_.end()) {
      return absl::NotFoundError(absl::StrCat("registry answered 404 for manifest ", reference,
                                              ": MANIFEST_UNKNOWN: manifest unknown"));
    }
    if (progress) progress({.digest = "sha256:layer", .kind = "layer", .fetched = 1, .size = 1,
                            .done = true});
    images_[reference] = it->second;
    return it->second;
  }
  absl::StatusOr<std::vector<runtime::ImageInfo>> ListImages() override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("ListImages", ""); !s.ok()) return s;
    std::vector<runtime::ImageInfo> out;
    for (const auto& [name, info] : images_) out.push_back(info);
    return out;
  }
  absl::StatusOr<runtime::ImageInfo> GetImage(const std::string& reference) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("GetImage", reference); !s.ok()) return s;
    auto it = images_.find(reference);
    if (it == images_.end()) return absl::NotFoundError(absl::StrCat("image ", reference, " not found"));
    return it->second;
  }
  absl::Status RemoveImage(const std::string& reference) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("RemoveImage", reference); !s.ok()) return s;
    return images_.erase(reference) ? absl::OkStatus()
                                    : absl::NotFoundError(absl::StrCat("image ", reference));
  }

  absl::Status CreateContainer(const runtime::ContainerSpec& spec) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("CreateContainer", spec.id); !s.ok()) return s;
    if (!images_.count(spec.image)) return absl::NotFoundError(absl::StrCat("image ", spec.image));
    if (containers_.count(spec.id)) return absl::AlreadyExistsError(spec.id);
    Container& c = containers_[spec.id];
    c.spec = spec;
    c.status.id = spec.id;
    c.status.labels = spec.labels;
    c.status.state = runtime::ContainerStatus::State::kCreated;
    return absl::OkStatus();
  }
  absl::StatusOr<uint32_t> StartContainer(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("StartContainer", id); !s.ok()) return s;
    auto it = containers_.find(id);
    if (it == containers_.end()) return absl::NotFoundError(id);
    // As containerd: a container holds one task at a time; an exited one is deleted first.
    if (it->second.has_task) return absl::AlreadyExistsError(absl::StrCat("task ", id));
    it->second.has_task = true;
    it->second.status.state = runtime::ContainerStatus::State::kRunning;
    it->second.status.pid = next_pid_++;
    return it->second.status.pid;
  }
  absl::Status SignalContainer(const std::string& id, int signal) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("SignalContainer", absl::StrCat(id, " ", signal)); !s.ok()) return s;
    auto it = containers_.find(id);
    if (it == containers_.end() ||
        it->second.status.state != runtime::ContainerStatus::State::kRunning) {
      return absl::NotFoundError(absl::StrCat(id, " is not running"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<uint32_t> DeleteTask(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("DeleteTask", id); !s.ok()) return s;
    auto it = containers_.find(id);
    if (it == containers_.end()) return absl::NotFoundError(id);
    if (!it->second.has_task) return absl::NotFoundError(absl::StrCat("task ", id));
    if (it->second.status.state == runtime::ContainerStatus::State::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat("task ", id, " is running"));
    }
    it->second.has_task = false;
    return it->second.status.exit_status;
  }
  absl::Status RemoveContainer(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("RemoveContainer", id); !s.ok()) return s;
    containers_.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<runtime::ContainerStatus>> ListContainers() override {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Call("ListContainers", ""); !s.ok()) return s;
    std::vector<runtime::ContainerStatus> out;
    for (const auto& [id, c] : containers_) out.push_back(c.status);
    return out;
  }
  // From now on, Exec in container `id` answers `answer` (by default: exit 0, argv echoed).
  void ScriptExec(const std::string& id, absl::StatusOr<runtime::ExecResult> answer) {
    absl::MutexLock lock(&mu_);
    exec_answers_.insert_or_assign(id, std::move(answer));
  }

  // From now on, Exec of exactly this command line (argv joined by spaces) in any container
  // answers `answer`, unless the container has its own ScriptExec.
  void ScriptExecCommand(const std::string& command, absl::StatusOr<runtime::ExecResult> answer) {
    absl::MutexLock lock(&mu_);
    exec_command_answers_.insert_or_assign(command, std::move(answer));
  }

  absl::StatusOr<runtime::ExecResult> Exec(const std::string& id,
                                           const std::vector<std::string>& argv,
                                           absl::Duration, size_t max_output) override {
    absl::MutexLock lock(&mu_);
    std::string joined;
    for (const std::string& a : argv) absl::StrAppend(&joined, joined.empty() ? "" : " ", a);
    if (absl::Status s = Call("Exec", absl::StrCat(id, " ", joined)); !s.ok()) return s;
    absl::StatusOr<runtime::ExecResult> answer = runtime::ExecResult{.stdout_data = joined};
    if (auto it = exec_answers_.find(id); it != exec_answers_.end()) {
      answer = it->second;
    } else if (auto c = exec_command_answers_.find(joined); c != exec_command_answers_.end()) {
      answer = c->second;
    }
    if (answer.ok()) {
      // As the real runtime: output past the limit is dropped.
      if (answer->stdout_data.size() > max_output) answer->stdout_data.resize(max_output);
      if (answer->stderr_data.size() > max_output) answer->stderr_data.resize(max_output);
    }
    return answer;
  }

  // The next StartExecSession runs `command` (which must outlive its session); without one
  // queued, StartExecSession answers Unimplemented.
  void QueueExecSession(FakeExecCommand* command) {
    absl::MutexLock lock(&mu_);
    exec_sessions_.push_back(command);
  }

  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> StartExecSession(
      const std::string& id, const std::vector<std::string>& argv,
      const runtime::ExecSessionOptions& options) override {
    absl::MutexLock lock(&mu_);
    std::string joined;
    for (const std::string& a : argv) absl::StrAppend(&joined, joined.empty() ? "" : " ", a);
    if (absl::Status s = Call("StartExecSession", absl::StrCat(id, options.tty ? " tty " : " ",
                                                               joined));
        !s.ok()) {
      return s;
    }
    if (exec_sessions_.empty()) return absl::UnimplementedError("fake runtime: no session queued");
    FakeExecCommand* command = exec_sessions_.front();
    exec_sessions_.pop_front();
    return command->NewSession();
  }

  // From now on, Stats reports this sample for stats.id (replacing the last one scripted) while
  // the container runs, or whenever the fake holds no container of that id.
  void ScriptStats(runtime::ContainerStats stats) {
    absl::MutexLock lock(&mu_);
    stats_.insert_or_assign(stats.id, std::move(stats));
  }
  int stats_calls() const {
    absl::MutexLock lock(&mu_);
    return stats_calls_;
  }

  absl::StatusOr<std::vector<runtime::ContainerStats>> Stats(
      const std::vector<std::string>& ids) override {
    absl::MutexLock lock(&mu_);
    ++stats_calls_;
    if (absl::Status s = Call("Stats", ""); !s.ok()) return s;
    std::vector<runtime::ContainerStats> out;
    for (const auto& [id, sample] : stats_) {
      if (!ids.empty() && std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
      auto c = containers_.find(id);
      if (c != containers_.end() &&
          c->second.status.state != runtime::ContainerStatus::State::kRunning) {
        continue;
      }
      out.push_back(sample);
    }
    return out;
  }

  void StartEvents(EventHandler handler) override {
    absl::MutexLock lock(&mu_);
    handler_ = std::move(handler);
  }
  void StopEvents() override {
    absl::MutexLock lock(&mu_);
    handler_ = nullptr;
  }

 private:
  struct Container {
    runtime::ContainerSpec spec;
    runtime::ContainerStatus status;
    bool has_task = false;  // Started, and its task not deleted since.
  };

  absl::Status Call(const std::string& method, const std::string& arg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    calls_.push_back(arg.empty() ? method : absl::StrCat(method, " ", arg));
    auto it = failures_.find(method);
    if (it == failures_.end() || it->second.empty()) return absl::OkStatus();
    absl::Status status = std::move(it->second.front());
    it->second.pop_front();
    return status;
  }

  mutable absl::Mutex mu_;
  std::map<std::string, runtime::ImageInfo> registry_ ABSL_GUARDED_BY(mu_);
  bool hold_pulls_ ABSL_GUARDED_BY(mu_) = false;
  int held_pulls_ ABSL_GUARDED_BY(mu_) = 0;
  int pull_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_pull_username_ ABSL_GUARDED_BY(mu_);
  std::deque<absl::StatusOr<runtime::RuntimeVersion>> version_answers_ ABSL_GUARDED_BY(mu_);
  int version_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::deque<absl::Status>> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, runtime::ImageInfo> images_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Container> containers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::StatusOr<runtime::ExecResult>> exec_answers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::StatusOr<runtime::ExecResult>> exec_command_answers_
      ABSL_GUARDED_BY(mu_);
  std::deque<FakeExecCommand*> exec_sessions_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, runtime::ContainerStats> stats_ ABSL_GUARDED_BY(mu_);
  int stats_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool drop_events_ = false;
  EventHandler handler_ ABSL_GUARDED_BY(mu_);
  uint32_t next_pid_ ABSL_GUARDED_BY(mu_) = 100;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_RUNTIME_H_

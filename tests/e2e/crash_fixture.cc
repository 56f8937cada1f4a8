#include "crash_fixture.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

}  // namespace

absl::StatusOr<std::unique_ptr<NotifySocket>> NotifySocket::Bind(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return absl::InvalidArgumentError("path too long");
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int error = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("bind ", path, ": ", strerror(error)));
  }
  return std::unique_ptr<NotifySocket>(new NotifySocket(fd, path));
}

NotifySocket::~NotifySocket() {
  close(fd_);
  unlink(path_.c_str());
}

absl::StatusOr<NotifySocket::Message> NotifySocket::Next(absl::Duration timeout) {
  // SO_RCVTIMEO rather than poll(): one blocking recv per datagram, bounded either way.
  const int64_t usec = std::max<int64_t>(1, absl::ToInt64Microseconds(timeout));
  timeval tv{.tv_sec = static_cast<time_t>(usec / 1000000),
             .tv_usec = static_cast<suseconds_t>(usec % 1000000)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buffer[4096];
  ssize_t n;
  do {
    n = recv(fd_, buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("no sd_notify datagram within ", absl::FormatDuration(timeout)));
  }
  seen_.push_back({absl::Now(), std::string(buffer, static_cast<size_t>(n))});
  return seen_.back();
}

absl::StatusOr<NotifySocket::Message> NotifySocket::WaitFor(absl::string_view text,
                                                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const size_t first = seen_.size();
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    absl::StatusOr<Message> m = absl::DeadlineExceededError("");
    if (left > absl::ZeroDuration()) m = Next(left);
    if (!m.ok()) {
      std::vector<std::string> got;
      for (size_t i = first; i < seen_.size(); ++i) got.push_back(seen_[i].text);
      return absl::DeadlineExceededError(absl::StrCat("no \"", text, "\" within ",
                                                      absl::FormatDuration(timeout), "; got [",
                                                      absl::StrJoin(got, "] ["), "]"));
    }
    if (absl::StrContains(m->text, text)) return m;
  }
}

void CrashTest::NewSkiffd() {
  auto skiffd = SkiffdProcess::Create();
  ASSERT_TRUE(skiffd.ok()) << skiffd.status();
  skiffd_ = *std::move(skiffd);
  ns_ = containerd_->UniqueNamespace(absl::StrCat(namespace_prefix_, "-", ++instances_));
}

void CrashTest::Start(const std::vector<std::string>& env, bool wait) {
  ASSERT_TRUE(skiffd_->Start(ContainerdFlags(), env).ok());
  stub_ = v1::Ecs::NewStub(
      grpc::CreateChannel("unix:" + skiffd_->socket(), grpc::InsecureChannelCredentials()));
  if (!wait) return;
  absl::Status ready = skiffd_->WaitReady();
  ASSERT_TRUE(ready.ok()) << ready;
}

void CrashTest::Kill9() {
  absl::StatusOr<int> code = skiffd_->Signal(SIGKILL);
  ASSERT_TRUE(code.ok()) << code.status();
}

void CrashTest::Setup(int revisions) {
  absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
  ASSERT_TRUE(tarball.ok()) << tarball.status();
  skiff::testing::CommandResult loaded = skiffd_->Skiff({"load-image", "--input", *tarball});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.stderr_text;
  for (int i = 0; i < revisions; ++i) {
    v1::RegisterTaskDefinitionRequest request;
    request.set_family(kFamily);
    request.set_network_mode("none");
    v1::ContainerDefinition* c = request.add_container_definitions();
    c->set_name("app");
    c->set_image(skiff::testing::kTestImageRef);
    c->set_memory(16);
    c->add_command("sleep");
    c->add_command(absl::StrCat(3600 + i));
    c->set_stop_timeout(1);
    grpc::ClientContext context;
    v1::RegisterTaskDefinitionResponse response;
    grpc::Status s = stub_->RegisterTaskDefinition(&context, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
}

absl::StatusOr<int> CrashTest::RegisterSleeper(const std::string& env_value) {
  v1::RegisterTaskDefinitionRequest request;
  request.set_family(kFamily);
  request.set_network_mode("none");
  v1::ContainerDefinition* c = request.add_container_definitions();
  c->set_name("app");
  c->set_image(skiff::testing::kTestImageRef);
  c->set_memory(16);
  c->add_command("sleep");
  c->add_command("3600");
  c->set_stop_timeout(1);
  v1::KeyValuePair* env = c->add_environment();
  env->set_name("SKIFF_SOAK");
  env->set_value(env_value);
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(10)));
  v1::RegisterTaskDefinitionResponse response;
  grpc::Status s = stub_->RegisterTaskDefinition(&context, request, &response);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  return response.task_definition().revision();
}

grpc::Status CrashTest::CreateService(const std::string& name, int count,
                                      const std::string& task_definition) {
  v1::CreateServiceRequest request;
  request.set_service_name(name);
  request.set_task_definition(task_definition);
  request.set_desired_count(count);
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(10)));
  v1::CreateServiceResponse response;
  return stub_->CreateService(&context, request, &response);
}

grpc::Status CrashTest::UpdateService(const std::string& name, std::optional<int> desired_count,
                                      std::optional<std::string> task_definition) {
  v1::UpdateServiceRequest request;
  request.set_service(name);
  if (desired_count) request.set_desired_count(*desired_count);
  if (task_definition) request.set_task_definition(*task_definition);
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(10)));
  v1::UpdateServiceResponse response;
  return stub_->UpdateService(&context, request, &response);
}

absl::StatusOr<v1::Service> CrashTest::DescribeService(const std::string& name) {
  v1::DescribeServicesRequest request;
  request.add_services(name);
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(10)));
  v1::DescribeServicesResponse response;
  grpc::Status s = stub_->DescribeServices(&context, request, &response);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  if (response.services().empty()) return absl::NotFoundError(name);
  return response.services(0);
}

void CrashTest::WaitStable(const std::string& name, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last;
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::Service> s = DescribeService(name);
    if (s.ok()) {
      last = absl::StrCat("running ", s->running_count(), " pending ", s->pending_count(),
                          " desired ", s->desired_count(), " deployments ",
                          s->deployments_size());
      if (s->deployments_size() == 1 && s->running_count() == s->desired_count() &&
          s->pending_count() == 0) {
        return;
      }
    } else {
      last = s.status().ToString();
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  FAIL() << "service " << name << " not stable: " << last << "\n" << skiffd_->Log();
}

std::vector<std::string> CrashTest::Tasks(const std::string& desired, const std::string& service) {
  std::vector<std::string> ids;
  std::string token;
  do {
    v1::ListTasksRequest request;
    request.set_desired_status(desired);
    if (!service.empty()) request.set_service_name(service);
    if (!token.empty()) request.set_next_token(token);
    grpc::ClientContext context;
    context.set_deadline(Deadline(absl::Seconds(10)));
    v1::ListTasksResponse response;
    grpc::Status s = stub_->ListTasks(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) break;
    for (const std::string& arn : response.task_arns()) {
      ids.push_back(arn.substr(arn.rfind('/') + 1));
    }
    token = response.next_token();
  } while (!token.empty());
  return ids;
}

v1::Task CrashTest::DescribeTask(const std::string& id) {
  v1::DescribeTasksRequest request;
  request.add_tasks(id);
  grpc::ClientContext context;
  context.set_deadline(Deadline(absl::Seconds(10)));
  v1::DescribeTasksResponse response;
  grpc::Status s = stub_->DescribeTasks(&context, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response.tasks().empty() ? v1::Task() : response.tasks(0);
}

std::map<std::string, int> CrashTest::Pids() {
  std::string out;
  EXPECT_TRUE(containerd_->Ctr({"-n", ns_, "tasks", "ls"}, &out).ok());
  std::map<std::string, int> pids;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int pid = 0;
    if (f.size() >= 3 && f[2] == "RUNNING" && absl::SimpleAtoi(f[1], &pid)) pids[f[0]] = pid;
  }
  return pids;
}

void CrashTest::KillContainer(const std::string& task_id) {
  const int pid = Pids()[task_id + "-app"];
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 50 && Pids().count(task_id + "-app"); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
}

std::set<std::string> CrashTest::Lines(const std::vector<std::string>& args) {
  std::string out;
  EXPECT_TRUE(containerd_->Ctr(args, &out).ok());
  std::set<std::string> lines;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    lines.emplace(line);
  }
  return lines;
}

std::string CrashTest::StoreVersusContainerd() {
  // What the store holds: each task's container name, and whether it is meant to run.
  struct Expected {
    bool running;
    std::string service;  // "" for a one-off task.
    std::string state;    // For failure messages.
  };
  std::map<std::string, Expected> known;  // By container id, <task-id>-app.
  std::vector<std::string> problems;
  for (const std::string desired : {"RUNNING", "STOPPED"}) {
    const std::vector<std::string> ids = Tasks(desired);
    // DescribeTasks takes up to 100 tasks a call.
    for (size_t first = 0; first < ids.size(); first += 100) {
      v1::DescribeTasksRequest request;
      for (size_t i = first; i < std::min(ids.size(), first + 100); ++i) request.add_tasks(ids[i]);
      grpc::ClientContext context;
      context.set_deadline(Deadline(absl::Seconds(10)));
      v1::DescribeTasksResponse response;
      grpc::Status s = stub_->DescribeTasks(&context, request, &response);
      if (!s.ok()) return absl::StrCat("DescribeTasks: ", s.error_message());
      for (const v1::Task& task : response.tasks()) {
        const std::string id = task.task_arn().substr(task.task_arn().rfind('/') + 1);
        std::string service;
        if (absl::StartsWith(task.group(), "service:")) service = task.group().substr(8);
        // Wanted RUNNING counts as running only once it is: stable services have no other.
        known[id + "-app"] = {
            desired == "RUNNING" && task.last_status() == "RUNNING", service,
            absl::StrCat("desired ", task.desired_status(), ", last ", task.last_status(), ", ",
                         task.stop_code(), " ", task.stopped_reason())};
      }
    }
  }
  const std::map<std::string, int> pids = Pids();
  std::set<std::string> snapshot_keys;
  std::set<std::string> containers;
  for (const std::string& id : Lines({"-n", ns_, "containers", "ls", "-q"})) {
    containers.insert(id);
    std::string info;
    if (!containerd_->Ctr({"-n", ns_, "containers", "info", id}, &info).ok()) {
      problems.push_back(absl::StrCat(id, ": ctr containers info failed"));
      continue;
    }
    const nlohmann::json c = nlohmann::json::parse(info, nullptr, false);
    if (c.is_discarded()) {
      problems.push_back(absl::StrCat(id, ": unparsable info"));
      continue;
    }
    snapshot_keys.insert(c.value("SnapshotKey", ""));
    const nlohmann::json labels = c.value("Labels", nlohmann::json::object());
    if (!labels.contains("skiff.task")) continue;  // Not ours; skiffd never touches it.
    auto it = known.find(id);
    if (it == known.end()) {
      problems.push_back(absl::StrCat(id, ": labelled container without a task in the store"));
      continue;
    }
    const std::string service = labels.value("skiff.service", "");
    if (labels.value("skiff.task", "") + "-app" != id || labels.value("skiff.container", "") != "app" ||
        labels.value("skiff.cluster", "") != "default" || service != it->second.service) {
      problems.push_back(absl::StrCat(id, ": labels ", labels.dump()));
    }
  }
  for (const auto& [id, expected] : known) {
    if (expected.running && !containers.count(id)) {
      problems.push_back(absl::StrCat(id, ": RUNNING in the store, no container"));
    } else if (expected.running && !pids.count(id)) {
      problems.push_back(absl::StrCat(id, ": RUNNING in the store, no running process"));
    }
  }
  for (const auto& [id, pid] : pids) {
    auto it = known.find(id);
    if (it == known.end()) {
      problems.push_back(absl::StrCat(id, ": process ", pid, " runs for no task in the store"));
    } else if (!it->second.running) {
      problems.push_back(
          absl::StrCat(id, ": process ", pid, " runs for a task that is ", it->second.state));
    }
  }
  std::set<std::string> active;
  for (const std::string& line : Lines({"-n", ns_, "snapshots", "ls"})) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() >= 2 && f.back() == "Active") active.insert(f[0]);
  }
  // A skiffd killed while it had an image mounted left the mount; the next one removes it.
  for (const std::string& point : SkiffdProcess::MountsUnder(skiffd_->state_dir())) {
    problems.push_back(absl::StrCat("mount left in the state dir: ", point));
  }
  if (active != snapshot_keys) {
    problems.push_back(absl::StrCat("active snapshots [", absl::StrJoin(active, " "),
                                    "] != the containers' [", absl::StrJoin(snapshot_keys, " "),
                                    "]; leases:\n",
                                    absl::StrJoin(Lines({"-n", ns_, "leases", "ls"}), "\n")));
  }
  return absl::StrJoin(problems, "\n");
}

void CrashTest::ExpectStoreMatchesContainerd() {
  // Orphans are removed and stops finish asynchronously after the resync; allow a moment.
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  std::string problems;
  do {
    problems = StoreVersusContainerd();
    if (problems.empty()) return;
    absl::SleepFor(absl::Milliseconds(200));
  } while (absl::Now() < deadline);
  ADD_FAILURE() << "store and containerd disagree:\n" << problems << "\n" << skiffd_->Log();
}

}  // namespace skiff::e2e

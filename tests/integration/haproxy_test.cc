// HaproxyProcess and HaproxyAdmin against the real HAProxy (Debian's 2.6): each test has its own
// directory, its own HAProxy on free loopback ports and its own HttpBackends, and stops HAProxy
// in TearDown whatever happened. Loads are bounded in count and time; traffic stays on
// 127.0.0.1.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/lb/haproxy_admin.h"
#include "skiff/lb/haproxy_process.h"
#include "support/containerd_fixture.h"  // SKIFF_REQUIRE_NOTHING_MISSING
#include "support/http_backend.h"

namespace skiff::lb {
namespace {

using ::skiff::testing::HttpBackend;
using ::skiff::testing::HttpGet;
using ::skiff::testing::HttpResponse;
using ::testing::HasSubstr;

#define ASSERT_OK(expr)                                 \
  do {                                                  \
    const absl::Status skiff_status_ = (expr);          \
    ASSERT_TRUE(skiff_status_.ok()) << skiff_status_;   \
  } while (false)

// A server line of the rendered config.
struct ConfigServer {
  std::string name;
  int port = 0;
  bool check = true;
};

pid_t ParentOf(pid_t pid) {
  absl::StatusOr<std::string> stat = skiff::testing::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(*stat).substr(stat->rfind(')') + 1), ' ', absl::SkipEmpty());
  pid_t ppid = -1;
  if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &ppid)) return -1;
  return ppid;
}

// The HAProxy masters running on `dir`: its processes whose parent is not one of them.
std::vector<pid_t> MastersOn(const std::string& dir) {
  const std::vector<pid_t> all = skiff::testing::ProcessesReferencing(dir);
  const std::set<pid_t> set(all.begin(), all.end());
  std::vector<pid_t> masters;
  for (const pid_t pid : all) {
    if (!set.contains(ParentOf(pid))) masters.push_back(pid);
  }
  return masters;
}

// MastersOn once it has settled on `want`, or what it last was after `timeout`. Right after a
// start or reload the master re-executes itself, and for that moment its command line is empty,
// so its workers look parentless.
std::vector<pid_t> SettledMastersOn(const std::string& dir, pid_t want,
                                    absl::Duration timeout = absl::Seconds(2)) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<pid_t> masters = MastersOn(dir);
  while (masters != std::vector<pid_t>{want} && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
    masters = MastersOn(dir);
  }
  return masters;
}

class HaproxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_NOTHING_MISSING(skiff::testing::MissingHaproxy());
    char dir[] = "/tmp/skiff-lb.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    paths_.binary = skiff::testing::kHaproxyBinary;
    paths_.dir = dir;
    process_ = std::make_unique<HaproxyProcess>(paths_);
    admin_ = std::make_unique<HaproxyAdmin>(paths_.admin_socket());
    absl::StatusOr<int> port = skiff::testing::PickFreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    frontend_port_ = *port;
  }

  void TearDown() override {
    if (process_ == nullptr) return;  // Skipped.
    absl::Status stopped = process_->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped;
    // Whatever Stop() missed runs on this test's own directory: it is ours to kill.
    const std::vector<pid_t> left = skiff::testing::ProcessesReferencing(paths_.dir);
    EXPECT_THAT(left, ::testing::IsEmpty());
    for (const pid_t pid : left) kill(pid, SIGKILL);
    EXPECT_TRUE(skiff::testing::RemoveTree(paths_.dir).ok());
  }

  std::unique_ptr<HttpBackend> StartBackend(const std::string& name) {
    absl::StatusOr<std::unique_ptr<HttpBackend>> backend = HttpBackend::Start(name);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? std::move(*backend) : nullptr;
  }

  // The config skiffd renders, in small: the admin socket and pid file in `global`, one HTTP
  // frontend on frontend_port_ to backend `app` with HTTP checks on /health every 100 ms, and
  // `extra` appended (a second frontend, say).
  std::string Config(const std::vector<ConfigServer>& servers, const std::string& extra = "") {
    std::string config = absl::StrCat(
        "global\n"
        "  master-worker\n"
        "  stats socket ", paths_.admin_socket(), " mode 600 level admin expose-fd listeners\n",
        "  pidfile ", paths_.pid_file(), "\n",
        "defaults\n"
        "  mode http\n"
        "  timeout connect 2s\n"
        "  timeout client 10s\n"
        "  timeout server 10s\n"
        "frontend web\n"
        "  bind 127.0.0.1:", frontend_port_, "\n",
        "  default_backend app\n"
        "backend app\n"
        "  balance roundrobin\n"
        "  option httpchk GET /health\n");
    for (const ConfigServer& s : servers) {
      absl::StrAppend(&config, "  server ", s.name, " 127.0.0.1:", s.port,
                      s.check ? " check inter 100ms rise 1 fall 1" : "", "\n");
    }
    absl::StrAppend(&config, extra);
    return config;
  }

  // Sends `count` requests through the frontend; the bodies (the backends' names) or "ERROR".
  std::vector<std::string> Requests(int count, const std::string& path = "/") {
    std::vector<std::string> bodies;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<HttpResponse> r = HttpGet(frontend_port_, path);
      bodies.push_back(r.ok() && r->status == 200 ? r->body : "ERROR");
    }
    return bodies;
  }

  // Waits (bounded) until `backend/name` shows `status` in show stat; the last line seen.
  absl::StatusOr<ServerStat> WaitForStatus(const std::string& name, const std::string& status,
                                           absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::StatusOr<ServerStat> last = absl::NotFoundError(name);
    while (absl::Now() < deadline) {
      absl::StatusOr<std::vector<ServerStat>> servers = admin_->Servers("app");
      if (!servers.ok()) return servers.status();
      for (const ServerStat& s : *servers) {
        if (s.name == name) last = s;
      }
      if (last.ok() && last->status == status) return last;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return last;
  }

  HaproxyPaths paths_;
  std::unique_ptr<HaproxyProcess> process_;
  std::unique_ptr<HaproxyAdmin> admin_;
  int frontend_port_ = 0;
};

TEST_F(HaproxyTest, ApplyStartsHaproxyAndARequestReachesTheBackend) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  EXPECT_FALSE(process_->Running());
  ASSERT_OK(process_->Apply(Config({{"b1", b1->port()}})));

  absl::StatusOr<pid_t> master = process_->MasterPid();
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_THAT(SettledMastersOn(paths_.dir, *master), ::testing::ElementsAre(*master));
  absl::StatusOr<HttpResponse> response = HttpGet(frontend_port_, "/");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "b1");
  EXPECT_EQ(b1->requests(), 1);
}

TEST_F(HaproxyTest, AServerAddedAtWeightZeroGetsTrafficOnlyOnceWeightedAfterItsFirstCheck) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  ASSERT_OK(process_->Apply(Config({{"b1", b1->port()}})));

  ServerSpec spec;
  spec.backend = "app";
  spec.name = "b2";
  spec.address = "127.0.0.1";
  spec.port = b2->port();
  spec.weight = 0;
  spec.interval = absl::Milliseconds(100);
  spec.rise = 2;
  spec.fall = 1;
  ASSERT_TRUE(admin_->AddServer(spec).ok());
  ASSERT_TRUE(admin_->EnableServer("app", "b2").ok());
  // Counted UP before any check, but at weight 0 it gets nothing.
  EXPECT_THAT(Requests(20), ::testing::Each("b1"));
  EXPECT_EQ(b2->requests(), 0);

  absl::StatusOr<ServerStat> stat = WaitForStatus("b2", "UP");
  ASSERT_TRUE(stat.ok()) << stat.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (stat.ok() && stat->check_status != "L7OK" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    stat = WaitForStatus("b2", "UP");
  }
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->check_status, "L7OK");
  EXPECT_EQ(stat->check_code, 200);
  EXPECT_GE(b2->health_checks(), 1);
  EXPECT_EQ(b2->requests(), 0);

  ASSERT_TRUE(admin_->SetWeight("app", "b2", 1).ok());
  const std::vector<std::string> bodies = Requests(20);
  // Round robin at equal weights: every other request, give or take one.
  const auto to_b2 = std::count(bodies.begin(), bodies.end(), "b2");
  EXPECT_GE(to_b2, 9);
  EXPECT_LE(to_b2, 11);
  EXPECT_EQ(to_b2 + std::count(bodies.begin(), bodies.end(), "b1"), 20);
  // A second add of the same name is refused with HAProxy's words.
  absl::Status again = admin_->AddServer(spec);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
}

TEST_F(HaproxyTest, AServerWhoseHealthReturns500IsDownAndGetsNoRequest) {
  auto good = StartBackend("good");
  auto bad = StartBackend("bad");
  ASSERT_NE(bad, nullptr);
  bad->SetHealthStatus(500);
  ASSERT_TRUE(
      process_->Apply(Config({{"good", good->port()}, {"bad", bad->port()}})).ok());

  absl::StatusOr<ServerStat> stat = WaitForStatus("bad", "DOWN");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->status, "DOWN");
  EXPECT_EQ(stat->check_status, "L7STS");
  EXPECT_EQ(stat->check_code, 500);
  EXPECT_FALSE(stat->up());
  const int before = bad->requests();
  EXPECT_THAT(Requests(20), ::testing::Each("good"));
  EXPECT_EQ(bad->requests(), before);
}

TEST_F(HaproxyTest, DrainSendsNoNewRequestWhileAnInFlightOneCompletes) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  ASSERT_OK(process_->Apply(Config({{"b1", b1->port()}, {"b2", b2->port()}})));
  ASSERT_TRUE(WaitForStatus("b2", "UP").ok());

  // The slow request goes to b2: b1 is in maintenance while it is sent.
  b2->SetSlowDelay(absl::Seconds(1));
  ASSERT_TRUE(admin_->SetState("app", "b1", ServerAdminState::kMaint).ok());
  absl::StatusOr<HttpResponse> slow = absl::UnknownError("not done");
  std::thread client([&] { slow = HttpGet(frontend_port_, "/slow"); });
  const bool arrived = b2->WaitForRequests(1, absl::Seconds(5));
  ASSERT_TRUE(admin_->SetState("app", "b1", ServerAdminState::kReady).ok());
  ASSERT_TRUE(admin_->SetState("app", "b2", ServerAdminState::kDrain).ok());
  const int b2_before = b2->requests();
  const std::vector<std::string> bodies = Requests(50);
  client.join();

  ASSERT_TRUE(arrived);
  EXPECT_THAT(bodies, ::testing::Each("b1"));
  EXPECT_EQ(b2->requests(), b2_before);
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_EQ(slow->status, 200);
  EXPECT_EQ(slow->body, "b2");
  absl::StatusOr<ServerStat> stat = WaitForStatus("b2", "DRAIN");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_TRUE(stat->up());
}

TEST_F(HaproxyTest, DeleteServerIsRefusedWhileAConnectionIsOpenAndSucceedsAfter) {
  auto b1 = StartBackend("b1");
  auto d1 = StartBackend("d1");
  ASSERT_NE(d1, nullptr);
  ASSERT_OK(process_->Apply(Config({{"b1", b1->port()}})));
  ServerSpec spec;
  spec.backend = "app";
  spec.name = "d1";
  spec.address = "127.0.0.1";
  spec.port = d1->port();
  spec.weight = 1;
  spec.check = false;
  ASSERT_TRUE(admin_->AddServer(spec).ok());
  ASSERT_TRUE(admin_->EnableServer("app", "d1").ok());  // No check: `enable server` only.

  d1->SetSlowDelay(absl::Seconds(1));
  ASSERT_TRUE(admin_->SetState("app", "b1", ServerAdminState::kMaint).ok());
  absl::StatusOr<HttpResponse> slow = absl::UnknownError("not done");
  std::thread client([&] { slow = HttpGet(frontend_port_, "/slow"); });
  const bool arrived = d1->WaitForRequests(1, absl::Seconds(5));
  absl::Status maint = admin_->SetState("app", "d1", ServerAdminState::kMaint);
  absl::Status refused = admin_->DeleteServer("app", "d1");
  client.join();

  ASSERT_TRUE(arrived);
  ASSERT_TRUE(maint.ok()) << maint;
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("still has connections"));
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_EQ(slow->body, "d1");

  // The connection closes as the answer ends; retry as the load balancer will.
  absl::Status deleted = refused;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::IsFailedPrecondition(deleted) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    deleted = admin_->DeleteServer("app", "d1");
  }
  EXPECT_TRUE(deleted.ok()) << deleted;
  absl::StatusOr<std::vector<ServerStat>> servers = admin_->Servers("app");
  ASSERT_TRUE(servers.ok()) << servers.status();
  for (const ServerStat& s : *servers) EXPECT_NE(s.name, "d1");
  EXPECT_EQ(admin_->DeleteServer("app", "d1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(admin_->DeleteServer("nope", "d1").code(), absl::StatusCode::kNotFound);
}

TEST_F(HaproxyTest, ABrokenConfigIsRejectedWithHaproxysMessageAndTheRunningOneServesOn) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  const std::string good = Config({{"b1", b1->port()}});
  ASSERT_OK(process_->Apply(good));
  absl::StatusOr<pid_t> master = process_->MasterPid();
  ASSERT_TRUE(master.ok());

  const std::string broken = good + "backend other\n  no-such-keyword 1\n";
  absl::Status invalid = process_->Validate(broken);
  EXPECT_EQ(invalid.code(), absl::StatusCode::kInvalidArgument) << invalid;
  EXPECT_THAT(std::string(invalid.message()), HasSubstr("unknown keyword 'no-such-keyword'"));
  EXPECT_THAT(std::string(invalid.message()), HasSubstr("[ALERT]"));

  absl::Status applied = process_->Apply(broken);
  EXPECT_EQ(applied.code(), absl::StatusCode::kInvalidArgument) << applied;
  absl::StatusOr<std::string> installed = skiff::testing::ReadFile(paths_.config());
  ASSERT_TRUE(installed.ok());
  EXPECT_EQ(*installed, good);
  EXPECT_EQ(process_->MasterPid().value_or(-1), *master);
  EXPECT_THAT(Requests(5), ::testing::Each("b1"));
  EXPECT_TRUE(process_->Validate(good).ok());
}

TEST_F(HaproxyTest, AReloadUnderLoadFailsNoRequest) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  absl::StatusOr<int> second_port = skiff::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(second_port.ok());
  const std::vector<ConfigServer> servers = {{"b1", b1->port()}, {"b2", b2->port()}};
  const std::string first = Config(servers);
  const std::string second =
      Config(servers, absl::StrCat("frontend second\n  bind 127.0.0.1:", *second_port,
                                   "\n  default_backend app\n"));
  ASSERT_OK(process_->Apply(first));
  absl::StatusOr<pid_t> master = process_->MasterPid();
  ASSERT_TRUE(master.ok());

  // Up to 500 requests, one connection each, for at most 20 s.
  constexpr int kRequests = 500;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::string first_error;
  std::thread client([&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    for (int i = 0; i < kRequests && absl::Now() < deadline; ++i) {
      absl::StatusOr<HttpResponse> r = HttpGet(frontend_port_, "/");
      if (!r.ok() || r->status != 200) {
        if (failed++ == 0) first_error = r.ok() ? absl::StrCat("HTTP ", r->status)
                                                : std::string(r.status().message());
      }
      ++done;
    }
  });
  // Three reloads while the load runs: to the second config, back, and again.
  std::vector<absl::Status> reloads;
  for (const std::string* config : {&second, &first, &second}) {
    const absl::Time wait_until = absl::Now() + absl::Seconds(5);
    const int target = done + 50;
    while (done < target && absl::Now() < wait_until) absl::SleepFor(absl::Milliseconds(5));
    reloads.push_back(process_->Apply(*config));
  }
  client.join();

  for (const absl::Status& s : reloads) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(done, kRequests);
  EXPECT_EQ(failed, 0) << first_error;
  EXPECT_EQ(process_->MasterPid().value_or(-1), *master);  // Reloaded, not restarted.
  absl::StatusOr<HttpResponse> via_second = HttpGet(*second_port, "/");
  ASSERT_TRUE(via_second.ok()) << via_second.status();
  EXPECT_EQ(via_second->status, 200);
}

TEST_F(HaproxyTest, ASecondOwnerAdoptsTheRunningMasterAndReloadsIt) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  absl::StatusOr<int> second_port = skiff::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(second_port.ok());
  ASSERT_OK(process_->Apply(Config({{"b1", b1->port()}})));
  absl::StatusOr<pid_t> master = process_->MasterPid();
  ASSERT_TRUE(master.ok());

  // skiffd restarted: a new object on the same directory.
  HaproxyProcess adopter(paths_);
  absl::StatusOr<pid_t> found = adopter.MasterPid();
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, *master);
  ASSERT_OK(adopter.Apply(Config({{"b1", b1->port()}},
                                 absl::StrCat("frontend second\n  bind 127.0.0.1:", *second_port,
                                              "\n  default_backend app\n"))));
  EXPECT_THAT(SettledMastersOn(paths_.dir, *master), ::testing::ElementsAre(*master));
  absl::StatusOr<HttpResponse> via_second = HttpGet(*second_port, "/");
  ASSERT_TRUE(via_second.ok()) << via_second.status();
  EXPECT_EQ(via_second->body, "b1");
}

TEST_F(HaproxyTest, AStalePidFileIsNotAdopted) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  // A pid that is dead...
  const pid_t dead = fork();
  ASSERT_GE(dead, 0);
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  ASSERT_EQ(skiff::testing::RemoveTree(paths_.dir).ok(), true);
  ASSERT_EQ(mkdir(paths_.dir.c_str(), 0700), 0);
  const auto write_pid_file = [&](pid_t pid) {
    FILE* f = fopen(paths_.pid_file().c_str(), "w");
    ASSERT_NE(f, nullptr);
    fprintf(f, "%d\n", pid);
    fclose(f);
  };
  write_pid_file(dead);
  EXPECT_EQ(process_->MasterPid().status().code(), absl::StatusCode::kNotFound);
  // ...and a live one that is not HAProxy: this test. Adopting it would send us SIGUSR2, whose
  // default action ends this process.
  write_pid_file(getpid());
  EXPECT_EQ(process_->MasterPid().status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(process_->Running());

  ASSERT_OK(process_->Apply(Config({{"b1", b1->port()}})));
  absl::StatusOr<pid_t> master = process_->MasterPid();
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_NE(*master, getpid());
  EXPECT_THAT(SettledMastersOn(paths_.dir, *master), ::testing::ElementsAre(*master));
  EXPECT_THAT(Requests(3), ::testing::Each("b1"));
}

TEST_F(HaproxyTest, StopLeavesNoProcessAndNoSocket) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  ASSERT_OK(process_->Apply(Config({{"b1", b1->port()}})));
  ASSERT_FALSE(skiff::testing::ProcessesReferencing(paths_.dir).empty());

  ASSERT_TRUE(process_->Stop().ok());
  EXPECT_THAT(skiff::testing::ProcessesReferencing(paths_.dir), ::testing::IsEmpty());
  for (const std::string& path :
       {paths_.admin_socket(), paths_.master_socket(), paths_.pid_file()}) {
    EXPECT_NE(access(path.c_str(), F_OK), 0) << path << " is still there";
  }
  EXPECT_FALSE(process_->Running());
  EXPECT_FALSE(HttpGet(frontend_port_, "/", absl::Seconds(1)).ok());
  EXPECT_TRUE(process_->Stop().ok());  // Nothing left to stop.
}

}  // namespace
}  // namespace skiff::lb

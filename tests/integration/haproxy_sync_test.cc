// DataPlaneSync against the real HAProxy (Debian's 2.6): each test has its own directory, its
// own HAProxy on a free loopback port and its own HttpBackends, and stops HAProxy in TearDown
// whatever happened. Every wait has a deadline (10 s at most). A new target is admitted by the
// sync's first probe within milliseconds; HAProxy's own checks run every second (or every 30 s,
// ALB's default, in the tests of the first probe, so that only the probe can admit).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/lb/data_plane_sync.h"
#include "skiff/lb/haproxy_process.h"
#include "support/containerd_fixture.h"  // SKIFF_REQUIRE_NOTHING_MISSING
#include "support/http_backend.h"

namespace skiff::lb {
namespace {

using ::skiff::testing::HttpBackend;
using ::skiff::testing::HttpGet;
using ::skiff::testing::HttpResponse;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(10);

// What a DataPlaneSync reported, for the test thread to wait on.
class Reports {
 public:
  void Add(const DataPlaneReport& report) {
    absl::MutexLock lock(&mu_);
    last_ = report;
    ++count_;
    if (!report.running) saw_not_running_ = true;
    for (const std::string& key : report.admitted) ever_admitted_.push_back(key);
  }

  // The first report (the one in hand, or a later one) for which `done` holds, or the last one
  // after `timeout`; `met` says which.
  DataPlaneReport WaitFor(const std::function<bool(const DataPlaneReport&)>& done,
                          bool* met = nullptr, absl::Duration timeout = kWait) {
    absl::MutexLock lock(&mu_);
    // Runs with mu_ held (Await evaluates it under the lock).
    const auto holds = [&] { return count_ > 0 && done(last_); };
    const bool ok = mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
    if (met != nullptr) *met = ok;
    return last_;
  }

  bool EverAdmitted(const std::string& key) {
    absl::MutexLock lock(&mu_);
    return std::find(ever_admitted_.begin(), ever_admitted_.end(), key) != ever_admitted_.end();
  }
  bool SawNotRunning() {
    absl::MutexLock lock(&mu_);
    return saw_not_running_;
  }
  void ForgetNotRunning() {
    absl::MutexLock lock(&mu_);
    saw_not_running_ = false;
  }

 private:
  absl::Mutex mu_;
  DataPlaneReport last_ ABSL_GUARDED_BY(mu_);
  int count_ ABSL_GUARDED_BY(mu_) = 0;
  bool saw_not_running_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> ever_admitted_ ABSL_GUARDED_BY(mu_);
};

bool Has(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

const ServerStat* Find(const DataPlaneReport& report, const std::string& name) {
  for (const ServerStat& s : report.servers) {
    if (s.backend == "app" && s.name == name) return &s;
  }
  return nullptr;
}

Target TargetOf(const HttpBackend& backend, int weight = 1) {
  return Target{
      .name = backend.name(), .address = "127.0.0.1", .port = backend.port(), .weight = weight};
}

class DataPlaneSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_NOTHING_MISSING(skiff::testing::MissingHaproxy());
    char dir[] = "/tmp/skiff-lbsync.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    paths_.binary = skiff::testing::kHaproxyBinary;
    paths_.dir = dir;
    absl::StatusOr<int> port = skiff::testing::PickFreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status();
    frontend_port_ = *port;
  }

  void TearDown() override {
    if (paths_.dir.empty()) return;  // Skipped.
    sync_.reset();
    HaproxyProcess process(paths_);
    const absl::Status stopped = process.Stop();
    EXPECT_TRUE(stopped.ok()) << stopped;
    // Whatever Stop() missed runs on this test's own directory: it is ours to kill.
    const std::vector<pid_t> left = skiff::testing::ProcessesReferencing(paths_.dir);
    EXPECT_THAT(left, IsEmpty());
    for (const pid_t pid : left) kill(pid, SIGKILL);
    EXPECT_TRUE(skiff::testing::RemoveTree(paths_.dir).ok());
  }

  std::unique_ptr<DataPlaneSync> NewSync(Reports* reports) {
    DataPlaneSyncOptions options{
        .paths = paths_, .min_backoff = absl::Milliseconds(100), .max_backoff = absl::Seconds(2)};
    return std::make_unique<DataPlaneSync>(
        options, [reports](const DataPlaneReport& r) { reports->Add(r); });
  }

  std::unique_ptr<HttpBackend> StartBackend(const std::string& name) {
    absl::StatusOr<std::unique_ptr<HttpBackend>> backend = HttpBackend::Start(name);
    EXPECT_TRUE(backend.ok()) << backend.status();
    return backend.ok() ? std::move(*backend) : nullptr;
  }

  // /health every second, rise 2, fall 2.
  static HealthCheck EverySecond() {
    return {.path = "/health",
            .interval = absl::Seconds(1),
            .timeout = absl::Milliseconds(500),
            .healthy_threshold = 2,
            .unhealthy_threshold = 2};
  }
  // ALB's default check (every 30 s, timeout 5 s, rise 5, fall 2) on /health: HAProxy 2.6 runs a
  // new server's first one 30 s after adding it, so within a test only the first probe admits.
  static HealthCheck AlbDefault(std::string matcher = "200") {
    return {.path = "/health", .matcher = std::move(matcher)};
  }

  // One HTTP listener on frontend_port_ forwarding to backend `app`, with `check`.
  DataPlane Plane(std::vector<Target> targets, HealthCheck check = EverySecond()) const {
    return DataPlane{
        .frontends = {{.name = "web",
                       .address = "127.0.0.1",
                       .port = frontend_port_,
                       .default_action = {.type = Action::Type::kForward,
                                          .forward = {{.backend = "app"}}}}},
        .backends = {{.name = "app", .check = std::move(check), .targets = std::move(targets)}}};
  }

  // The same as TCP: a TCP listener, a TCP backend, a TCP check (a connect) every 30 s.
  DataPlane TcpPlane(std::vector<Target> targets) const {
    DataPlane plane = Plane(std::move(targets), {.protocol = Protocol::kTcp});
    plane.frontends[0].protocol = Protocol::kTcp;
    plane.backends[0].protocol = Protocol::kTcp;
    return plane;
  }

  // Wants `plane` as `generation` and waits until it is applied and `admitted` are admitted.
  DataPlaneReport WantAndWait(Reports& reports, DataPlane plane, uint64_t generation,
                              const std::vector<std::string>& admitted) {
    sync_->Want(std::move(plane), generation);
    bool met = false;
    DataPlaneReport r = reports.WaitFor(
        [&](const DataPlaneReport& r) {
          return r.generation == generation && r.running &&
                 std::all_of(admitted.begin(), admitted.end(),
                             [&](const std::string& k) { return Has(r.admitted, k); });
        },
        &met);
    EXPECT_TRUE(met) << "generation " << r.generation << ", running " << r.running << ", "
                     << r.status << ", admitted " << r.admitted.size();
    return r;
  }

  // Sends `count` requests through the frontend; the bodies (the backends' names) or "ERROR".
  std::vector<std::string> Requests(int count) {
    std::vector<std::string> bodies;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<HttpResponse> r = HttpGet(frontend_port_, "/");
      bodies.push_back(r.ok() && r->status == 200 ? r->body : "ERROR");
    }
    return bodies;
  }

  // Wants `plane` (which adds `fresh` to what runs) and sends requests through the frontend
  // until one reaches `fresh`: how long that took from Want(), or nullopt after `limit`.
  std::optional<absl::Duration> TimeToFirstRequest(const HttpBackend& fresh, DataPlane plane,
                                                   uint64_t generation, absl::Duration limit) {
    const absl::Time wanted = absl::Now();
    sync_->Want(std::move(plane), generation);
    // Each request takes about a millisecond: that is the resolution.
    while (absl::Now() < wanted + limit) {
      absl::StatusOr<HttpResponse> r = HttpGet(frontend_port_, "/");
      if (r.ok() && r->body == fresh.name()) return absl::Now() - wanted;
    }
    return std::nullopt;
  }

  HaproxyPaths paths_;
  int frontend_port_ = 0;
  std::unique_ptr<DataPlaneSync> sync_;
};

TEST_F(DataPlaneSyncTest, TwoTargetsAreAdmittedAndShareTrafficByWeight) {
  auto b1 = StartBackend("b1");
  auto b3 = StartBackend("b3");
  ASSERT_NE(b3, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  const DataPlaneReport r =
      WantAndWait(reports, Plane({TargetOf(*b1, 1), TargetOf(*b3, 3)}), 1, {"app/b1", "app/b3"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_GE(b1->health_checks(), 1);
  // Admitted by the first probe, HAProxy's own checks then judge the targets.
  bool checked = false;
  const DataPlaneReport c = reports.WaitFor(
      [](const DataPlaneReport& r) {
        const ServerStat* s = Find(r, "b1");
        return s != nullptr && s->check_status == "L7OK";
      },
      &checked);
  EXPECT_TRUE(checked) << (Find(c, "b1") ? Find(c, "b1")->check_status : "no b1");

  const std::vector<std::string> bodies = Requests(40);
  EXPECT_NEAR(std::count(bodies.begin(), bodies.end(), "b1"), 10, 2);
  EXPECT_NEAR(std::count(bodies.begin(), bodies.end(), "b3"), 30, 2);
  EXPECT_THAT(bodies, Not(Contains("ERROR")));
  const DataPlaneReport weighted = reports.WaitFor([](const DataPlaneReport& r) {
    const ServerStat* s = Find(r, "b3");
    return s != nullptr && s->weight == 3;
  });
  EXPECT_EQ(Find(weighted, "b3")->weight, 3);
}

TEST_F(DataPlaneSyncTest, ATargetWhoseCheckFailsIsNeverAdmittedAndGetsNoRequest) {
  auto good = StartBackend("good");
  auto bad = StartBackend("bad");
  ASSERT_NE(bad, nullptr);
  bad->SetHealthStatus(500);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*good)}), 1, {"app/good"});

  // Added over the runtime API while traffic flows: UP before its first check, but at weight 0.
  sync_->Want(Plane({TargetOf(*good), TargetOf(*bad)}), 2);
  std::vector<std::string> bodies;
  bool failed_check = false;
  const absl::Time deadline = absl::Now() + kWait;
  while (!failed_check && absl::Now() < deadline) {
    const std::vector<std::string> more = Requests(5);
    bodies.insert(bodies.end(), more.begin(), more.end());
    reports.WaitFor(
        [](const DataPlaneReport& r) {
          const ServerStat* s = Find(r, "bad");
          return s != nullptr && s->check_code == 500;
        },
        &failed_check, absl::Milliseconds(20));
  }
  ASSERT_TRUE(failed_check);
  const std::vector<std::string> after = Requests(10);
  bodies.insert(bodies.end(), after.begin(), after.end());

  EXPECT_THAT(bodies, Each("good"));
  EXPECT_EQ(bad->requests(), 0);
  EXPECT_GE(bad->health_checks(), 1);
  const DataPlaneReport r =
      reports.WaitFor([](const DataPlaneReport& r) { return r.generation == 2; });
  EXPECT_EQ(r.generation, 2u);
  EXPECT_EQ(Find(r, "bad")->check_status, "L7STS");
  EXPECT_EQ(Find(r, "bad")->weight, 0);
  EXPECT_FALSE(reports.EverAdmitted("app/bad"));
}

TEST_F(DataPlaneSyncTest, AFailOpenTwinServesOnlyWhileNoTargetIsUp) {
  auto sick = StartBackend("sick");
  auto well = StartBackend("well");
  ASSERT_NE(well, nullptr);
  sick->SetHealthStatus(500);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*sick)}), 1, {});
  EXPECT_THAT(Requests(3), Each("ERROR")) << "a target that fails its checks got a request";

  // Every target unhealthy: its twin, a backup without checks, takes the requests at once.
  Target twin = TargetOf(*sick);
  twin.name = "open-sick";
  twin.backup = true;
  WantAndWait(reports, Plane({TargetOf(*sick), twin}), 2, {});
  EXPECT_THAT(Requests(5), Each("sick"));

  // A healthy target comes: from its admission on, the twin gets nothing, though it is UP.
  WantAndWait(reports, Plane({TargetOf(*sick), twin, TargetOf(*well)}), 3, {"app/well"});
  const int sick_before = sick->requests();
  EXPECT_THAT(Requests(10), Each("well"));
  EXPECT_EQ(sick->requests(), sick_before);

  // And the twin leaves.
  WantAndWait(reports, Plane({TargetOf(*sick), TargetOf(*well)}), 4, {"app/well"});
  const DataPlaneReport r = reports.WaitFor([](const DataPlaneReport& r) {
    return r.generation == 4 && r.removing.empty() && Find(r, "open-sick") == nullptr;
  });
  EXPECT_EQ(Find(r, "open-sick"), nullptr);
  EXPECT_THAT(r.removing, ::testing::IsEmpty());
}

TEST_F(DataPlaneSyncTest, ADrainedTargetFinishesItsRequestTakesNoNewOneAndIsThenDeleted) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*b1), TargetOf(*b2)}), 1, {"app/b1", "app/b2"});

  // Two slow requests at once: round robin gives each target one.
  b1->SetSlowDelay(absl::Milliseconds(1500));
  b2->SetSlowDelay(absl::Milliseconds(1500));
  absl::StatusOr<HttpResponse> slow[2] = {absl::UnknownError("not done"),
                                          absl::UnknownError("not done")};
  std::thread clients[2];
  for (int i = 0; i < 2; ++i) {
    clients[i] = std::thread([&, i] { slow[i] = HttpGet(frontend_port_, "/slow"); });
  }
  const bool arrived = b2->WaitForRequests(1, absl::Seconds(5));

  Target draining = TargetOf(*b2);
  draining.draining = true;
  const DataPlaneReport drained = WantAndWait(reports, Plane({TargetOf(*b1), draining}), 2, {});
  EXPECT_TRUE(Has(drained.admitted, "app/b2"));  // Draining targets stay admitted.
  const int b2_before = b2->requests();
  const std::vector<std::string> bodies = Requests(30);
  const DataPlaneReport status = reports.WaitFor([](const DataPlaneReport& r) {
    return Find(r, "b2") != nullptr && Find(r, "b2")->status == "DRAIN";
  });

  // Removed while its slow request is still in flight: `del server` waits for it.
  sync_->Want(Plane({TargetOf(*b1)}), 3);
  const DataPlaneReport removing =
      reports.WaitFor([](const DataPlaneReport& r) { return r.generation == 3; });
  for (std::thread& c : clients) c.join();
  bool deleted = false;
  const DataPlaneReport gone = reports.WaitFor(
      [](const DataPlaneReport& r) {
        return r.running && r.removing.empty() && Find(r, "b2") == nullptr;
      },
      &deleted);

  ASSERT_TRUE(arrived);
  EXPECT_THAT(bodies, Each("b1"));
  EXPECT_EQ(b2->requests(), b2_before);
  EXPECT_EQ(Find(status, "b2")->status, "DRAIN");
  for (const auto& s : slow) {
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->status, 200);
  }
  EXPECT_THAT(removing.removing, ElementsAre("app/b2"));
  EXPECT_EQ(Find(removing, "b2")->status, "MAINT");
  EXPECT_TRUE(deleted);
  EXPECT_THAT(gone.admitted, ElementsAre("app/b1"));
  EXPECT_THAT(Requests(5), Each("b1"));
}

TEST_F(DataPlaneSyncTest, AKilledHaproxyIsRestartedAndItsListenerAnswersAgain) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*b1)}), 1, {"app/b1"});
  const absl::StatusOr<pid_t> master = HaproxyProcess(paths_).MasterPid();
  ASSERT_TRUE(master.ok()) << master.status();
  reports.ForgetNotRunning();

  const std::vector<pid_t> processes = skiff::testing::ProcessesReferencing(paths_.dir);
  ASSERT_FALSE(processes.empty());
  for (const pid_t pid : processes) kill(pid, SIGKILL);  // Master and workers: ours.
  const absl::Time killed = absl::Now();
  bool answered = false;
  while (!answered && absl::Now() < killed + kWait) {
    absl::StatusOr<HttpResponse> r = HttpGet(frontend_port_, "/", absl::Milliseconds(500));
    answered = r.ok() && r->status == 200 && r->body == "b1";
    if (!answered) absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Duration downtime = absl::Now() - killed;
  std::cout << "HAProxy answered again " << downtime << " after kill -9" << std::endl;

  EXPECT_TRUE(answered);
  EXPECT_TRUE(reports.SawNotRunning());
  const DataPlaneReport r = reports.WaitFor([](const DataPlaneReport& r) { return r.running; });
  EXPECT_TRUE(r.status.ok()) << r.status;
  const absl::StatusOr<pid_t> restarted = HaproxyProcess(paths_).MasterPid();
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_NE(*restarted, *master);
}

TEST_F(DataPlaneSyncTest, ANewSyncAdoptsTheRunningHaproxyWithoutAFailedRequest) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  Reports first;
  sync_ = NewSync(&first);
  const DataPlane plane = Plane({TargetOf(*b1), TargetOf(*b2)});
  WantAndWait(first, plane, 1, {"app/b1", "app/b2"});
  const absl::StatusOr<pid_t> master = HaproxyProcess(paths_).MasterPid();
  ASSERT_TRUE(master.ok());

  constexpr int kRequests = 200;
  std::atomic<int> done{0}, failed{0};
  std::thread client([&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    for (int i = 0; i < kRequests && absl::Now() < deadline; ++i) {
      absl::StatusOr<HttpResponse> r = HttpGet(frontend_port_, "/");
      if (!r.ok() || r->status != 200) ++failed;
      ++done;
    }
  });
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (done < 50 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
  // skiffd restarts: the old sync goes (HAProxy runs on), a new one takes the same plane.
  sync_.reset();
  Reports second;
  sync_ = NewSync(&second);
  const DataPlaneReport adopted = WantAndWait(second, plane, 1, {"app/b1", "app/b2"});
  client.join();

  EXPECT_TRUE(adopted.status.ok()) << adopted.status;
  EXPECT_EQ(done, kRequests);
  EXPECT_EQ(failed, 0);
  EXPECT_GT(b1->requests(), 0);
  EXPECT_GT(b2->requests(), 0);
  EXPECT_EQ(HaproxyProcess(paths_).MasterPid().value_or(-1), *master);  // Reloaded, not new.
}

TEST_F(DataPlaneSyncTest, AnEmptyPlaneStopsHaproxyAndLeavesNothingBehind) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*b1)}), 1, {"app/b1"});
  ASSERT_FALSE(skiff::testing::ProcessesReferencing(paths_.dir).empty());

  sync_->Want(DataPlane{}, 2);
  bool met = false;
  const DataPlaneReport r = reports.WaitFor(
      [](const DataPlaneReport& r) { return r.generation == 2 && !r.running; }, &met);
  ASSERT_TRUE(met);
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.servers, IsEmpty());
  EXPECT_THAT(r.admitted, IsEmpty());
  EXPECT_THAT(skiff::testing::ProcessesReferencing(paths_.dir), IsEmpty());
  for (const std::string& path :
       {paths_.admin_socket(), paths_.master_socket(), paths_.pid_file()}) {
    EXPECT_NE(access(path.c_str(), F_OK), 0) << path << " is still there";
  }
  EXPECT_FALSE(HttpGet(frontend_port_, "/", absl::Seconds(1)).ok());
}

TEST_F(DataPlaneSyncTest, APlaneThatCannotBeRenderedIsReportedAndTheRunningOneServesOn) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*b1)}), 1, {"app/b1"});

  Target bad = TargetOf(*b2);
  bad.name = "b2;shutdown";  // Not a HAProxy name: `add server` and the renderer refuse it.
  sync_->Want(Plane({TargetOf(*b1), bad}), 2);
  bool met = false;
  const DataPlaneReport refused =
      reports.WaitFor([](const DataPlaneReport& r) { return !r.status.ok(); }, &met);
  ASSERT_TRUE(met);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kInvalidArgument) << refused.status;
  EXPECT_THAT(std::string(refused.status.message()), HasSubstr("backends[0].targets[1].name"));
  EXPECT_EQ(refused.generation, 1u);
  EXPECT_THAT(Requests(5), Each("b1"));

  const DataPlaneReport fixed =
      WantAndWait(reports, Plane({TargetOf(*b1), TargetOf(*b2)}), 3, {"app/b1", "app/b2"});
  EXPECT_TRUE(fixed.status.ok()) << fixed.status;
}

// --- The first probe: admission before HAProxy's first check ---

// With ALB's 30 s check interval, a new target that answers gets its first request in well under
// a second of Want(), where waiting for HAProxy's first check would take 30 s. Prints the median
// and p90 of 10 tries; each must be within 1.5 s.
TEST_F(DataPlaneSyncTest, ANewTargetThatAnswersGetsItsFirstRequestWithinASecondOfWant) {
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*b1)}, AlbDefault()), 1, {"app/b1"});

  std::vector<absl::Duration> times;
  uint64_t generation = 1;
  for (int i = 0; i < 10; ++i) {
    auto fresh = StartBackend(absl::StrCat("n", i));
    ASSERT_NE(fresh, nullptr);
    const std::optional<absl::Duration> took =
        TimeToFirstRequest(*fresh, Plane({TargetOf(*b1), TargetOf(*fresh)}, AlbDefault()),
                           ++generation, absl::Seconds(3));
    ASSERT_TRUE(took.has_value()) << fresh->name() << " got no request within 3 s";
    EXPECT_LE(*took, absl::Milliseconds(1500)) << fresh->name();
    times.push_back(*took);
    const DataPlaneReport r = reports.WaitFor([&](const DataPlaneReport& r) {
      const ServerStat* s = Find(r, fresh->name());
      return s != nullptr && s->weight == 1;
    });
    // HAProxy has not checked it: the probe admitted it, UP at its weight.
    ASSERT_NE(Find(r, fresh->name()), nullptr);
    EXPECT_EQ(Find(r, fresh->name())->check_status, "INI");
    EXPECT_TRUE(Find(r, fresh->name())->up()) << Find(r, fresh->name())->status;
    // Out again before the next one, so each try starts from the same plane.
    WantAndWait(reports, Plane({TargetOf(*b1)}, AlbDefault()), ++generation, {});
    reports.WaitFor([&](const DataPlaneReport& r) { return Find(r, fresh->name()) == nullptr; });
  }
  std::sort(times.begin(), times.end());
  std::cout << "Want() to first request (check interval 30 s, probe every 100 ms, n=10): min "
            << times.front() << ", median " << (times[4] + times[5]) / 2 << ", p90 " << times[8]
            << ", max " << times.back() << std::endl;
}

// An application that takes seconds to start (its check path answers 503 for 2.5 s, past the 20
// probes at 100 ms) gets its first request soon after it answers 200: it is probed every 400 ms
// by then. Prints how soon.
TEST_F(DataPlaneSyncTest, ATargetReadyOnlyAfterSecondsGetsItsFirstRequestSoonAfter) {
  auto b1 = StartBackend("b1");
  auto late = StartBackend("late");
  ASSERT_NE(late, nullptr);
  late->SetHealthStatus(503);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*b1)}, AlbDefault()), 1, {"app/b1"});
  sync_->Want(Plane({TargetOf(*b1), TargetOf(*late)}, AlbDefault()), 2);
  absl::SleepFor(absl::Milliseconds(2500));
  const int probes = late->health_checks();

  const absl::Time ready = absl::Now();
  late->SetHealthStatus(200);
  bool reached = false;
  while (!reached && absl::Now() < ready + absl::Seconds(3)) {
    absl::StatusOr<HttpResponse> r = HttpGet(frontend_port_, "/");
    reached = r.ok() && r->body == "late";
  }
  const absl::Duration took = absl::Now() - ready;
  std::cout << "ready after " << probes << " failed probes in 2.5 s: first request " << took
            << " after ready" << std::endl;
  ASSERT_TRUE(reached);
  EXPECT_LE(took, absl::Seconds(1));
  EXPECT_GE(probes, 10);  // Probed again and again (the pace itself is first_probe_test's).
}

// The probe passes only on a status the matcher takes: a target whose check path answers 500, or
// that does not listen, is probed again and again but never admitted and gets no request; one
// that answers 202 under "200-299" is admitted.
TEST_F(DataPlaneSyncTest, ATargetWhoseProbeFailsIsNeverAdmittedAndGetsNoRequest) {
  auto good = StartBackend("good");
  auto bad = StartBackend("bad");
  ASSERT_NE(bad, nullptr);
  good->SetHealthStatus(202);
  bad->SetHealthStatus(500);
  const absl::StatusOr<int> closed_port = skiff::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(closed_port.ok()) << closed_port.status();
  const Target deaf{.name = "deaf", .address = "127.0.0.1", .port = *closed_port, .weight = 1};
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*good)}, AlbDefault("200-299")), 1, {"app/good"});

  sync_->Want(Plane({TargetOf(*good), TargetOf(*bad), deaf}, AlbDefault("200-299")), 2);
  std::vector<std::string> bodies;
  const absl::Time until = absl::Now() + absl::Seconds(2);
  while (absl::Now() < until) {
    const std::vector<std::string> more = Requests(1);
    bodies.insert(bodies.end(), more.begin(), more.end());
    absl::SleepFor(absl::Milliseconds(5));
  }
  const DataPlaneReport r = reports.WaitFor(
      [](const DataPlaneReport& r) { return r.generation == 2 && Find(r, "deaf") != nullptr; });

  EXPECT_GT(bodies.size(), 100u);
  EXPECT_THAT(bodies, Each("good"));
  EXPECT_EQ(bad->requests(), 0);
  EXPECT_GE(bad->health_checks(), 5);  // Probed every 100 ms, 2 s long.
  EXPECT_FALSE(reports.EverAdmitted("app/bad"));
  EXPECT_FALSE(reports.EverAdmitted("app/deaf"));
  ASSERT_NE(Find(r, "bad"), nullptr);
  EXPECT_EQ(Find(r, "bad")->weight, 0);
  EXPECT_EQ(Find(r, "bad")->check_status, "INI");  // Refused by the probe, not by HAProxy.
}

// HAProxy's checks take over from the probe: a probe-admitted target whose checks then fail goes
// DOWN in HAProxy and gets no more requests (it stays admitted: that only ends with removal).
TEST_F(DataPlaneSyncTest, AProbeAdmittedTargetThatFailsHaproxysChecksGoesDown) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, Plane({TargetOf(*b1)}), 1, {"app/b1"});
  const std::optional<absl::Duration> took =
      TimeToFirstRequest(*b2, Plane({TargetOf(*b1), TargetOf(*b2)}), 2, absl::Seconds(3));
  ASSERT_TRUE(took.has_value());

  b2->SetHealthStatus(500);
  bool down = false;
  const DataPlaneReport r = reports.WaitFor(
      [](const DataPlaneReport& r) {
        const ServerStat* s = Find(r, "b2");
        return s != nullptr && absl::StartsWith(s->status, "DOWN");
      },
      &down);
  ASSERT_TRUE(down) << (Find(r, "b2") ? Find(r, "b2")->status : "no b2");
  const int before = b2->requests();
  EXPECT_THAT(Requests(10), Each("b1"));
  EXPECT_EQ(b2->requests(), before);
  EXPECT_TRUE(Has(r.admitted, "app/b2"));
}

// A TCP target group's check is a connect: the probe connects, and admits at once.
TEST_F(DataPlaneSyncTest, ANewTcpTargetIsAdmittedByAConnect) {
  auto b1 = StartBackend("b1");
  auto b2 = StartBackend("b2");
  ASSERT_NE(b2, nullptr);
  Reports reports;
  sync_ = NewSync(&reports);
  WantAndWait(reports, TcpPlane({TargetOf(*b1)}), 1, {"app/b1"});
  const std::optional<absl::Duration> took =
      TimeToFirstRequest(*b2, TcpPlane({TargetOf(*b1), TargetOf(*b2)}), 2, absl::Seconds(3));
  ASSERT_TRUE(took.has_value()) << "b2 got no request within 3 s";
  std::cout << "TCP target: Want() to first request " << *took << std::endl;
  EXPECT_LE(*took, absl::Milliseconds(1500));
  EXPECT_EQ(b2->health_checks(), 0);  // Connected to, never asked for /health.
}

// After a restart, a target the probe admitted (HAProxy has not checked it yet) is admitted from
// the start, before any probe or check, since its weight in HAProxy says so, and keeps its traffic.
TEST_F(DataPlaneSyncTest, AProbeAdmittedTargetStaysAdmittedThroughARestart) {
  auto b0 = StartBackend("b0");
  auto b1 = StartBackend("b1");
  ASSERT_NE(b1, nullptr);
  Reports first;
  sync_ = NewSync(&first);
  WantAndWait(first, Plane({TargetOf(*b0)}, AlbDefault()), 1, {"app/b0"});
  const DataPlane plane = Plane({TargetOf(*b0), TargetOf(*b1)}, AlbDefault());
  WantAndWait(first, plane, 2, {"app/b1"});
  sync_.reset();

  Reports second;
  sync_ = NewSync(&second);
  // Nothing wanted yet: the only report is the adoption's.
  bool met = false;
  const DataPlaneReport adopted =
      second.WaitFor([](const DataPlaneReport& r) { return r.running; }, &met);
  ASSERT_TRUE(met);
  EXPECT_THAT(adopted.admitted, ElementsAre("app/b0", "app/b1"));
  ASSERT_NE(Find(adopted, "b1"), nullptr);
  EXPECT_EQ(Find(adopted, "b1")->check_status, "INI");
  EXPECT_EQ(Find(adopted, "b1")->weight, 1);
  const DataPlaneReport r = WantAndWait(second, plane, 2, {"app/b0", "app/b1"});
  EXPECT_TRUE(r.status.ok()) << r.status;
  const std::vector<std::string> bodies = Requests(10);
  EXPECT_EQ(std::count(bodies.begin(), bodies.end(), "b1"), 5);
}

}  // namespace
}  // namespace skiff::lb

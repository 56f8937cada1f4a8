// DataPlaneSync's pure rules, each test "given what HAProxy runs and what is wanted, these
// steps": PlanSync (a reload, or runtime steps per server), EffectivePlane, which servers count
// as admitted, and the back-off. No HAProxy, no thread, no clock.
#include "skiff/lb/data_plane_sync.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/sync_plan.h"

namespace skiff::lb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Admitted = absl::flat_hash_set<std::string>;

Target T(const std::string& name, int port, int weight = 1) {
  return Target{.name = name, .address = "10.0.0.1", .port = port, .weight = weight};
}

Backend Group(const std::string& name, std::vector<Target> targets) {
  return Backend{.name = name,
                 .check = {.path = "/health",
                           .interval = absl::Seconds(1),
                           .timeout = absl::Milliseconds(500),
                           .healthy_threshold = 3,
                           .unhealthy_threshold = 2},
                 .targets = std::move(targets)};
}

Frontend Listener(const std::string& backend, int port = 8080) {
  return Frontend{
      .name = absl::StrCat("ln-", port),
      .address = "127.0.0.1",
      .port = port,
      .default_action = {.type = Action::Type::kForward, .forward = {{.backend = backend}}}};
}

DataPlane Plane(std::vector<Backend> backends) {
  return DataPlane{.frontends = {Listener(backends.at(0).name)}, .backends = std::move(backends)};
}

std::string StateWord(ServerAdminState state) {
  switch (state) {
    case ServerAdminState::kReady:
      return "ready";
    case ServerAdminState::kDrain:
      return "drain";
    case ServerAdminState::kMaint:
      return "maint";
  }
  return "?";
}

// The steps as lines, in the order the sync runs them.
std::vector<std::string> Steps(const SyncSteps& steps) {
  std::vector<std::string> lines;
  if (steps.reload) lines.push_back("reload");
  for (const ServerSpec& s : steps.add) {
    lines.push_back(absl::StrCat("add ", s.backend, "/", s.name, " weight ", s.weight));
  }
  for (const ServerStateChange& c : steps.set_state) {
    lines.push_back(
        absl::StrCat("state ", c.server.backend, "/", c.server.name, " ", StateWord(c.state)));
  }
  for (const ServerWeightChange& c : steps.set_weight) {
    lines.push_back(absl::StrCat("weight ", c.server.backend, "/", c.server.name, " ", c.weight));
  }
  for (const ServerRef& r : steps.remove) {
    lines.push_back(absl::StrCat("remove ", r.backend, "/", r.name));
  }
  return lines;
}

std::vector<std::string> Plan(const DataPlane& applied, const DataPlane& desired,
                              const Admitted& admitted = {}) {
  return Steps(PlanSync(applied, desired, admitted));
}

// --- PlanSync: runtime steps ---

TEST(PlanSyncTest, TheSamePlaneTakesNothing) {
  const DataPlane plane = Plane({Group("tg", {T("t1", 81), T("t2", 82)})});
  EXPECT_TRUE(PlanSync(plane, plane, {"tg/t1"}).empty());
  EXPECT_TRUE(PlanSync(DataPlane{}, DataPlane{}, {}).empty());
}

TEST(PlanSyncTest, TheOrderOfBackendsAndTargetsIsNoChange) {
  const DataPlane applied = Plane({Group("a", {T("t1", 81), T("t2", 82)}), Group("b", {})});
  DataPlane desired = applied;
  std::swap(desired.backends[0], desired.backends[1]);
  std::swap(desired.backends[1].targets[0], desired.backends[1].targets[1]);
  EXPECT_THAT(Plan(applied, desired), IsEmpty());
}

TEST(PlanSyncTest, ANewTargetIsAddedAtWeightZeroWithItsBackendsChecks) {
  Backend before = Group("tg", {T("t1", 81)});
  before.slow_start = absl::Seconds(30);
  before.check.port = 9000;
  Backend after = before;
  after.targets.push_back(T("t2", 82, 5));
  const SyncSteps steps = PlanSync(Plane({before}), Plane({after}), {"tg/t1"});
  EXPECT_THAT(Steps(steps), ElementsAre("add tg/t2 weight 0"));
  ASSERT_EQ(steps.add.size(), 1u);
  EXPECT_EQ(steps.add[0], (ServerSpec{.backend = "tg",
                                      .name = "t2",
                                      .address = "10.0.0.1",
                                      .port = 82,
                                      .weight = 0,
                                      .check = true,
                                      .interval = absl::Seconds(1),
                                      .rise = 3,
                                      .fall = 2,
                                      .check_port = 9000,
                                      .slow_start = absl::Seconds(30)}));
}

TEST(PlanSyncTest, AFailOpenTwinIsAddedAsABackupWithoutChecksAtItsWeight) {
  Target twin = T("open-t1", 81, 7);
  twin.backup = true;
  const DataPlane applied = Plane({Group("tg", {T("t1", 81, 7)})});
  const DataPlane desired = Plane({Group("tg", {T("t1", 81, 7), twin})});
  const SyncSteps steps = PlanSync(applied, desired, {});
  EXPECT_THAT(Steps(steps), ElementsAre("add tg/open-t1 weight 7"));
  ASSERT_EQ(steps.add.size(), 1u);
  EXPECT_FALSE(steps.add[0].check);
  EXPECT_TRUE(steps.add[0].backup);
  EXPECT_THAT(Plan(desired, applied), ElementsAre("remove tg/open-t1"));
  Target turned = T("t1", 81, 7);
  turned.backup = true;
  EXPECT_THAT(Plan(applied, Plane({Group("tg", {turned})})), ElementsAre("reload"));
}

TEST(PlanSyncTest, ANewTargetGetsItsWeightOnlyWhenAlreadyAdmitted) {
  const DataPlane applied = Plane({Group("tg", {})});
  const DataPlane desired = Plane({Group("tg", {T("t1", 81, 7)})});
  EXPECT_THAT(Plan(applied, desired), ElementsAre("add tg/t1 weight 0"));
  EXPECT_THAT(Plan(applied, desired, {"tg/t1"}),
              ElementsAre("add tg/t1 weight 0", "weight tg/t1 7"));
}

TEST(PlanSyncTest, ANewTargetThatDrainsOrIsInMaintenanceIsAddedInThatState) {
  Target draining = T("d", 81, 7);
  draining.draining = true;
  Target maint = T("m", 82, 7);
  maint.maintenance = true;
  const DataPlane desired = Plane({Group("tg", {draining, maint})});
  EXPECT_THAT(Plan(Plane({Group("tg", {})}), desired, {"tg/d", "tg/m"}),
              ElementsAre("add tg/d weight 0", "add tg/m weight 0", "state tg/d drain",
                          "state tg/m maint", "weight tg/m 7"));
}

TEST(PlanSyncTest, AWeightChangeIsSetOnlyOnAnAdmittedTarget) {
  const DataPlane applied = Plane({Group("tg", {T("t1", 81, 1), T("t2", 82, 1)})});
  const DataPlane desired = Plane({Group("tg", {T("t1", 81, 9), T("t2", 82, 9)})});
  EXPECT_THAT(Plan(applied, desired, {"tg/t1"}), ElementsAre("weight tg/t1 9"));
  EXPECT_THAT(Plan(applied, desired), IsEmpty());  // Both at 0 until admitted.
}

TEST(PlanSyncTest, DrainingAnAdmittedTargetDrainsItAtWeightZero) {
  const DataPlane applied = Plane({Group("tg", {T("t1", 81, 4)})});
  DataPlane desired = applied;
  desired.backends[0].targets[0].draining = true;
  EXPECT_THAT(Plan(applied, desired, {"tg/t1"}),
              ElementsAre("state tg/t1 drain", "weight tg/t1 0"));
  // Not admitted: already at 0.
  EXPECT_THAT(Plan(applied, desired), ElementsAre("state tg/t1 drain"));
  // Registered again while draining: ready, and back at its weight.
  EXPECT_THAT(Plan(desired, applied, {"tg/t1"}),
              ElementsAre("state tg/t1 ready", "weight tg/t1 4"));
}

TEST(PlanSyncTest, MaintenanceIsAStateChange) {
  const DataPlane applied = Plane({Group("tg", {T("t1", 81, 4)})});
  DataPlane desired = applied;
  desired.backends[0].targets[0].maintenance = true;
  EXPECT_THAT(Plan(applied, desired, {"tg/t1"}), ElementsAre("state tg/t1 maint"));
  EXPECT_THAT(Plan(desired, applied, {"tg/t1"}), ElementsAre("state tg/t1 ready"));
  desired.backends[0].targets[0].draining = true;  // Maintenance wins: no traffic at all.
  EXPECT_THAT(Plan(applied, desired, {"tg/t1"}),
              ElementsAre("state tg/t1 maint", "weight tg/t1 0"));
}

TEST(PlanSyncTest, ATargetNoLongerWantedIsRemoved) {
  const DataPlane applied = Plane({Group("tg", {T("t1", 81), T("t2", 82)})});
  const DataPlane desired = Plane({Group("tg", {T("t2", 82)})});
  EXPECT_THAT(Plan(applied, desired, {"tg/t1", "tg/t2"}), ElementsAre("remove tg/t1"));
}

TEST(PlanSyncTest, ChangesInSeveralBackendsComeInOneSetOfSteps) {
  const DataPlane applied = Plane({Group("a", {T("t1", 81)}), Group("b", {T("t1", 91)})});
  const DataPlane desired = Plane({Group("a", {T("t2", 82)}), Group("b", {T("t1", 91, 3)})});
  EXPECT_THAT(Plan(applied, desired, {"a/t1", "b/t1"}),
              ElementsAre("add a/t2 weight 0", "weight b/t1 3", "remove a/t1"));
}

// --- PlanSync: reloads ---

TEST(PlanSyncTest, AnyChangeToFrontendsOrRulesIsAReload) {
  const DataPlane applied = Plane({Group("tg", {T("t1", 81)})});
  DataPlane other_port = applied;
  other_port.frontends[0].port = 8081;
  EXPECT_THAT(Plan(applied, other_port), ElementsAre("reload"));
  DataPlane second = applied;
  second.frontends.push_back(Listener("tg", 9090));
  EXPECT_THAT(Plan(applied, second), ElementsAre("reload"));
  DataPlane rule = applied;
  rule.frontends[0].rules.push_back(
      Rule{.priority = 1,
           .conditions = {{.field = Condition::Field::kPathPattern, .values = {"/x"}}},
           .action = {.type = Action::Type::kFixedResponse, .status_code = 404}});
  EXPECT_THAT(Plan(applied, rule), ElementsAre("reload"));
  EXPECT_THAT(Plan(DataPlane{}, applied), ElementsAre("reload"));
  EXPECT_THAT(Plan(applied, DataPlane{}), ElementsAre("reload"));
}

TEST(PlanSyncTest, ABackendAddedRemovedOrRenamedIsAReload) {
  const DataPlane applied = Plane({Group("a", {T("t1", 81)})});
  EXPECT_THAT(Plan(applied, Plane({Group("a", {T("t1", 81)}), Group("b", {})})),
              ElementsAre("reload"));
  EXPECT_THAT(Plan(Plane({Group("a", {T("t1", 81)}), Group("b", {})}), applied),
              ElementsAre("reload"));
  DataPlane renamed = Plane({Group("c", {T("t1", 81)})});
  renamed.frontends = applied.frontends;
  EXPECT_THAT(Plan(applied, renamed), ElementsAre("reload"));
}

TEST(PlanSyncTest, AnyBackendSettingChangeIsAReload) {
  const Backend base = Group("tg", {T("t1", 81)});
  const auto plan_with = [&](auto change) {
    Backend b = base;
    change(b);
    return Plan(Plane({base}), Plane({b}), {"tg/t1"});
  };
  EXPECT_THAT(plan_with([](Backend& b) { b.check.interval = absl::Seconds(2); }),
              ElementsAre("reload"));
  EXPECT_THAT(plan_with([](Backend& b) { b.check.path = "/ready"; }), ElementsAre("reload"));
  EXPECT_THAT(plan_with([](Backend& b) { b.check.matcher = "200-299"; }), ElementsAre("reload"));
  EXPECT_THAT(plan_with([](Backend& b) { b.algorithm = Algorithm::kLeastOutstandingRequests; }),
              ElementsAre("reload"));
  EXPECT_THAT(plan_with([](Backend& b) { b.protocol = Protocol::kTcp; }), ElementsAre("reload"));
  EXPECT_THAT(plan_with([](Backend& b) { b.slow_start = absl::Seconds(30); }),
              ElementsAre("reload"));
  EXPECT_THAT(plan_with([](Backend& b) { b.stickiness = absl::Hours(1); }), ElementsAre("reload"));
}

TEST(PlanSyncTest, ATargetsNewAddressOrPortIsAReload) {
  const DataPlane applied = Plane({Group("tg", {T("t1", 81)})});
  DataPlane moved = applied;
  moved.backends[0].targets[0].address = "10.0.0.2";
  EXPECT_THAT(Plan(applied, moved, {"tg/t1"}), ElementsAre("reload"));
  DataPlane port = applied;
  port.backends[0].targets[0].port = 88;
  EXPECT_THAT(Plan(applied, port, {"tg/t1"}), ElementsAre("reload"));
}

TEST(PlanSyncTest, AnyTargetChangeInAStickyBackendIsAReload) {
  Backend sticky = Group("tg", {T("t1", 81)});
  sticky.stickiness = absl::Hours(1);
  const DataPlane applied = Plane({sticky});
  EXPECT_THAT(Plan(applied, applied, {"tg/t1"}), IsEmpty());
  DataPlane added = applied;
  added.backends[0].targets.push_back(T("t2", 82));
  EXPECT_THAT(Plan(applied, added), ElementsAre("reload"));  // `add server` refuses `cookie`.
  EXPECT_THAT(Plan(added, applied), ElementsAre("reload"));
  DataPlane reweighted = applied;
  reweighted.backends[0].targets[0].weight = 5;
  EXPECT_THAT(Plan(applied, reweighted, {"tg/t1"}), ElementsAre("reload"));
  DataPlane draining = applied;
  draining.backends[0].targets[0].draining = true;  // Its cookie goes with a reload.
  EXPECT_THAT(Plan(applied, draining, {"tg/t1"}), ElementsAre("reload"));
  // A non-sticky backend beside it still changes over the runtime API.
  DataPlane both = Plane({sticky, Group("plain", {})});
  DataPlane both_added = both;
  both_added.backends[1].targets.push_back(T("t9", 99));
  EXPECT_THAT(Plan(both, both_added), ElementsAre("add plain/t9 weight 0"));
}

TEST(PlanSyncTest, DuplicateNamesAreAReloadSoThatTheRendererNamesTheField) {
  const DataPlane applied = Plane({Group("tg", {T("t1", 81)})});
  EXPECT_THAT(Plan(applied, Plane({Group("tg", {T("t1", 81), T("t1", 82)})})),
              ElementsAre("reload"));
  DataPlane twice = Plane({Group("tg", {T("t1", 81)}), Group("tg", {T("t1", 81)})});
  EXPECT_THAT(Plan(Plane({Group("tg", {T("t1", 81)}), Group("x", {})}), twice),
              ElementsAre("reload"));
}

// --- EffectivePlane ---

TEST(EffectivePlaneTest, ATargetHasItsWeightOnlyWhenAdmittedAndNotDraining) {
  Target draining = T("d", 83, 5);
  draining.draining = true;
  Target maint = T("m", 84, 6);
  maint.maintenance = true;
  const DataPlane desired = Plane({Group("tg", {T("a", 81, 3), T("n", 82, 4), draining, maint})});
  const DataPlane effective = EffectivePlane(desired, {"tg/a", "tg/d", "tg/m", "other/n"});
  ASSERT_EQ(effective.backends.size(), 1u);
  std::vector<std::string> weights;
  for (const Target& t : effective.backends[0].targets) {
    weights.push_back(absl::StrCat(t.name, "=", t.weight));
  }
  EXPECT_THAT(weights, ElementsAre("a=3", "n=0", "d=0", "m=6"));
  // Nothing else changes.
  DataPlane same = effective;
  for (size_t i = 0; i < same.backends[0].targets.size(); ++i) {
    same.backends[0].targets[i].weight = desired.backends[0].targets[i].weight;
  }
  EXPECT_EQ(same, desired);
}

// --- Admission ---

ServerStat Stat(const std::string& backend, const std::string& name, const std::string& status,
                const std::string& check_status, int weight) {
  return ServerStat{.backend = backend,
                    .name = name,
                    .status = status,
                    .weight = weight,
                    .check_status = check_status};
}

TEST(EffectivePlaneTest, ABackupIsAtItsWeightUnadmittedAndNeverAdmittedByAPassingCheck) {
  Target twin = T("open-t1", 81, 7);
  twin.backup = true;
  const DataPlane plane = Plane({Group("tg", {twin})});
  EXPECT_EQ(EffectivePlane(plane, {}).backends[0].targets[0].weight, 7);
  ServerStat stat{.backend = "tg", .name = "open-t1", .status = "UP", .check_status = "L7OK"};
  EXPECT_THAT(Admissions(plane, {}, {stat}), ::testing::IsEmpty());
}

TEST(CheckPassedTest, OnlyTheOkStatusesOfEachLayer) {
  for (const char* ok : {"L4OK", "L6OK", "L7OK"}) EXPECT_TRUE(CheckPassed(ok)) << ok;
  for (const char* no : {"", "INI", "L7STS", "L4CON", "L4TOUT", "L7OKC", "SOCKERR"}) {
    EXPECT_FALSE(CheckPassed(no)) << no;
  }
}

TEST(SeedAdmittedTest, ServersUpAfterAPassingCheckOrAtAWeightCount) {
  const std::vector<ServerStat> servers = {
      Stat("tg", "checked", "UP", "L7OK", 0),     Stat("tg", "weighted", "UP", "INI", 1),
      Stat("tg", "waiting", "UP", "INI", 0),      Stat("tg", "down", "DOWN", "L7STS", 1),
      Stat("tg", "draining", "DRAIN", "L7OK", 0), Stat("tg", "maint", "MAINT", "", 1),
      Stat("tg", "failing", "UP 1/2", "L4OK", 0), Stat("sel", "tg", "no check", "", 256),
      Stat("tcp", "t1", "UP", "L4OK", 0),
  };
  EXPECT_THAT(SeedAdmitted(servers), UnorderedElementsAre("tg/checked", "tg/weighted",
                                                          "tg/draining", "tg/failing", "tcp/t1"));
}

TEST(AdmissionsTest, TargetsWhoseCheckPassedAreAdmittedAtTheirWeight) {
  Target draining = T("d", 84, 5);
  draining.draining = true;
  Target maint = T("m", 85, 6);
  maint.maintenance = true;
  const DataPlane applied =
      Plane({Group("tg", {T("new", 81, 3), T("old", 82, 4), T("sick", 83, 2), draining, maint}),
             Group("b", {T("new", 91, 7)})});
  const std::vector<ServerStat> servers = {
      Stat("tg", "new", "UP", "L7OK", 0),   Stat("tg", "old", "UP", "L7OK", 4),
      Stat("tg", "sick", "UP", "L7STS", 0), Stat("tg", "d", "DRAIN", "L7OK", 0),
      Stat("tg", "m", "MAINT", "L7OK", 0),  Stat("b", "new", "UP", "INI", 0),
      Stat("x", "stray", "UP", "L7OK", 0),
  };
  EXPECT_THAT(
      Admissions(applied, {"tg/old"}, servers),
      ElementsAre(ServerWeightChange{{"tg", "new"}, 3}, ServerWeightChange{{"tg", "d"}, 0}));
  EXPECT_THAT(Admissions(applied, {}, {}), IsEmpty());
}

TEST(RestartBackoffTest, DoublesFromTheMinimumUpToTheMaximum) {
  const absl::Duration min = absl::Milliseconds(200), max = absl::Seconds(30);
  EXPECT_EQ(RestartBackoff(1, min, max), absl::Milliseconds(200));
  EXPECT_EQ(RestartBackoff(2, min, max), absl::Milliseconds(400));
  EXPECT_EQ(RestartBackoff(3, min, max), absl::Milliseconds(800));
  EXPECT_EQ(RestartBackoff(8, min, max), absl::Milliseconds(25600));
  EXPECT_EQ(RestartBackoff(9, min, max), max);
  EXPECT_EQ(RestartBackoff(1000000, min, max), max);
  EXPECT_EQ(RestartBackoff(0, min, max), min);
}

}  // namespace
}  // namespace skiff::lb

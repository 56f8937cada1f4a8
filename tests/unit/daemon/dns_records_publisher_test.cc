// DnsRecordsPublisher: the records built from services' endpoints (names as DNS labels, A and
// SRV), and the writes: off the loop, coalesced (one in flight, the latest state wins), retried
// after a failure, and WhenWritten for the daemon's readiness. Manual loop and executor; the
// writer records what it is given instead of writing a file.
#include "skiff/daemon/dns_records_publisher.h"

#include <string>
#include <vector>

#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/base/clock.h"

namespace skiff::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Endpoint At(const std::string& id, const std::string& address,
            std::vector<NamedPort> ports = {}) {
  return {.task_id = id, .address = address, .ports = std::move(ports)};
}

TEST(BuildRecordsTest, NamesAreLabelsUnderTheZoneWithAAndSrvRecords) {
  EndpointsByService services;
  services[{"default", "web"}] = {
      At("t1", "10.0.0.2", {{.name = "Http_Api", .address = "10.0.0.2", .port = 8080}}),
      At("t2", "10.0.0.3", {{.name = "Http_Api", .address = "10.0.0.3", .port = 8080}})};
  services[{"Prod_1", "My_Db"}] = {};
  const discovery::Records records = BuildRecords("corp.test", services);
  EXPECT_EQ(records.zone, "corp.test");
  EXPECT_THAT(records.a.at("web.default.corp.test"), ElementsAre("10.0.0.2", "10.0.0.3"));
  // A service with no endpoint has a name and no answer.
  EXPECT_THAT(records.a.at("my-db.prod-1.corp.test"), IsEmpty());
  EXPECT_THAT(records.srv.at("_http-api._tcp.web.default.corp.test"),
              ElementsAre(discovery::SrvTarget{"10.0.0.2", 8080},
                          discovery::SrvTarget{"10.0.0.3", 8080}));
  EXPECT_THAT(records.srv, SizeIs(1));
}

TEST(BuildRecordsTest, NamesThatAreNoLabelsAndCollisionsArePublishedOnce) {
  EndpointsByService services;
  services[{"default", "-bad"}] = {At("t0", "10.0.0.1")};
  // Port names that are no labels get no SRV record; the A record stands.
  services[{"default", "a_b"}] = {
      At("t1", "10.0.0.2", {{.name = "no good", .address = "10.0.0.2", .port = 1}})};
  services[{"default", "a-b"}] = {At("t2", "10.0.0.3")};  // The same name as a_b: the first wins.
  const discovery::Records records = BuildRecords("skiff.internal", services);
  EXPECT_THAT(records.a, SizeIs(1));
  EXPECT_THAT(records.a.at("a-b.default.skiff.internal"), ElementsAre("10.0.0.3"));
  EXPECT_THAT(records.srv, IsEmpty());
}

TEST(BuildRecordsTest, ServiceConnectGathersAliasesAndClientsByNamespace) {
  ConnectByService connect;
  connect[{"default", "backend"}] = {.ns = "internal",
                                     .aliases = {{"backend", "10.213.0.1"}},
                                     .clients = {"10.213.0.5", "10.213.0.6"},
                                     .search = "default.skiff.internal"};
  connect[{"prod", "client"}] = {.ns = "internal",
                                 .clients = {"10.213.0.9"},
                                 .search = "prod.skiff.internal"};
  // The same alias in the namespace again: the first service keeps it.
  connect[{"prod", "thief"}] = {.ns = "internal", .aliases = {{"backend", "10.213.0.77"}}};
  connect[{"default", "other"}] = {.ns = "elsewhere", .aliases = {{"db", "10.213.0.1"}}};
  const discovery::Records records = BuildRecords("skiff.internal", {}, connect);
  ASSERT_THAT(records.connect, SizeIs(2));
  const discovery::ConnectNamespace& internal = records.connect.at("internal");
  EXPECT_THAT(internal.aliases, ElementsAre(std::pair<const std::string, std::string>(
                                    "backend", "10.213.0.1")));
  EXPECT_EQ(internal.clients.at("10.213.0.5"), "default.skiff.internal");
  EXPECT_EQ(internal.clients.at("10.213.0.9"), "prod.skiff.internal");
  EXPECT_THAT(internal.clients, SizeIs(3));
  EXPECT_THAT(records.connect.at("elsewhere").clients, IsEmpty());
}

class DnsRecordsPublisherTest : public ::testing::Test {
 protected:
  DnsRecordsPublisher publisher_{
      &loop_, &executor_,
      {.zone = "skiff.internal",
       .path = "/dns/records.json",
       .write = [this](const std::string& path, const discovery::Records& records) {
         EXPECT_EQ(path, "/dns/records.json");
         written_.push_back(records);
         return failure_;
       }}};

  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  std::vector<discovery::Records> written_;
  absl::Status failure_;
};

TEST_F(DnsRecordsPublisherTest, ABurstOfChangesIsOneWriteOfTheLatestState) {
  publisher_.Publish("default", "web", {At("t1", "10.0.0.2")});
  publisher_.Publish("default", "api", {});
  publisher_.Publish("default", "web", {At("t1", "10.0.0.2"), At("t2", "10.0.0.3")});
  EXPECT_THAT(written_, IsEmpty());  // Never on the loop.
  loop_.RunPending();
  executor_.RunAll();
  ASSERT_THAT(written_, SizeIs(1));
  EXPECT_THAT(written_[0].a.at("web.default.skiff.internal"), ElementsAre("10.0.0.2", "10.0.0.3"));
  EXPECT_TRUE(written_[0].a.contains("api.default.skiff.internal"));
  loop_.RunPending();
  EXPECT_EQ(publisher_.writes(), 1);
}

TEST_F(DnsRecordsPublisherTest, OneWriteInFlightAndTheLatestFollowsIt) {
  publisher_.Publish("default", "web", {At("t1", "10.0.0.2")});
  loop_.RunPending();  // The write is in flight (queued on the executor).
  publisher_.Publish("default", "web", {At("t2", "10.0.0.3")});
  publisher_.Forget("default", "web");
  publisher_.Publish("default", "api", {At("t3", "10.0.0.4")});
  loop_.RunPending();
  EXPECT_EQ(publisher_.writes(), 1);  // None starts while one is in flight.
  executor_.RunAll();
  loop_.RunPending();  // Its answer starts the next, with the state as it is now.
  executor_.RunAll();
  loop_.RunPending();
  ASSERT_THAT(written_, SizeIs(2));
  EXPECT_FALSE(written_[1].a.contains("web.default.skiff.internal"));
  EXPECT_THAT(written_[1].a.at("api.default.skiff.internal"), ElementsAre("10.0.0.4"));
  // Nothing changed since: nothing more to write.
  publisher_.Publish("default", "api", {At("t3", "10.0.0.4")});
  loop_.RunPending();
  EXPECT_EQ(executor_.RunAll(), 0);
}

TEST_F(DnsRecordsPublisherTest, WhenWrittenWaitsForTheWriteAndWritesAnEmptyZoneAtStart) {
  bool done = false;
  publisher_.WhenWritten([&done] { done = true; });
  loop_.RunPending();
  EXPECT_FALSE(done);
  executor_.RunAll();
  loop_.RunPending();
  EXPECT_TRUE(done);
  ASSERT_THAT(written_, SizeIs(1));
  EXPECT_THAT(written_[0].a, IsEmpty());  // No stale name survives a restart.

  done = false;
  publisher_.WhenWritten([&done] { done = true; });  // Nothing new: at once, through the loop.
  loop_.RunPending();
  EXPECT_TRUE(done);
}

TEST_F(DnsRecordsPublisherTest, AFailedWriteIsTriedAgainAndDoesNotHoldWaiters) {
  failure_ = absl::UnavailableError("disk full");
  bool done = false;
  publisher_.Publish("default", "web", {At("t1", "10.0.0.2")});
  publisher_.WhenWritten([&done] { done = true; });
  loop_.RunPending();
  executor_.RunAll();
  loop_.RunPending();
  EXPECT_TRUE(done);
  failure_ = absl::OkStatus();
  loop_.AdvanceTime(absl::Seconds(1));
  loop_.RunPending();
  executor_.RunAll();
  loop_.RunPending();
  ASSERT_THAT(written_, SizeIs(2));
  EXPECT_THAT(written_[1].a.at("web.default.skiff.internal"), ElementsAre("10.0.0.2"));
}

TEST_F(DnsRecordsPublisherTest, NameOfSaysWhyANameHasNoLabel) {
  EXPECT_EQ(*publisher_.NameOf("default", "My_Web"), "my-web.default.skiff.internal");
  EXPECT_TRUE(absl::IsInvalidArgument(publisher_.NameOf("default", "web_").status()));
  absl::Status cluster = publisher_.NameOf(std::string(64, 'c'), "web").status();
  EXPECT_TRUE(absl::IsInvalidArgument(cluster));
  EXPECT_THAT(std::string(cluster.message()), testing::HasSubstr("cluster"));
}

}  // namespace
}  // namespace skiff::daemon

// TableServer on a real gRPC server over a Unix socket, with a real loop: a call that arrives
// after a second without calls is answered at once. gRPC 1.51's callback API, which served the
// operation tables before ADR 0022, answered such a call only after its threads' 100 ms nap.
#include "api/grpc_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/operation_table.h"
#include "fakes/served_tables.h"
#include "fakes/service_rows.h"
#include "fakes/temp_dir.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "skiff/base/clock.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::api {
namespace {

class TableServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.Start();
    const std::string address = "unix:" + dir_.path() + "/api.sock";
    const absl::Status served = served_.Start("skiff.v1.Ecs", &table_, &loop_, address);
    ASSERT_TRUE(served.ok()) << served;
    stub_ = v1::Ecs::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    served_.Stop();
    loop_.Stop();
  }

  // One ListClusters; its time in ms, or -1 when it failed.
  double TimedCall() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ListClustersResponse response;
    const absl::Time start = absl::Now();
    const grpc::Status status = stub_->ListClusters(&context, v1::ListClustersRequest(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) return -1;
    EXPECT_EQ(response.cluster_arns_size(), 1);
    return absl::ToDoubleMilliseconds(absl::Now() - start);
  }

  fakes::TempDir dir_;
  RealClock clock_;
  scheduler::ThreadEventLoop loop_{&clock_};
  OperationTable table_{fakes::ServiceRows(
      "skiff.v1.Ecs", {.name = "ListClusters",
                       .request = &v1::ListClustersRequest::default_instance(),
                       .response = &v1::ListClustersResponse::default_instance(),
                       .run = [](const Message&) -> Reply {
                         auto response = std::make_unique<v1::ListClustersResponse>();
                         response->add_cluster_arns("arn:aws:ecs:local:000000000000:cluster/a");
                         return response;
                       }})};
  fakes::ServedTables served_;
  std::unique_ptr<v1::Ecs::Stub> stub_;
};

TEST_F(TableServerTest, ACallAfterASecondOfIdleIsAnsweredAtOnce) {
  ASSERT_GE(TimedCall(), 0);
  // Spread over 1.00-1.10 s of idle, where the callback API's threads napped.
  std::vector<double> after_idle;
  for (int i = 0; i < 6; ++i) {
    ASSERT_GE(TimedCall(), 0);
    absl::SleepFor(absl::Milliseconds(1000 + 18 * i));
    after_idle.push_back(TimedCall());
  }
  std::sort(after_idle.begin(), after_idle.end());
  const double median = (after_idle[2] + after_idle[3]) / 2;
  // A nap would put the median at 20-100 ms; an answered call takes about 1 ms, 10 on a
  // loaded sanitizer build.
  EXPECT_LT(median, 20.0) << "ms, sorted: " << after_idle.front() << " .. " << after_idle.back();
  EXPECT_GE(after_idle.front(), 0);
}

TEST_F(TableServerTest, ShutdownFinishesWithCallsAskedForAndNoneInFlight) {
  ASSERT_GE(TimedCall(), 0);
  served_.server()->Shutdown();
  served_.tables()->Shutdown();  // Returns: the calls asked for came back unused.
  served_.tables()->Shutdown();  // Twice is harmless.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::ListClustersResponse response;
  EXPECT_FALSE(stub_->ListClusters(&context, v1::ListClustersRequest(), &response).ok());
}

}  // namespace
}  // namespace skiff::api

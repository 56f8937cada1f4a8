// OnLoop, the edge between gRPC's threads and the control loop: with a stand-in server context
// and the manual loop (work runs only when the test runs the loop), then through a real
// in-process gRPC server serving a TableService, so that responses and the trailing metadata are
// seen as a client sees them.
#include "api/on_loop.h"

#include "api/elbv2_operations.h"
#include "api/grpc_service.h"
#include "api/operation_table.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes/manual_event_loop.h"
#include "fakes/served_tables.h"
#include "fakes/service_rows.h"
#include "gmock/gmock.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "skiff/base/clock.h"
#include "skiff/elbv2/v1/service.grpc.pb.h"
#include "skiff/model/errors.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// What OnLoop uses of its context (TableService's call) and reactor, recorded.
class FakeCall {
 public:
  struct Reactor {
    std::optional<grpc::Status> finished;
    int finishes = 0;
    void Finish(grpc::Status status) {
      finished = std::move(status);
      ++finishes;
    }
  };

  Reactor* DefaultReactor() { return &reactor_; }
  void AddTrailingMetadata(const std::string& key, const std::string& value) {
    trailing_.emplace(key, value);
  }

  const Reactor& reactor() const { return reactor_; }
  const std::multimap<std::string, std::string>& trailing() const { return trailing_; }

 private:
  Reactor reactor_;
  std::multimap<std::string, std::string> trailing_;
};

// A loop that is stopping: it refuses every post, as ThreadEventLoop does after Stop().
class StoppingLoop final : public scheduler::EventLoop {
 public:
  bool Post(scheduler::Work) override { return false; }
  void PostAfter(absl::Duration, scheduler::Work) override {}
  // OnLoop arms no timer; a stopping loop hands out none.
  std::unique_ptr<scheduler::Timer> CreateTimer(scheduler::TimerCallback) override {
    return nullptr;
  }
  bool IsLoopThread() const override { return false; }
};

// A backend whose ListClusters answers what the test set.
struct FakeClusters {
  absl::StatusOr<v1::ListClustersResponse> ListClusters(const v1::ListClustersRequest&) {
    ++runs;
    return answer;
  }
  absl::StatusOr<v1::ListClustersResponse> answer;
  int runs = 0;
};

class OnLoopTest : public ::testing::Test {
 protected:
  // OnLoop with a ListClusters request.
  FakeCall::Reactor* Call(scheduler::EventLoop* loop) {
    return OnLoop(loop, &call_, row_, std::make_unique<v1::ListClustersRequest>(), &wire_);
  }
  // The response as the client decodes it.
  v1::ListClustersResponse Response() {
    v1::ListClustersResponse response;
    grpc::ByteBuffer wire(wire_);
    EXPECT_TRUE(
        grpc::SerializationTraits<Message>::Deserialize(&wire, &response).ok());
    return response;
  }

  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
  FakeCall call_;
  FakeClusters clusters_;
  Operation row_ = Row("ListClusters", &clusters_, &FakeClusters::ListClusters);
  grpc::ByteBuffer wire_;
};

TEST_F(OnLoopTest, TheOperationRunsOnlyWhenTheLoopRunsThenTheCallFinishes) {
  v1::ListClustersResponse answer;
  answer.add_cluster_arns("arn:aws:ecs:local:000000000000:cluster/default");
  clusters_.answer = answer;
  FakeCall::Reactor* reactor = Call(&loop_);
  EXPECT_EQ(reactor, call_.DefaultReactor());
  EXPECT_EQ(clusters_.runs, 0);
  EXPECT_FALSE(call_.reactor().finished.has_value());

  EXPECT_EQ(loop_.RunPending(), 1);
  EXPECT_EQ(clusters_.runs, 1);
  ASSERT_TRUE(call_.reactor().finished.has_value());
  EXPECT_TRUE(call_.reactor().finished->ok());
  EXPECT_EQ(call_.reactor().finishes, 1);
  EXPECT_THAT(Response().cluster_arns(),
              ElementsAre("arn:aws:ecs:local:000000000000:cluster/default"));
  EXPECT_THAT(call_.trailing(), IsEmpty());
}

struct HandlerError {
  absl::Status status;
  grpc::StatusCode code;
  const char* exception;
};

class OnLoopErrorTest : public OnLoopTest, public ::testing::WithParamInterface<HandlerError> {};

TEST_P(OnLoopErrorTest, AHandlersErrorFinishesTheCallWithItsCodeAndExceptionName) {
  const HandlerError& e = GetParam();
  clusters_.answer = e.status;
  Call(&loop_);
  EXPECT_FALSE(call_.reactor().finished.has_value());
  loop_.RunPending();
  ASSERT_TRUE(call_.reactor().finished.has_value());
  EXPECT_EQ(call_.reactor().finished->error_code(), e.code);
  EXPECT_EQ(call_.reactor().finished->error_message(), e.status.message());
  EXPECT_THAT(call_.trailing(), ElementsAre(Pair("skiff-exception", e.exception)));
  EXPECT_EQ(call_.reactor().finishes, 1);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, OnLoopErrorTest,
    ::testing::Values(
        HandlerError{model::EcsError(absl::StatusCode::kInvalidArgument,
                                     model::kInvalidParameterException,
                                     "containerDefinitions[0].memory: must be at least 6 MiB"),
                     grpc::StatusCode::INVALID_ARGUMENT, "InvalidParameterException"},
        HandlerError{absl::InvalidArgumentError("desiredCount: must not be negative"),
                     grpc::StatusCode::INVALID_ARGUMENT, "InvalidParameterException"},
        HandlerError{model::EcsError(absl::StatusCode::kNotFound,
                                     model::kClusterNotFoundException, "Cluster not found."),
                     grpc::StatusCode::NOT_FOUND, "ClusterNotFoundException"},
        HandlerError{absl::NotFoundError("task definition web:9 not found"),
                     grpc::StatusCode::NOT_FOUND, "ClientException"},
        HandlerError{absl::FailedPreconditionError("service web is draining"),
                     grpc::StatusCode::FAILED_PRECONDITION, "ClientException"},
        HandlerError{absl::AlreadyExistsError("service web exists"),
                     grpc::StatusCode::ALREADY_EXISTS, "ClientException"},
        HandlerError{absl::UnavailableError("containerd unavailable"),
                     grpc::StatusCode::UNAVAILABLE, "ServerException"},
        HandlerError{absl::InternalError("store: disk I/O error"), grpc::StatusCode::INTERNAL,
                     "ServerException"}));

TEST_F(OnLoopTest, ALoopThatRefusesThePostFinishesTheCallUnavailableAtOnce) {
  StoppingLoop stopping;
  Call(&stopping);
  EXPECT_EQ(clusters_.runs, 0);
  ASSERT_TRUE(call_.reactor().finished.has_value());
  EXPECT_EQ(call_.reactor().finished->error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(call_.reactor().finished->error_message(), "skiffd is shutting down");
  EXPECT_THAT(call_.trailing(), ElementsAre(Pair("skiff-exception", "ServerException")));
}

// skiff.v1.Ecs, with ListClusters answered by the fake.
std::vector<Operation> EcsRows(FakeClusters* clusters) {
  return fakes::ServiceRows("skiff.v1.Ecs",
                            Row("ListClusters", clusters, &FakeClusters::ListClusters));
}

TEST(TableServiceTest, EveryMethodOfTheServiceNeedsARowOfItsTypes) {
  FakeClusters clusters;
  SimulatedClock clock;
  fakes::ManualEventLoop loop(&clock);
  std::vector<Operation> rows = EcsRows(&clusters);
  OperationTable complete(rows);
  EXPECT_TRUE(TableService::Create("skiff.v1.Ecs", &complete, &loop).ok());

  std::erase_if(rows, [](const Operation& row) { return row.name == "RunTask"; });
  OperationTable missing(rows);
  absl::StatusOr<std::unique_ptr<TableService>> service =
      TableService::Create("skiff.v1.Ecs", &missing, &loop);
  EXPECT_EQ(service.status().message(), "skiff.v1.Ecs.RunTask has no operation row");

  rows.push_back(Row("RunTask", &clusters, &FakeClusters::ListClusters));
  OperationTable mistyped(rows);
  service = TableService::Create("skiff.v1.Ecs", &mistyped, &loop);
  EXPECT_EQ(service.status().message(),
            "skiff.v1.Ecs.RunTask: the row's request or response type differs");
  EXPECT_FALSE(TableService::Create("skiff.v1.Nope", &complete, &loop).ok());
}

class OnLoopOverGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.Start();
    const absl::Status served = served_.Start("skiff.v1.Ecs", &table_, &loop_);
    ASSERT_TRUE(served.ok()) << served;
    stub_ = v1::Ecs::NewStub(served_.server()->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    served_.Stop();
    loop_.Stop();
  }

  // The call's status and its skiff-exception trailer ("" when none).
  std::pair<grpc::Status, std::string> Call(v1::ListClustersResponse* response) {
    grpc::ClientContext context;
    const grpc::Status status = stub_->ListClusters(&context, v1::ListClustersRequest(), response);
    std::string exception;
    for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
      if (key == model::kExceptionMetadataKey) exception.assign(value.data(), value.size());
    }
    return {status, exception};
  }

  RealClock clock_;
  scheduler::ThreadEventLoop loop_{&clock_};
  FakeClusters clusters_;
  OperationTable table_{EcsRows(&clusters_)};
  fakes::ServedTables served_;
  std::unique_ptr<v1::Ecs::Stub> stub_;
};

TEST_F(OnLoopOverGrpcTest, TheClientSeesTheResponseTheCodeAndTheExceptionTrailer) {
  v1::ListClustersResponse answer;
  answer.add_cluster_arns("arn:aws:ecs:local:000000000000:cluster/default");
  clusters_.answer = answer;
  v1::ListClustersResponse response;
  auto [ok, no_exception] = Call(&response);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(no_exception, "");
  EXPECT_THAT(response.cluster_arns(),
              ElementsAre("arn:aws:ecs:local:000000000000:cluster/default"));

  clusters_.answer = model::EcsError(absl::StatusCode::kNotFound,
                                     model::kClusterNotFoundException, "Cluster not found.");
  auto [missing, exception] = Call(&response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(), "Cluster not found.");
  EXPECT_EQ(exception, "ClusterNotFoundException");
}

TEST_F(OnLoopOverGrpcTest, ACallWhileTheLoopStopsIsUnavailable) {
  loop_.Stop();
  v1::ListClustersResponse response;
  auto [status, exception] = Call(&response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "skiffd is shutting down");
  EXPECT_EQ(exception, "ServerException");
}

TEST(Elbv2OperationsTest, EveryMethodOfTheElbv2ServiceHasARowOfItsTypes) {
  SimulatedClock clock;
  fakes::ManualEventLoop loop(&clock);
  // A row keeps the manager to call when it runs; making the table and the service calls nothing,
  // so no manager (which needs a store and a data plane) is needed to check the rows.
  const OperationTable table = Elbv2Operations(nullptr);
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("skiff.elbv2.v1.Elbv2");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(table.rows().size(), static_cast<size_t>(service->method_count()));
  EXPECT_EQ(table.rows().size(), 23u);
  absl::StatusOr<std::unique_ptr<TableService>> served =
      TableService::Create("skiff.elbv2.v1.Elbv2", &table, &loop);
  EXPECT_TRUE(served.ok()) << served.status();
}

// A backend whose DescribeTargetGroups answers what the test set.
struct FakeTargetGroups {
  absl::StatusOr<elbv2::v1::DescribeTargetGroupsOutput> DescribeTargetGroups(
      const elbv2::v1::DescribeTargetGroupsInput&) {
    return answer;
  }
  absl::StatusOr<elbv2::v1::DescribeTargetGroupsOutput> answer;
};

// skiff.elbv2.v1.Elbv2 through a real in-process gRPC server: ELBv2's error codes reach the client
// in the trailer that carries ECS's exception names.
class Elbv2OverGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.Start();
    const absl::Status served = served_.Start("skiff.elbv2.v1.Elbv2", &table_, &loop_);
    ASSERT_TRUE(served.ok()) << served;
    stub_ = elbv2::v1::Elbv2::NewStub(served_.server()->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    served_.Stop();
    loop_.Stop();
  }

  // The call's status and its skiff-exception trailer ("" when none).
  std::pair<grpc::Status, std::string> Call(elbv2::v1::DescribeTargetGroupsOutput* response) {
    grpc::ClientContext context;
    const grpc::Status status =
        stub_->DescribeTargetGroups(&context, elbv2::v1::DescribeTargetGroupsInput(), response);
    std::string exception;
    for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
      if (key == model::kExceptionMetadataKey) exception.assign(value.data(), value.size());
    }
    return {status, exception};
  }

  RealClock clock_;
  scheduler::ThreadEventLoop loop_{&clock_};
  FakeTargetGroups groups_;
  OperationTable table_{fakes::ServiceRows(
      "skiff.elbv2.v1.Elbv2",
      Row("DescribeTargetGroups", &groups_, &FakeTargetGroups::DescribeTargetGroups))};
  fakes::ServedTables served_;
  std::unique_ptr<elbv2::v1::Elbv2::Stub> stub_;
};

TEST_F(Elbv2OverGrpcTest, TheClientSeesTheResponseAndTheElbv2ErrorCode) {
  elbv2::v1::DescribeTargetGroupsOutput answer;
  answer.add_target_groups()->set_target_group_name("web");
  groups_.answer = answer;
  elbv2::v1::DescribeTargetGroupsOutput response;
  auto [ok, no_exception] = Call(&response);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(no_exception, "");
  ASSERT_EQ(response.target_groups_size(), 1);
  EXPECT_EQ(response.target_groups(0).target_group_name(), "web");

  groups_.answer = model::EcsError(absl::StatusCode::kNotFound, "TargetGroupNotFound",
                                   "One or more target groups not found");
  auto [missing, not_found] = Call(&response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(), "One or more target groups not found");
  EXPECT_EQ(not_found, "TargetGroupNotFound");

  groups_.answer = model::EcsError(absl::StatusCode::kInvalidArgument, "ValidationError",
                                   "PageSize: must be 1-400; got 0");
  auto [invalid, validation] = Call(&response);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(validation, "ValidationError");
}

}  // namespace
}  // namespace skiff::api

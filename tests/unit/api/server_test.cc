// OnLoop, the edge between gRPC's threads and the control loop: with a stand-in server context
// and the manual loop (work runs only when the test runs the loop), then once through a real
// in-process gRPC server, so that the trailing metadata is seen as a client sees it.
#include "api/on_loop.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes/manual_event_loop.h"
#include "gmock/gmock.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "skiff/base/clock.h"
#include "skiff/model/errors.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

// What OnLoop uses of grpc::CallbackServerContext and its reactor, recorded.
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

class OnLoopTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
  FakeCall call_;
  v1::ListClustersResponse response_;
};

TEST_F(OnLoopTest, TheOperationRunsOnlyWhenTheLoopRunsThenTheCallFinishes) {
  int runs = 0;
  FakeCall::Reactor* reactor =
      OnLoop(&loop_, &call_, &response_, [&runs]() -> absl::StatusOr<v1::ListClustersResponse> {
        ++runs;
        v1::ListClustersResponse response;
        response.add_cluster_arns("arn:aws:ecs:local:000000000000:cluster/default");
        return response;
      });
  EXPECT_EQ(reactor, call_.DefaultReactor());
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(call_.reactor().finished.has_value());

  EXPECT_EQ(loop_.RunPending(), 1);
  EXPECT_EQ(runs, 1);
  ASSERT_TRUE(call_.reactor().finished.has_value());
  EXPECT_TRUE(call_.reactor().finished->ok());
  EXPECT_EQ(call_.reactor().finishes, 1);
  EXPECT_THAT(response_.cluster_arns(),
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
  OnLoop(&loop_, &call_, &response_,
         [&e]() -> absl::StatusOr<v1::ListClustersResponse> { return e.status; });
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
  bool ran = false;
  OnLoop(&stopping, &call_, &response_, [&ran]() -> absl::StatusOr<v1::ListClustersResponse> {
    ran = true;
    return v1::ListClustersResponse();
  });
  EXPECT_FALSE(ran);
  ASSERT_TRUE(call_.reactor().finished.has_value());
  EXPECT_EQ(call_.reactor().finished->error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(call_.reactor().finished->error_message(), "skiffd is shutting down");
  EXPECT_THAT(call_.trailing(), ElementsAre(Pair("skiff-exception", "ServerException")));
}

// The same edge with grpc's own context and reactor, through an in-process channel (no socket,
// no port) and the production loop thread.
class FakeEcs final : public v1::Ecs::CallbackService {
 public:
  explicit FakeEcs(scheduler::EventLoop* loop) : loop_(loop) {}

  grpc::ServerUnaryReactor* ListClusters(grpc::CallbackServerContext* context,
                                         const v1::ListClustersRequest* /*request*/,
                                         v1::ListClustersResponse* response) override {
    return OnLoop(loop_, context, response, [this] { return answer_; });
  }

  // Set before a call; read on the loop thread, which the post orders after the write.
  absl::StatusOr<v1::ListClustersResponse> answer_;

 private:
  scheduler::EventLoop* loop_;
};

class OnLoopOverGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.Start();
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Ecs::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
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
  FakeEcs service_{&loop_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Ecs::Stub> stub_;
};

TEST_F(OnLoopOverGrpcTest, TheClientSeesTheResponseTheCodeAndTheExceptionTrailer) {
  v1::ListClustersResponse answer;
  answer.add_cluster_arns("arn:aws:ecs:local:000000000000:cluster/default");
  service_.answer_ = answer;
  v1::ListClustersResponse response;
  auto [ok, no_exception] = Call(&response);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(no_exception, "");
  EXPECT_THAT(response.cluster_arns(),
              ElementsAre("arn:aws:ecs:local:000000000000:cluster/default"));

  service_.answer_ = model::EcsError(absl::StatusCode::kNotFound,
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

}  // namespace
}  // namespace skiff::api

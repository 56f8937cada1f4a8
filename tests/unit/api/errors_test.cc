// The error edge: which gRPC code and ECS exception name a status becomes on the wire. The
// exception name is what OnLoop puts in the trailing metadata (model::EcsExceptionName).
#include "skiff/api/errors.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"

namespace skiff::api {
namespace {

struct Mapping {
  absl::StatusCode code;
  grpc::StatusCode grpc_code;
  const char* exception;  // Of a status that names none.
};

class ErrorMappingTest : public ::testing::TestWithParam<Mapping> {};

TEST_P(ErrorMappingTest, CodeAndExceptionName) {
  const Mapping& m = GetParam();
  const absl::Status status(m.code, "what went wrong");
  EXPECT_EQ(ToGrpcCode(m.code), m.grpc_code);
  const grpc::Status converted = ToGrpcStatus(status);
  EXPECT_EQ(converted.error_code(), m.grpc_code);
  EXPECT_EQ(converted.error_message(), "what went wrong");
  EXPECT_EQ(model::EcsExceptionName(status), m.exception);
}

// What the caller should do next decides the code; ECS's names follow: the request is wrong
// (InvalidParameterException), the request does not fit the state (ClientException), or the
// node failed (ServerException).
INSTANTIATE_TEST_SUITE_P(
    EveryCode, ErrorMappingTest,
    ::testing::Values(
        Mapping{absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT,
                "InvalidParameterException"},
        Mapping{absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND, "ClientException"},
        Mapping{absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS,
                "ClientException"},
        Mapping{absl::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION,
                "ClientException"},
        Mapping{absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE, "ServerException"},
        Mapping{absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED,
                "ServerException"},
        Mapping{absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED,
                "ServerException"},
        Mapping{absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED,
                "ServerException"},
        Mapping{absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL, "ServerException"},
        Mapping{absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS, "ServerException"},
        Mapping{absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED, "ServerException"},
        Mapping{absl::StatusCode::kAborted, grpc::StatusCode::ABORTED, "ServerException"},
        Mapping{absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE, "ServerException"},
        Mapping{absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED,
                "ServerException"},
        Mapping{absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED,
                "ServerException"},
        Mapping{absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN, "ServerException"}));

TEST(ErrorsTest, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(ToGrpcCode(absl::StatusCode::kOk), grpc::StatusCode::OK);
}

TEST(ErrorsTest, AnExceptionNameCarriedInTheStatusWinsOverTheCodesDefault) {
  const absl::Status invalid = model::EcsError(
      absl::StatusCode::kInvalidArgument, model::kClientException,
      "containerDefinitions[0].portMappings[1].hostPort: 70000 is not a port");
  const grpc::Status converted = ToGrpcStatus(invalid);
  EXPECT_EQ(converted.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(converted.error_message(),
            "containerDefinitions[0].portMappings[1].hostPort: 70000 is not a port");
  EXPECT_EQ(model::EcsExceptionName(invalid), "ClientException");

  const absl::Status missing = model::EcsError(absl::StatusCode::kNotFound,
                                               model::kClusterNotFoundException, "Cluster not found.");
  EXPECT_EQ(ToGrpcStatus(missing).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(model::EcsExceptionName(missing), "ClusterNotFoundException");

  const absl::Status busy =
      model::EcsError(absl::StatusCode::kFailedPrecondition,
                      model::kClusterContainsTasksException, "The cluster has tasks.");
  EXPECT_EQ(ToGrpcStatus(busy).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(model::EcsExceptionName(busy), "ClusterContainsTasksException");

  // Tagging keeps the code and message; OK stays OK.
  const absl::Status tagged = model::WithEcsException(
      absl::AlreadyExistsError("service web exists"), model::kInvalidParameterException);
  EXPECT_EQ(ToGrpcStatus(tagged).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(model::EcsExceptionName(tagged), "InvalidParameterException");
  EXPECT_TRUE(model::WithEcsException(absl::OkStatus(), model::kClientException).ok());
}

// The message travels in a header: a huge one is cut so that the real error, not a transport
// error about metadata size, reaches the client.
TEST(ErrorsTest, LongMessagesAreCut) {
  const grpc::Status exact = ToGrpcStatus(absl::InternalError(std::string(2048, 'x')));
  EXPECT_EQ(exact.error_message(), std::string(2048, 'x'));
  const grpc::Status cut = ToGrpcStatus(absl::InternalError(std::string(5000, 'y')));
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(cut.error_message(), std::string(2048, 'y') + "...");
}

}  // namespace
}  // namespace skiff::api

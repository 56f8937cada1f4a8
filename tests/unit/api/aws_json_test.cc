// AwsJsonApi, the AWS JSON 1.1 protocol, called as the HTTP server calls it: requests signed as
// the AWS CLI signs them (aws::SignV4, pinned against botocore in aws_test), a table of fake
// rows, the manual loop and simulated time. What a client sees: status, __type, message, the
// response JSON and the request id.
#include "api/aws_json.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/operation_table.h"
#include "fakes/manual_event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/model/errors.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::api {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

const aws::Credential kKey{"AKIASKIFFTESTKEY0001", "c2tpZmYtdGVzdC1zZWNyZXQta2V5LW5vdC1yZWFsMDA"};

// Backends whose answers the test sets.
struct FakeEcs {
  absl::StatusOr<v1::ListClustersResponse> ListClusters(const v1::ListClustersRequest& request) {
    last_max_results = request.has_max_results() ? request.max_results() : -1;
    return clusters;
  }
  absl::StatusOr<v1::DescribeServicesResponse> DescribeServices(
      const v1::DescribeServicesRequest&) {
    return services;
  }
  absl::StatusOr<v1::ListClustersResponse> clusters = v1::ListClustersResponse();
  absl::StatusOr<v1::DescribeServicesResponse> services = v1::DescribeServicesResponse();
  int last_max_results = 0;
};

class AwsJsonTest : public ::testing::Test {
 protected:
  // A request as the AWS CLI sends it, signed at the clock's time.
  HttpRequest Request(const std::string& operation, const std::string& body,
                      const aws::Credential& key = kKey, const std::string& service = "ecs",
                      const std::string& method = "POST") {
    aws::SignedRequest signed_request{
        .method = method,
        .path = "/",
        .headers = {{"Host", "127.0.0.1:7557"},
                    {"Content-Type", "application/x-amz-json-1.1"},
                    {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113." + operation}},
        .body = body};
    aws::SignV4(signed_request, key, "us-west-2", service, clock_.Now());
    return {.method = method, .path = "/", .headers = signed_request.headers, .body = body};
  }

  // Handles the request and runs the loop: the answer.
  HttpResponse Send(HttpRequest request) {
    std::optional<HttpResponse> answer;
    api_.Handle(std::move(request), [&answer](HttpResponse response) {
      EXPECT_FALSE(answer.has_value()) << "answered twice";
      if (response.render_body) response.body = response.render_body();  // As the server does.
      answer = std::move(response);
    });
    loop_.RunPending();
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(HttpResponse{.status = 0});
  }

  static std::string HeaderOf(const HttpResponse& response, const std::string& name) {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return "";
  }

  // The error an answer carries: {status, __type, message}.
  static std::tuple<int, std::string, std::string> ErrorOf(const HttpResponse& response) {
    const json body = json::parse(response.body, nullptr, false);
    if (!body.is_object()) return {response.status, "not JSON", response.body};
    return {response.status, body.value("__type", ""), body.value("message", "")};
  }

  SimulatedClock clock_{absl::FromUnixSeconds(1796000000)};
  fakes::ManualEventLoop loop_{&clock_};
  SeededRandom random_{7};
  FakeEcs ecs_;
  OperationTable table_{std::vector<Operation>{
      Row("ListClusters", &ecs_, &FakeEcs::ListClusters),
      Row("DescribeServices", &ecs_, &FakeEcs::DescribeServices)}};
  AwsJsonApi api_{{EcsService(&table_)},
                  &loop_,
                  {.keys = {kKey}, .clock = &clock_, .random = &random_}};
};

TEST_F(AwsJsonTest, ASignedRequestGetsTheResponseJsonWithEveryListAndARequestId) {
  v1::ListClustersResponse clusters;
  clusters.add_cluster_arns("arn:aws:ecs:local:000000000000:cluster/default");
  ecs_.clusters = clusters;
  const HttpResponse answer = Send(Request("ListClusters", R"({"maxResults": 5})"));
  EXPECT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(ecs_.last_max_results, 5);
  EXPECT_EQ(json::parse(answer.body),
            json::parse(R"({"clusterArns": ["arn:aws:ecs:local:000000000000:cluster/default"]})"));
  EXPECT_EQ(HeaderOf(answer, "Content-Type"), "application/x-amz-json-1.1");
  EXPECT_EQ(HeaderOf(answer, "x-amzn-RequestId").size(), 36u);

  // ECS returns empty lists, which scripts index: `jq '.services[]'`.
  const HttpResponse empty = Send(Request("DescribeServices", R"({"services": ["web"]})"));
  EXPECT_EQ(json::parse(empty.body), json::parse(R"({"services": [], "failures": []})"));
  // An empty body is an empty request.
  EXPECT_EQ(Send(Request("ListClusters", "")).status, 200);
}

TEST_F(AwsJsonTest, AnIdempotencyTokenTheShapesLackIsDroppedAndNothingElse) {
  // ListClustersRequest has no clientToken, as RunTaskRequest (2022) has none.
  EXPECT_EQ(Send(Request("ListClusters", R"({"clientToken": "abc", "maxResults": 2})")).status,
            200);
  EXPECT_EQ(ecs_.last_max_results, 2);
  EXPECT_EQ(std::get<1>(ErrorOf(Send(Request("ListClusters", R"({"color": "red"})")))),
            "InvalidParameterException");
}

TEST_F(AwsJsonTest, ErrorsCarryTheExceptionNameAndAwssHttpStatus) {
  ecs_.clusters = model::EcsError(absl::StatusCode::kNotFound, model::kClusterNotFoundException,
                                  "Cluster not found.");
  EXPECT_EQ(ErrorOf(Send(Request("ListClusters", "{}"))),
            std::make_tuple(400, "ClusterNotFoundException", "Cluster not found."));
  ecs_.clusters = absl::InternalError("store: disk I/O error");
  EXPECT_EQ(ErrorOf(Send(Request("ListClusters", "{}"))),
            std::make_tuple(500, "ServerException", "store: disk I/O error"));
}

TEST_F(AwsJsonTest, BadBodiesAreTheClientsErrorNamingWhatIsWrong) {
  auto [status, type, message] = ErrorOf(Send(Request("ListClusters", "{\"maxResults\": ")));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(type, "SerializationException");
  std::tie(status, type, message) =
      ErrorOf(Send(Request("ListClusters", R"({"maxResults": "five"})")));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(type, "InvalidParameterException");
  EXPECT_THAT(message, HasSubstr("maxResults"));
  std::tie(status, type, message) = ErrorOf(Send(Request("ListClusters", "[1, 2]")));
  EXPECT_EQ(status, 400);
  EXPECT_NE(type, "");
  // A number beyond a double once threw out of the parser and ended skiffd.
  std::tie(status, type, message) =
      ErrorOf(Send(Request("ListClusters", R"({"maxResults": 1e999})")));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(type, "SerializationException");
  EXPECT_THAT(message, HasSubstr("number overflow"));
}

TEST_F(AwsJsonTest, UnknownTargetsAndMethodsAreUnknownOperations) {
  auto [status, type, message] = ErrorOf(Send(Request("LaunchRockets", "{}")));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(type, "UnknownOperationException");
  EXPECT_THAT(message, HasSubstr("LaunchRockets"));

  const HttpRequest get = Request("ListClusters", "{}", kKey, "ecs", "GET");
  EXPECT_EQ(std::get<1>(ErrorOf(Send(get))), "UnknownOperationException");
}

// Error messages quote what the client sent; bytes that are not UTF-8 once made the JSON
// encoder throw on the HTTP server's thread, before any signature was checked.
TEST_F(AwsJsonTest, ErrorsQuotingBytesThatAreNotUtf8AreStillJson) {
  HttpRequest garbled = Request("ListClusters", "{}");
  for (auto& [name, value] : garbled.headers) {
    if (name == "Authorization") value = "AWS4-HMAC-SHA256 \xff\xfe";
  }
  auto [status, type, message] = ErrorOf(Send(garbled));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(type, "IncompleteSignatureException");
  EXPECT_THAT(message, HasSubstr("\xEF\xBF\xBD"));  // U+FFFD in place of each bad byte.

  std::tie(status, type, message) = ErrorOf(Send(Request("List\xe2\x28" "Clusters", "{}")));
  EXPECT_EQ(status, 400);
  EXPECT_EQ(type, "UnknownOperationException");
}

TEST_F(AwsJsonTest, RequestsWithoutAValidSignatureNeverReachTheLoop) {
  ecs_.clusters = absl::InternalError("must not run");
  HttpRequest unsigned_request = Request("ListClusters", "{}");
  std::erase_if(unsigned_request.headers,
                [](const auto& header) { return header.first == "Authorization"; });
  EXPECT_EQ(ErrorOf(Send(unsigned_request)),
            std::make_tuple(400, "MissingAuthenticationTokenException",
                            "Missing Authentication Token"));

  HttpRequest tampered = Request("ListClusters", "{}");
  tampered.body = R"({"maxResults": 1})";
  EXPECT_EQ(std::get<1>(ErrorOf(Send(tampered))), "InvalidSignatureException");

  const aws::Credential stranger{"AKIASTRANGERKEY00001", kKey.secret_access_key};
  EXPECT_EQ(std::get<1>(ErrorOf(Send(Request("ListClusters", "{}", stranger)))),
            "UnrecognizedClientException");

  HttpRequest old = Request("ListClusters", "{}");
  clock_.Advance(absl::Minutes(16));
  auto [status, type, message] = ErrorOf(Send(old));
  EXPECT_EQ(type, "InvalidSignatureException");
  EXPECT_THAT(message, HasSubstr("Signature expired"));

  // A key scoped to another service does not sign ECS requests.
  std::tie(status, type, message) = ErrorOf(Send(Request("ListClusters", "{}", kKey, "ssm")));
  EXPECT_EQ(status, 400);
  EXPECT_THAT(message, HasSubstr("ecs"));
}

}  // namespace
}  // namespace skiff::api

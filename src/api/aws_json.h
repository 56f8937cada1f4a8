// AwsJsonApi: the AWS JSON 1.1 protocol, as botocore and the AWS SDKs speak it, over HttpServer.
// A request is `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body, signed with
// SigV4 by a key of the credentials file. The prefix picks an AWS service (ECS:
// AmazonEC2ContainerServiceV20141113) and the operation a row of its OperationTable, which runs
// on the loop as it does for gRPC. Answers are the response's JSON, or an error
// `{"__type": NAME, "message": TEXT}` with the HTTP status AWS uses; every answer has an
// x-amzn-RequestId. Private to the api component; Handle runs on the HTTP server's thread.
#ifndef SKIFF_SRC_API_AWS_JSON_H_
#define SKIFF_SRC_API_AWS_JSON_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "api/http_server.h"
#include "skiff/metrics/metrics.h"
#include "api/operation_table.h"
#include "skiff/aws/sigv4.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::api {

struct AwsService {
  std::string target_prefix;  // "AmazonEC2ContainerServiceV20141113"
  std::string signing_name;   // The SigV4 scope's service: "ecs"
  const OperationTable* operations;
  // Exceptions that are the server's fault (HTTP 500); every other one is the client's (400).
  absl::flat_hash_set<std::string> server_faults;
  // The exception of a request whose JSON does not fit the operation's shape (an unknown
  // member, a wrong type); "" for InvalidParameterException, ECS's.
  std::string invalid_request;
};

// The ECS service over `operations`.
AwsService EcsService(const OperationTable* operations);

class AwsJsonApi {
 public:
  struct Options {
    std::vector<aws::Credential> keys;  // The keys requests may be signed with.
    const Clock* clock;                 // Thread-safe: the signature's age.
    RandomSource* random;               // Thread-safe: request ids.
    metrics::Metrics* metrics = nullptr;         // Records every call (transport "http") when set.
  };

  AwsJsonApi(std::vector<AwsService> services, scheduler::EventLoop* loop, Options options);

  // The HttpHandler.
  void Handle(HttpRequest request, Respond respond) const;
  // The HTTP server's refusals (a body too large, a request cut off by shutdown) as AWS errors.
  HttpResponse Refusal(int status, std::string message) const;

 private:
  struct Route {
    const AwsService* service = nullptr;
    const Operation* operation = nullptr;
  };
  // The service and operation X-Amz-Target names, or an UnknownOperationException.
  absl::StatusOr<Route> RouteOf(const HttpRequest& request) const;
  absl::Status Authenticate(const HttpRequest& request, const AwsService* service) const;
  // The answer to a failed request.
  HttpResponse Error(const absl::Status& status, const AwsService* service,
                     const std::string& request_id) const;

  std::vector<AwsService> services_;
  scheduler::EventLoop* loop_;
  Options options_;
};

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_AWS_JSON_H_

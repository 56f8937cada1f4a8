#include "api/aws_json.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "nlohmann/json.hpp"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::api {
namespace {

constexpr char kUnknownOperation[] = "UnknownOperationException";
constexpr char kSerialization[] = "SerializationException";
constexpr char kContentType[] = "application/x-amz-json-1.1";

absl::Status AwsError(absl::string_view type, absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, type, message);
}

// An error's JSON text. Its message may quote what the client sent (an X-Amz-Target, an
// Authorization header), which can be any bytes: invalid UTF-8 becomes U+FFFD instead of a
// type_error thrown on the HTTP server's thread, which ended skiffd (found by aws_request_fuzz).
std::string ErrorBody(const std::string& type, absl::string_view message) {
  const nlohmann::ordered_json body = {{"__type", type}, {"message", message}};
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

HttpResponse Json(int status, const std::string& request_id, std::string body) {
  return {.status = status,
          .headers = {{"Content-Type", kContentType}, {"x-amzn-RequestId", request_id}},
          .body = std::move(body)};
}

// Current SDKs fill in RunTask's idempotency token (clientToken) by themselves, and the ECS
// shapes here are from 2022, before RunTask had one: a request would be refused for a member its
// user never wrote. Until the shapes are today's (issue 22), such a token is dropped, which
// makes a retried RunTask start its tasks again, as it did before ECS had tokens.
void DropTokensOfNewerClients(const Message& request, nlohmann::ordered_json& json) {
  if (json.is_object() && json.contains("clientToken") &&
      request.GetDescriptor()->FindFieldByName("client_token") == nullptr) {
    json.erase("clientToken");
  }
}

}  // namespace

AwsService EcsService(const OperationTable* operations) {
  return {.target_prefix = "AmazonEC2ContainerServiceV20141113",
          .signing_name = "ecs",
          .operations = operations,
          .server_faults = {std::string(model::kServerException)}};
}

AwsJsonApi::AwsJsonApi(std::vector<AwsService> services, scheduler::EventLoop* loop,
                       Options options)
    : services_(std::move(services)), loop_(loop), options_(std::move(options)) {}

absl::StatusOr<AwsJsonApi::Route> AwsJsonApi::RouteOf(const HttpRequest& request) const {
  if (request.method != "POST" || request.path != "/") {
    return AwsError(kUnknownOperation,
                    absl::StrCat("no operation at ", request.method, " ", request.path,
                                 "; AWS JSON requests are POST /"));
  }
  const std::string* target = request.Header("X-Amz-Target");
  if (target == nullptr) return AwsError(kUnknownOperation, "X-Amz-Target is missing");
  const size_t dot = target->rfind('.');
  const std::string prefix = dot == std::string::npos ? "" : target->substr(0, dot);
  const std::string name = dot == std::string::npos ? *target : target->substr(dot + 1);
  for (const AwsService& service : services_) {
    if (service.target_prefix != prefix) continue;
    const Operation* operation = service.operations->Find(name);
    if (operation == nullptr) break;
    return Route{.service = &service, .operation = operation};
  }
  return AwsError(kUnknownOperation, absl::StrCat("skiffd has no operation ", *target));
}

absl::Status AwsJsonApi::Authenticate(const HttpRequest& request,
                                      const AwsService* service) const {
  aws::SignedRequest signed_request{.method = request.method,
                                    .path = request.path,
                                    .query = request.query,
                                    .headers = request.headers,
                                    .body = request.body};
  aws::VerifyOptions verify;
  if (service != nullptr) {
    verify.services.push_back(service->signing_name);
  } else {
    for (const AwsService& each : services_) verify.services.push_back(each.signing_name);
  }
  return aws::VerifySigV4(signed_request, options_.keys, options_.clock->Now(), verify).status();
}

HttpResponse AwsJsonApi::Error(const absl::Status& status, const AwsService* service,
                               const std::string& request_id) const {
  const std::string type = model::EcsExceptionName(status);
  int http_status = 400;
  if (!aws::AuthErrorType(status).empty()) {
    http_status = aws::AuthErrorHttpStatus(status);
  } else if (service != nullptr ? service->server_faults.contains(type)
                                : type == model::kServerException) {
    http_status = 500;
  }
  return Json(http_status, request_id, ErrorBody(type, status.message()));
}

HttpResponse AwsJsonApi::Refusal(int status, std::string message) const {
  const std::string type = status >= 500 ? std::string(model::kServerException) : kSerialization;
  return Json(status, RandomUuid(*options_.random), ErrorBody(type, message));
}

void AwsJsonApi::Handle(HttpRequest request, Respond respond) const {
  const absl::Time arrived = absl::Now();
  const std::string request_id = RandomUuid(*options_.random);
  absl::StatusOr<Route> route = RouteOf(request);
  const AwsService* service = route.ok() ? route->service : nullptr;
  // Answers, and counts the call under its operation and code.
  auto finish = [respond = std::move(respond), metrics = options_.metrics, arrived,
                 operation = route.ok() ? route->operation->name : std::string("unknown")](
                    HttpResponse response, const std::string& code) {
    if (metrics != nullptr) metrics->RecordCall("http", operation, code, absl::Now() - arrived);
    respond(std::move(response));
  };
  auto fail = [this, service, request_id, finish](const absl::Status& status) {
    finish(Error(status, service, request_id), model::EcsExceptionName(status));
  };
  if (absl::Status auth = Authenticate(request, service); !auth.ok()) return fail(auth);
  if (!route.ok()) return fail(route.status());
  const absl::string_view body =
      request.body.empty() ? absl::string_view("{}") : absl::string_view(request.body);
  absl::StatusOr<nlohmann::ordered_json> json = model::ParseJsonText(body);
  if (!json.ok()) return fail(AwsError(kSerialization, json.status().message()));
  std::unique_ptr<Message> message(route->operation->request->New());
  DropTokensOfNewerClients(*message, *json);
  if (absl::Status decoded = model::DecodeMessage(*json, message.get()); !decoded.ok()) {
    if (!service->invalid_request.empty()) {
      decoded = model::WithEcsException(decoded, service->invalid_request);
    }
    return fail(decoded);
  }
  auto answer = [fail, finish, request_id](Reply reply) {
    if (!reply.ok()) return fail(reply.status());
    // Encoded on the HTTP server's thread, not here on the loop: JSON costs more than protobuf.
    HttpResponse response = Json(200, request_id, "");
    response.render_body = [message = std::shared_ptr<Message>(*std::move(reply))] {
      return model::EncodeMessageText(*message);
    };
    finish(std::move(response), "OK");
  };
  if (!RunOnLoop(loop_, *route->operation, std::move(message), std::move(answer))) {
    fail(model::EcsError(absl::StatusCode::kUnavailable, model::kServerException,
                         "skiffd is shutting down"));
  }
}

}  // namespace skiff::api

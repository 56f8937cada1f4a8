// OnLoop: how a unary ECS call crosses from gRPC to the control loop. The handler posts the
// operation to the loop and returns the call's reactor at once; the operation runs on the loop
// thread and the call finishes from there, with its response or with its error converted once
// (ToGrpcStatus, the ECS exception name in the trailing metadata). Private to the api component;
// called on gRPC's threads.
//
// A template over the server context so that tests can hand it a stand-in that records the
// trailing metadata and how the call finished; skiffd passes grpc::CallbackServerContext.
#ifndef SKIFF_SRC_API_ON_LOOP_H_
#define SKIFF_SRC_API_ON_LOOP_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"
#include "skiff/api/errors.h"
#include "skiff/model/errors.h"
#include "skiff/scheduler/event_loop.h"
#include "spdlog/spdlog.h"

namespace skiff::api {

// Runs op (returning absl::StatusOr<Response>) on the loop thread, then finishes the call with its
// response or error. The request and response outlive the call's Finish, so the loop may use them
// until then. When the loop is stopping (Post refuses the work), the call finishes at once with
// UNAVAILABLE and ServerException: otherwise it would never finish and shutdown would wait.
//
// Context: grpc::CallbackServerContext or a stand-in with DefaultReactor() (whose result has
// Finish(grpc::Status)) and AddTrailingMetadata(key, value).
template <typename Response, typename Op, typename Context>
auto* OnLoop(scheduler::EventLoop* loop, Context* context, Response* response, Op op) {
  auto* reactor = context->DefaultReactor();
  const bool posted = loop->Post([context, reactor, response, op = std::move(op)]() mutable {
    absl::StatusOr<Response> result = op();
    if (result.ok()) {
      *response = *std::move(result);
      reactor->Finish(grpc::Status::OK);
      return;
    }
    const absl::Status& status = result.status();
    context->AddTrailingMetadata(model::kExceptionMetadataKey, model::EcsExceptionName(status));
    // Errors of the node, not of the request, belong in the daemon's log too.
    if (status.code() == absl::StatusCode::kInternal ||
        status.code() == absl::StatusCode::kDataLoss ||
        status.code() == absl::StatusCode::kUnavailable) {
      spdlog::error("{}", status.ToString());
    }
    reactor->Finish(ToGrpcStatus(status));
  });
  if (!posted) {
    context->AddTrailingMetadata(model::kExceptionMetadataKey,
                                 std::string(model::kServerException));
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "skiffd is shutting down"));
  }
  return reactor;
}

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_ON_LOOP_H_

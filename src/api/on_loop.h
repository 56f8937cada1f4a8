// OnLoop: how a unary call crosses from gRPC to the control loop. The handler posts the operation
// to the loop and returns the call's reactor at once; the operation runs on the loop thread and
// the call finishes from there, with its response or with its error converted once
// (ToGrpcStatus, the ECS exception name in the trailing metadata). Private to the api component;
// called on gRPC's threads.
//
// A template over the server context so that tests can hand it a stand-in that records the
// trailing metadata and how the call finished; skiffd passes TableService's call (grpc_service.cc).
#ifndef SKIFF_SRC_API_ON_LOOP_H_
#define SKIFF_SRC_API_ON_LOOP_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "skiff/metrics/metrics.h"
#include "api/operation_table.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/status.h"
#include "skiff/api/errors.h"
#include "skiff/model/errors.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::api {

// Runs `operation` with `request` on the loop thread, then finishes the call with the response,
// serialized into `response`, or with the error. `response` outlives the call's Finish, so the
// loop may write it until then. When the loop is stopping (it refuses the work), the call
// finishes at once with UNAVAILABLE and ServerException: otherwise it would never finish and
// shutdown would wait.
//
// Context: TableService's call, or a stand-in, with DefaultReactor() (whose result has
// Finish(grpc::Status)) and AddTrailingMetadata(key, value).
//
// `metrics` (may be null) records the call under transport "grpc".
template <typename Context>
auto* OnLoop(scheduler::EventLoop* loop, Context* context, const Operation& operation,
             std::unique_ptr<Message> request, grpc::ByteBuffer* response,
             metrics::Metrics* metrics = nullptr) {
  auto* reactor = context->DefaultReactor();
  const absl::Time arrived = absl::Now();
  const bool posted = RunOnLoop(
      loop, operation, std::move(request),
      [context, reactor, response, metrics, arrived, &operation](Reply reply) {
        if (metrics != nullptr) {
          metrics->RecordCall("grpc", operation.name,
                              reply.ok() ? "OK" : model::EcsExceptionName(reply.status()),
                              absl::Now() - arrived);
        }
        if (reply.ok()) {
          bool own_buffer = false;
          reactor->Finish(grpc::SerializationTraits<Message>::Serialize(**reply, response,
                                                                        &own_buffer));
          return;
        }
        context->AddTrailingMetadata(model::kExceptionMetadataKey,
                                     model::EcsExceptionName(reply.status()));
        reactor->Finish(ToGrpcStatus(reply.status()));
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

#include "api/grpc_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/on_loop.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/impl/rpc_service_method.h"
#include "grpcpp/support/byte_buffer.h"

namespace skiff::api {
namespace {

using google::protobuf::MethodDescriptor;

// Why `row` cannot serve `method`, or OK.
absl::Status CheckRow(const MethodDescriptor& method, const Operation* row) {
  if (method.client_streaming() || method.server_streaming()) {
    return absl::InternalError(absl::StrCat(method.full_name(), " streams; rows are unary"));
  }
  if (row == nullptr) {
    return absl::InternalError(absl::StrCat(method.full_name(), " has no operation row"));
  }
  if (row->request->GetDescriptor() != method.input_type() ||
      row->response->GetDescriptor() != method.output_type()) {
    return absl::InternalError(
        absl::StrCat(method.full_name(), ": the row's request or response type differs"));
  }
  return absl::OkStatus();
}

// The call of one method: the request decoded from the wire, then OnLoop.
grpc::ServerUnaryReactor* Serve(scheduler::EventLoop* loop, metrics::Metrics* metrics,
                                const Operation& row,
                                grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* request_bytes,
                                grpc::ByteBuffer* response_bytes) {
  std::unique_ptr<Message> request(row.request->New());
  grpc::ByteBuffer wire(*request_bytes);  // Shares the slices; Deserialize consumes its input.
  grpc::Status decoded = grpc::SerializationTraits<Message>::Deserialize(&wire, request.get());
  if (!decoded.ok()) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 absl::StrCat(row.name, ": the request is not a valid ",
                                              row.request->GetDescriptor()->full_name())));
    return reactor;
  }
  return OnLoop(loop, context, row, std::move(request), response_bytes, metrics);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TableService>> TableService::Create(
    const std::string& service, const OperationTable* table, scheduler::EventLoop* loop,
    metrics::Metrics* metrics) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (descriptor == nullptr) return absl::InternalError("no proto service " + service);
  std::unique_ptr<TableService> out(new TableService());
  out->paths_.reserve(descriptor->method_count());  // Never reallocated: grpc keeps c_str().
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const MethodDescriptor& method = *descriptor->method(i);
    const Operation* row = table->Find(method.name());
    if (absl::Status ok = CheckRow(method, row); !ok.ok()) return ok;
    out->paths_.push_back(absl::StrCat("/", service, "/", method.name()));
    out->AddMethod(new grpc::internal::RpcServiceMethod(
        out->paths_.back().c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    out->MarkMethodRawCallback(
        i, new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
               [loop, metrics, row](grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
                 return Serve(loop, metrics, *row, context, request, response);
               }));
  }
  return out;
}

}  // namespace skiff::api

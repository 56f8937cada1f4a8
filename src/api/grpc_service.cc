#include "api/grpc_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/on_loop.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/codegen/async_unary_call.h"
#include "grpcpp/impl/rpc_service_method.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"

namespace skiff::api {
namespace {

using google::protobuf::MethodDescriptor;

// Threads on the queue: decoding overlaps when calls come in parallel (a call's events never
// do), as on gRPC's two callback threads before.
constexpr int kThreads = 2;

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

}  // namespace

// One call of one method, from the request gRPC is asked for until the call has finished. It
// is also the context OnLoop finishes: DefaultReactor() is the call itself.
class TableService::Call {
 public:
  // Asks gRPC for the next call of `method`; the queue's thread takes it up in Proceed.
  static void Ask(TableServer* server, TableService* service, int method) {
    auto* call = new Call(server, service, method);
    service->RequestAsyncUnary(method, &call->context_, &call->request_, &call->responder_,
                               server->queue_.get(), server->queue_.get(), call);
  }

  // On the queue's thread: `ok` is false when the server shuts down before a call came, or
  // when the answer could not be sent.
  void Proceed(bool ok) {
    if (finishing_ || !ok) {
      delete this;
      return;
    }
    Ask(server_, service_, method_);
    Serve();
  }

  // For OnLoop, on the loop thread (or on the queue's, when the loop refused the work).
  Call* DefaultReactor() { return this; }
  void Finish(const grpc::Status& status) {
    finishing_ = true;  // Before the queue can hand the call back to Proceed.
    responder_.Finish(response_, status, this);
  }
  void AddTrailingMetadata(const std::string& key, const std::string& value) {
    context_.AddTrailingMetadata(key, value);
  }

 private:
  Call(TableServer* server, TableService* service, int method)
      : server_(server), service_(service), method_(method), responder_(&context_) {
    server_->Track(+1);
  }
  ~Call() { server_->Track(-1); }

  void Serve() {
    const Operation& row = *service_->rows_[method_];
    std::unique_ptr<Message> request(row.request->New());
    grpc::Status decoded =
        grpc::SerializationTraits<Message>::Deserialize(&request_, request.get());
    if (!decoded.ok()) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat(row.name, ": the request is not a valid ",
                                       row.request->GetDescriptor()->full_name())));
      return;
    }
    OnLoop(service_->loop_, this, row, std::move(request), &response_, service_->metrics_);
  }

  TableServer* const server_;
  TableService* const service_;
  const int method_;
  grpc::ServerContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_;
  bool finishing_ = false;
};

absl::StatusOr<std::unique_ptr<TableService>> TableService::Create(
    const std::string& service, const OperationTable* table, scheduler::EventLoop* loop,
    metrics::Metrics* metrics) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (descriptor == nullptr) return absl::InternalError("no proto service " + service);
  std::unique_ptr<TableService> out(new TableService());
  out->loop_ = loop;
  out->metrics_ = metrics;
  out->paths_.reserve(descriptor->method_count());  // Never reallocated: grpc keeps c_str().
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const MethodDescriptor& method = *descriptor->method(i);
    const Operation* row = table->Find(method.name());
    if (absl::Status ok = CheckRow(method, row); !ok.ok()) return ok;
    out->rows_.push_back(row);
    out->paths_.push_back(absl::StrCat("/", service, "/", method.name()));
    out->AddMethod(new grpc::internal::RpcServiceMethod(
        out->paths_.back().c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    out->MarkMethodRaw(i);  // Served through the async API, on TableServer's queue.
  }
  return out;
}

TableServer::TableServer(grpc::ServerBuilder* builder, std::vector<TableService*> services)
    : services_(std::move(services)), queue_(builder->AddCompletionQueue()) {}

TableServer::~TableServer() { Shutdown(); }

void TableServer::Start() {
  started_ = true;
  for (TableService* service : services_) {
    for (size_t i = 0; i < service->rows_.size(); ++i) {
      TableService::Call::Ask(this, service, static_cast<int>(i));
    }
  }
  for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { Run(); });
}

void TableServer::Run() {
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) static_cast<TableService::Call*>(tag)->Proceed(ok);
}

void TableServer::Track(int delta) {
  absl::MutexLock lock(&mu_);
  calls_ += delta;
}

void TableServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (started_) {
    // The server is shut down: the calls asked for come back unused, and those in flight
    // finish from the loop. No Call may touch the queue once it is shut down.
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* calls) { return *calls == 0; }, &calls_));
  }
  queue_->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  void* tag = nullptr;
  bool ok = false;
  while (queue_->Next(&tag, &ok)) {
  }
  // The queue itself lives on: the server, destroyed after this, still holds it.
}

}  // namespace skiff::api

// TableService: a gRPC service whose methods are the rows of an OperationTable. It has the name
// and methods of a service of proto/ (skiff.v1.Ecs), so clients, reflection and grpcurl see that
// service, but no hand-written handler: each method is a row, decoded from the wire, run on the
// loop (OnLoop) and encoded back. TableServer serves the TableServices of one server on a
// completion queue and threads of their own (ADR 0022). Private to the api component.
#ifndef SKIFF_SRC_API_GRPC_SERVICE_H_
#define SKIFF_SRC_API_GRPC_SERVICE_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "api/operation_table.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/server_builder.h"
#include "skiff/metrics/metrics.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::api {

class TableServer;

class TableService final : public grpc::Service {
 public:
  // `service` is the full name of a proto service whose every unary method has a row in
  // `table` named as the method, with the method's input type; both outlive the service.
  // `metrics` (may be null) records every call.
  static absl::StatusOr<std::unique_ptr<TableService>> Create(const std::string& service,
                                                              const OperationTable* table,
                                                              scheduler::EventLoop* loop,
                                                              metrics::Metrics* metrics = nullptr);

 private:
  friend class TableServer;
  class Call;

  TableService() = default;

  // grpc keeps the method names as C strings: they live here, one per method.
  std::vector<std::string> paths_;
  std::vector<const Operation*> rows_;  // By method index.
  scheduler::EventLoop* loop_ = nullptr;
  metrics::Metrics* metrics_ = nullptr;
};

// The calls of TableServices, taken from a completion queue of their own by two threads that
// wait for them with no deadline. gRPC 1.51's callback API would serve them from threads that
// nap 100 ms after a second without work, and a call arriving then waits (ADR 0022). A thread
// only decodes a request and posts it to the loop; the loop finishes the call.
class TableServer {
 public:
  // Adds the queue to `builder`, which must register `services` and outlive BuildAndStart.
  TableServer(grpc::ServerBuilder* builder, std::vector<TableService*> services);
  ~TableServer();  // Shutdown() if it was not.
  TableServer(const TableServer&) = delete;
  TableServer& operator=(const TableServer&) = delete;

  // After the server's BuildAndStart: asks for each method's first call, starts the threads.
  void Start();
  // After the server's Shutdown: waits until every call has finished, which the loop does,
  // then stops the threads. The loop must still run until this returns. Destroy the server
  // before this object.
  void Shutdown();

 private:
  friend class TableService::Call;

  void Run();
  void Track(int delta);

  std::vector<TableService*> services_;
  std::unique_ptr<grpc::ServerCompletionQueue> queue_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;  // Asked for or in flight, not yet destroyed.
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_GRPC_SERVICE_H_

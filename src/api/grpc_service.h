// TableService: a gRPC service whose methods are the rows of an OperationTable. It has the name
// and methods of a service of proto/ (skiff.v1.Ecs), so clients, reflection and grpcurl see that
// service, but no hand-written handler: each method is a row, decoded from the wire, run on the
// loop (OnLoop) and encoded back. Private to the api component.
#ifndef SKIFF_SRC_API_GRPC_SERVICE_H_
#define SKIFF_SRC_API_GRPC_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "skiff/metrics/metrics.h"
#include "api/operation_table.h"
#include "grpcpp/impl/service_type.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::api {

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
  TableService() = default;

  // grpc keeps the method names as C strings: they live here, one per method.
  std::vector<std::string> paths_;
};

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_GRPC_SERVICE_H_

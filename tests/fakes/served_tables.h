// ServedTables: an operation table as a TableService on a real gRPC server with its TableServer,
// for tests of the api component's gRPC side, stopped in the order skiffd stops them.
#ifndef SKIFF_TESTS_FAKES_SERVED_TABLES_H_
#define SKIFF_TESTS_FAKES_SERVED_TABLES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/grpc_service.h"
#include "api/operation_table.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::fakes {

class ServedTables {
 public:
  ServedTables() = default;
  ~ServedTables() { Stop(); }
  ServedTables(const ServedTables&) = delete;
  ServedTables& operator=(const ServedTables&) = delete;

  // Serves `table` as the proto service named `service` (as "skiff.v1.Ecs") on `loop`, also on
  // `address` ("unix:PATH") unless it is empty: then only in-process channels reach it.
  absl::Status Start(const std::string& service, const api::OperationTable* table,
                     scheduler::EventLoop* loop, const std::string& address = "") {
    absl::StatusOr<std::unique_ptr<api::TableService>> made =
        api::TableService::Create(service, table, loop);
    if (!made.ok()) return made.status();
    service_ = *std::move(made);
    grpc::ServerBuilder builder;
    if (!address.empty()) builder.AddListeningPort(address, grpc::InsecureServerCredentials());
    builder.RegisterService(service_.get());
    tables_ = std::make_unique<api::TableServer>(
        &builder, std::vector<api::TableService*>{service_.get()});
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) return absl::InternalError("BuildAndStart failed");
    tables_->Start();
    return absl::OkStatus();
  }

  // As ApiServer::Shutdown: the server, then the calls, then the server goes.
  void Stop() {
    if (server_ != nullptr) server_->Shutdown();
    if (tables_ != nullptr) tables_->Shutdown();
    server_.reset();
  }

  grpc::Server* server() const { return server_.get(); }
  api::TableServer* tables() const { return tables_.get(); }

 private:
  std::unique_ptr<api::TableService> service_;
  std::unique_ptr<api::TableServer> tables_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_SERVED_TABLES_H_

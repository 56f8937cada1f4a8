// ApiServer: the gRPC API on a Unix socket (mode 0660, optional group): the skiff.v1.Ecs service,
// grpc.health.v1.Health and server reflection.
//
// Handlers use gRPC's callback API: a handler posts the operation to the control loop and returns;
// the loop answers and finishes the call, so no gRPC thread ever blocks on domain work and the
// loop stays the single owner of state. Start/Shutdown are called by the daemon's main thread.
#ifndef SKIFF_API_SERVER_H_
#define SKIFF_API_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "skiff/api/watch_hub.h"
#include "skiff/base/random.h"
#include "skiff/logs/log_file.h"
#include "skiff/model/arn.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scheduler/cluster_registry.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/image_puller.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::api {

struct ServerOptions {
  std::string socket_path;
  std::optional<std::string> socket_group;
};

class ApiServer {
 public:
  // Everything the handlers reach; owned by the daemon, outliving the server.
  struct Backends {
    scheduler::EventLoop* loop;
    scheduler::TaskDefinitionRegistry* task_definitions;
    scheduler::TaskManager* task_manager;
    scheduler::ServiceManager* services;
    scheduler::ClusterRegistry* clusters;
    runtime::ContainerRuntime* runtime;  // Thread-safe: images and exec are called directly.
    scheduler::ImagePuller* image_puller;  // Thread-safe: pull-image shares pulls with tasks.
    WatchHub* watch_hub;
    model::ArnScope scope;
    std::string upload_dir;  // Image uploads are spooled here before import.
    RandomSource* random;    // Thread-safe (SystemRandom): names of uploads.
    logs::RotationPolicy log_rotation;
  };

  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const ServerOptions& options,
                                                          Backends backends);
  ~ApiServer();

  // Stops accepting calls and waits up to `grace` for in-flight calls (their loop work included)
  // to finish, then cancels the rest. The loop must still be running.
  void Shutdown(absl::Duration grace);

 private:
  class Service;
  ApiServer() = default;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Service> node_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
};

}  // namespace skiff::api

#endif  // SKIFF_API_SERVER_H_

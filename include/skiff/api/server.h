// ApiServer: skiffd's API on two transports over tables of operations (src/api/
// operation_table.h):
// - gRPC on a Unix socket (mode 0660, optional group): skiff.v1.Ecs, skiff.v1.Node,
//   skiff.elbv2.v1.Elbv2 (when the node has a load balancer manager), grpc.health.v1.Health and
//   skiff.autoscaling.v1.ApplicationAutoScaling (when the node has an autoscaling manager),
//   skiff.secretsmanager.v1.SecretsManager and skiff.ssm.v1.Ssm (when it has their stores),
//   server reflection;
// - the AWS JSON 1.1 protocol over HTTP(S) on a TCP address, signed with SigV4, which the AWS
//   CLI and SDKs speak (src/api/aws_json.h): ECS, Application Auto Scaling, Secrets Manager and
//   SSM (ELBv2's AWS protocol is the query one).
//
// Neither transport's threads block on domain work: a call is posted to the control loop, which
// answers it and finishes the call, and stays the single owner of state. The HTTP address also
// serves GET /metrics (Prometheus: the daemon's metrics::Metrics, src/api/scraper.h).
// Start/Shutdown are called by the daemon's main thread; the server outlives the loop's work
// (the daemon destroys it after stopping the loop).
#ifndef SKIFF_API_SERVER_H_
#define SKIFF_API_SERVER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "skiff/api/watch_hub.h"
#include "skiff/aws/sigv4.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/elb/load_balancer_manager.h"
#include "skiff/logs/log_file.h"
#include "skiff/metrics/metrics.h"
#include "skiff/model/arn.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scaling/auto_scaling_manager.h"
#include "skiff/scaling/stats_reporter.h"
#include "skiff/scheduler/cluster_registry.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/image_puller.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/secrets/parameter_store.h"
#include "skiff/secrets/secrets_manager.h"

namespace skiff::api {

struct ServerOptions {
  std::string socket_path;
  std::optional<std::string> socket_group;
  // The AWS JSON API: HOST:PORT (port 0 takes a free one); none when empty.
  std::string http_address;
  // PEM text of the certificate and key: HTTPS instead of HTTP when set.
  std::string tls_certificate;
  std::string tls_key;
  std::vector<aws::Credential> aws_keys;  // The keys HTTP requests may be signed with.
};

class HttpServer;
class OperationTable;
class AwsJsonApi;
class Scraper;
class TableServer;

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
    const Clock* clock;  // Thread-safe: the age of request signatures.
    // Records every call and serves GET /metrics; none when null. Thread-safe.
    metrics::Metrics* metrics = nullptr;
    // Loop-owned: answers skiff.elbv2.v1.Elbv2. ELBv2 is not served when null.
    elb::LoadBalancerManager* load_balancers = nullptr;
    // Loop-owned: answers Node/DescribeStats and adds the container series to /metrics.
    // DescribeStats is Unavailable when null.
    const scaling::StatsReporter* stats = nullptr;
    // Loop-owned: answers Application Auto Scaling (skiff.autoscaling.v1.ApplicationAutoScaling
    // over gRPC, AnyScaleFrontendService over HTTP). Not served when null.
    scaling::AutoScalingManager* auto_scaling = nullptr;
    // Loop-owned: answer Secrets Manager (skiff.secretsmanager.v1.SecretsManager, secretsmanager
    // over HTTP) and SSM Parameter Store (skiff.ssm.v1.Ssm, AmazonSSM). Not served when null.
    secrets::SecretsManager* secrets_manager = nullptr;
    secrets::ParameterStore* parameters = nullptr;
  };

  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const ServerOptions& options,
                                                          Backends backends);
  ~ApiServer();

  // Stops accepting calls and waits up to `grace` for in-flight calls (their loop work included)
  // to finish, then cancels the rest. The loop must still be running.
  void Shutdown(absl::Duration grace);

  // The AWS JSON API's port; 0 when it is not served.
  uint16_t http_port() const;


 private:
  ApiServer();
  absl::Status StartHttp(const ServerOptions& options, const Backends& backends);
  absl::Status MakeOptionalServices(const Backends& backends);
  absl::Status MakeSecretsServices(const Backends& backends);

  std::unique_ptr<Scraper> scraper_;
  std::unique_ptr<OperationTable> ecs_operations_;
  std::unique_ptr<grpc::Service> ecs_service_;
  std::unique_ptr<OperationTable> elbv2_operations_;  // Null when ELBv2 is not served.
  std::unique_ptr<grpc::Service> elbv2_service_;
  std::unique_ptr<OperationTable> autoscaling_operations_;  // Null when not served.
  std::unique_ptr<grpc::Service> autoscaling_service_;
  std::unique_ptr<OperationTable> secrets_operations_;  // Null when not served.
  std::unique_ptr<grpc::Service> secrets_service_;
  std::unique_ptr<OperationTable> ssm_operations_;  // Null when not served.
  std::unique_ptr<grpc::Service> ssm_service_;
  std::unique_ptr<grpc::Service> node_service_;
  std::unique_ptr<TableServer> tables_;  // Serves the services above but node_service_.
  std::unique_ptr<AwsJsonApi> aws_json_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
};

}  // namespace skiff::api

#endif  // SKIFF_API_SERVER_H_

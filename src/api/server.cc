#include "skiff/api/server.h"

#include "api/autoscaling_operations.h"
#include "api/aws_json.h"
#include "api/ecs_operations.h"
#include "api/elbv2_operations.h"
#include "api/grpc_service.h"
#include "api/http_server.h"
#include "api/scraper.h"
#include "api/secrets_operations.h"
#include "api/operation_table.h"
#include "node_service.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::api {
namespace {

// True when something accepts connections on the socket at path.
bool SocketInUse(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool in_use = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return in_use;
}

absl::Status PrepareSocketPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket: path is longer than ", sizeof(sockaddr_un::sun_path) - 1,
                     " bytes: ", path));
  }
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("socket: create ", parent.string(), ": ",
                                                     ec.message()));
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("socket: ", path, " exists and is not a socket; not replacing it"));
    }
    if (SocketInUse(path)) {
      return absl::FailedPreconditionError(
          absl::StrCat("socket: ", path, " is in use by another process"));
    }
    unlink(path.c_str());  // A stale socket from a skiffd that died.
  }
  return absl::OkStatus();
}

absl::Status ApplySocketPermissions(const ServerOptions& options) {
  const std::string& path = options.socket_path;
  if (options.socket_group) {
    struct group* g = getgrnam(options.socket_group->c_str());
    if (g == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("socket-group: no group named \"", *options.socket_group, "\""));
    }
    if (chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return absl::UnavailableError(absl::StrCat("socket: chown ", path, ": ",
                                                 std::strerror(errno)));
    }
  }
  if (chmod(path.c_str(), 0660) != 0) {
    return absl::UnavailableError(absl::StrCat("socket: chmod ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

// GET /metrics: every series, rendered on the loop.
void Scrape(Scraper* scraper, Respond respond) {
  auto answer = [respond](std::string text) {
    respond({.status = 200,
             .headers = {{"Content-Type", metrics::Metrics::kContentType}},
             .body = std::move(text)});
  };
  if (!scraper->Scrape(answer)) {
    respond({.status = 503,
             .headers = {{"Content-Type", "text/plain"}},
             .body = "skiffd is shutting down\n"});
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ServerOptions& options,
                                                            Backends backends) {
  absl::Status prepared = PrepareSocketPath(options.socket_path);
  if (!prepared.ok()) return prepared;

  std::unique_ptr<ApiServer> server(new ApiServer());
  server->socket_path_ = options.socket_path;
  server->ecs_operations_ = std::make_unique<OperationTable>(
      EcsOperations({.task_definitions = backends.task_definitions,
                     .tasks = backends.task_manager,
                     .services = backends.services,
                     .clusters = backends.clusters}));
  if (backends.metrics != nullptr) {
    server->scraper_ = std::make_unique<Scraper>(
        backends.metrics, Scraper::Sources{.loop = backends.loop,
                                           .services = backends.services,
                                           .tasks = backends.task_manager,
                                           .clock = backends.clock,
                                           .stats = backends.stats});
  }
  absl::StatusOr<std::unique_ptr<TableService>> ecs = TableService::Create(
      "skiff.v1.Ecs", server->ecs_operations_.get(), backends.loop, backends.metrics);
  if (!ecs.ok()) return ecs.status();
  server->ecs_service_ = *std::move(ecs);
  if (absl::Status more = server->MakeOptionalServices(backends); !more.ok()) return more;
  server->node_service_ = std::make_unique<NodeService>(backends);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", options.socket_path),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(server->ecs_service_.get());
  if (server->elbv2_service_ != nullptr) builder.RegisterService(server->elbv2_service_.get());
  if (server->autoscaling_service_ != nullptr) {
    builder.RegisterService(server->autoscaling_service_.get());
  }
  if (server->secrets_service_ != nullptr) builder.RegisterService(server->secrets_service_.get());
  if (server->ssm_service_ != nullptr) builder.RegisterService(server->ssm_service_.get());
  builder.RegisterService(server->node_service_.get());
  std::vector<TableService*> tables;
  for (grpc::Service* service :
       {server->ecs_service_.get(), server->elbv2_service_.get(),
        server->autoscaling_service_.get(), server->secrets_service_.get(),
        server->ssm_service_.get()}) {
    if (service != nullptr) tables.push_back(static_cast<TableService*>(service));
  }
  server->tables_ = std::make_unique<TableServer>(&builder, std::move(tables));
  // The socket is created inside BuildAndStart; a tight umask keeps it from ever being
  // world-accessible before the chmod below.
  const mode_t old_umask = umask(0117);
  server->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (server->server_ != nullptr) server->tables_->Start();
  if (server->server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("socket: cannot listen on ", options.socket_path));
  }
  absl::Status permissions = ApplySocketPermissions(options);
  if (permissions.ok()) permissions = server->StartHttp(options, backends);
  if (!permissions.ok()) {
    server->Shutdown(absl::ZeroDuration());
    return permissions;
  }
  return server;
}

// ELBv2 and Application Auto Scaling, for a node that has their managers.
absl::Status ApiServer::MakeOptionalServices(const Backends& backends) {
  if (backends.load_balancers != nullptr) {
    elbv2_operations_ =
        std::make_unique<OperationTable>(Elbv2Operations(backends.load_balancers));
    absl::StatusOr<std::unique_ptr<TableService>> elbv2 =
        TableService::Create("skiff.elbv2.v1.Elbv2", elbv2_operations_.get(),
                             backends.loop, backends.metrics);
    if (!elbv2.ok()) return elbv2.status();
    elbv2_service_ = *std::move(elbv2);
  }
  if (backends.auto_scaling != nullptr) {
    autoscaling_operations_ =
        std::make_unique<OperationTable>(AutoScalingOperations(backends.auto_scaling));
    absl::StatusOr<std::unique_ptr<TableService>> autoscaling = TableService::Create(
        "skiff.autoscaling.v1.ApplicationAutoScaling", autoscaling_operations_.get(),
        backends.loop, backends.metrics);
    if (!autoscaling.ok()) return autoscaling.status();
    autoscaling_service_ = *std::move(autoscaling);
  }
  return MakeSecretsServices(backends);
}

// Secrets Manager and SSM Parameter Store, for a node that has their stores.
absl::Status ApiServer::MakeSecretsServices(const Backends& backends) {
  if (backends.secrets_manager != nullptr) {
    secrets_operations_ =
        std::make_unique<OperationTable>(SecretsManagerOperations(backends.secrets_manager));
    absl::StatusOr<std::unique_ptr<TableService>> service =
        TableService::Create("skiff.secretsmanager.v1.SecretsManager",
                             secrets_operations_.get(), backends.loop, backends.metrics);
    if (!service.ok()) return service.status();
    secrets_service_ = *std::move(service);
  }
  if (backends.parameters != nullptr) {
    ssm_operations_ = std::make_unique<OperationTable>(SsmOperations(backends.parameters));
    absl::StatusOr<std::unique_ptr<TableService>> service = TableService::Create(
        "skiff.ssm.v1.Ssm", ssm_operations_.get(), backends.loop, backends.metrics);
    if (!service.ok()) return service.status();
    ssm_service_ = *std::move(service);
  }
  return absl::OkStatus();
}

absl::Status ApiServer::StartHttp(const ServerOptions& options, const Backends& backends) {
  if (options.http_address.empty()) return absl::OkStatus();
  std::vector<AwsService> services{EcsService(ecs_operations_.get())};
  if (autoscaling_operations_ != nullptr) {
    services.push_back(AutoScalingService(autoscaling_operations_.get()));
  }
  if (secrets_operations_ != nullptr) {
    services.push_back(SecretsManagerService(secrets_operations_.get()));
  }
  if (ssm_operations_ != nullptr) services.push_back(SsmService(ssm_operations_.get()));
  aws_json_ = std::make_unique<AwsJsonApi>(
      std::move(services), backends.loop,
      AwsJsonApi::Options{.keys = options.aws_keys,
                          .clock = backends.clock,
                          .random = backends.random,
                          .metrics = backends.metrics});
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      {.address = options.http_address,
       .tls_certificate = options.tls_certificate,
       .tls_key = options.tls_key,
       .refusal = [api = aws_json_.get()](int status, std::string message) {
         return api->Refusal(status, std::move(message));
       }},
      [api = aws_json_.get(), scraper = scraper_.get()](HttpRequest request, Respond respond) {
        if (scraper != nullptr && request.method == "GET" && request.path == "/metrics") {
          // No signature: Prometheus scrapes as any exporter is scraped.
          return Scrape(scraper, std::move(respond));
        }
        api->Handle(std::move(request), std::move(respond));
      });
  if (!http.ok()) return http.status();
  http_ = *std::move(http);
  return absl::OkStatus();
}

ApiServer::ApiServer() = default;
ApiServer::~ApiServer() { Shutdown(absl::ZeroDuration()); }

uint16_t ApiServer::http_port() const { return http_ == nullptr ? 0 : http_->port(); }

void ApiServer::Shutdown(absl::Duration grace) {
  // Both transports wait for their calls in flight within the one grace period.
  const absl::Time deadline = absl::Now() + grace;
  if (http_ != nullptr) http_->Shutdown(grace);
  if (server_ == nullptr) return;
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
  tables_->Shutdown();  // Its calls have finished or been cancelled; its queue goes before gRPC's.
  server_.reset();
  unlink(socket_path_.c_str());
}

}  // namespace skiff::api

#include "skiff/api/server.h"

#include "node_service.h"
#include "on_loop.h"

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

}  // namespace

// The Ecs service. Each handler hands its operation to the loop and finishes from there.
class ApiServer::Service final : public v1::Ecs::CallbackService {
 public:
  explicit Service(Backends backends) : b_(backends) {}

  grpc::ServerUnaryReactor* RegisterTaskDefinition(
      grpc::CallbackServerContext* context, const v1::RegisterTaskDefinitionRequest* request,
      v1::RegisterTaskDefinitionResponse* response) override {
    return OnLoop(context, response, [this, request] {
      return b_.task_definitions->Register(*request);
    });
  }

  grpc::ServerUnaryReactor* DescribeTaskDefinition(
      grpc::CallbackServerContext* context, const v1::DescribeTaskDefinitionRequest* request,
      v1::DescribeTaskDefinitionResponse* response) override {
    return OnLoop(context, response, [this, request] {
      return b_.task_definitions->Describe(*request);
    });
  }

  grpc::ServerUnaryReactor* ListTaskDefinitions(
      grpc::CallbackServerContext* context, const v1::ListTaskDefinitionsRequest* request,
      v1::ListTaskDefinitionsResponse* response) override {
    return OnLoop(context, response, [this, request] {
      return b_.task_definitions->List(*request);
    });
  }

  grpc::ServerUnaryReactor* ListTaskDefinitionFamilies(
      grpc::CallbackServerContext* context, const v1::ListTaskDefinitionFamiliesRequest* request,
      v1::ListTaskDefinitionFamiliesResponse* response) override {
    return OnLoop(context, response, [this, request] {
      return b_.task_definitions->ListFamilies(*request);
    });
  }

  grpc::ServerUnaryReactor* RunTask(grpc::CallbackServerContext* context,
                                    const v1::RunTaskRequest* request,
                                    v1::RunTaskResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.task_manager->RunTask(*request); });
  }

  grpc::ServerUnaryReactor* StopTask(grpc::CallbackServerContext* context,
                                     const v1::StopTaskRequest* request,
                                     v1::StopTaskResponse* response) override {
    return OnLoop(context, response,
                  [this, request] { return b_.task_manager->StopTask(*request); });
  }

  grpc::ServerUnaryReactor* DescribeTasks(grpc::CallbackServerContext* context,
                                          const v1::DescribeTasksRequest* request,
                                          v1::DescribeTasksResponse* response) override {
    return OnLoop(context, response,
                  [this, request] { return b_.task_manager->DescribeTasks(*request); });
  }

  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const v1::ListTasksRequest* request,
                                      v1::ListTasksResponse* response) override {
    return OnLoop(context, response,
                  [this, request] { return b_.task_manager->ListTasks(*request); });
  }

  grpc::ServerUnaryReactor* DeregisterTaskDefinition(
      grpc::CallbackServerContext* context, const v1::DeregisterTaskDefinitionRequest* request,
      v1::DeregisterTaskDefinitionResponse* response) override {
    return OnLoop(context, response, [this, request] {
      return b_.task_definitions->Deregister(*request);
    });
  }

  grpc::ServerUnaryReactor* CreateService(grpc::CallbackServerContext* context,
      const v1::CreateServiceRequest* request, v1::CreateServiceResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.services->CreateService(*request); });
  }

  grpc::ServerUnaryReactor* UpdateService(grpc::CallbackServerContext* context,
      const v1::UpdateServiceRequest* request, v1::UpdateServiceResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.services->UpdateService(*request); });
  }

  grpc::ServerUnaryReactor* DeleteService(grpc::CallbackServerContext* context,
      const v1::DeleteServiceRequest* request, v1::DeleteServiceResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.services->DeleteService(*request); });
  }

  grpc::ServerUnaryReactor* DescribeServices(grpc::CallbackServerContext* context,
      const v1::DescribeServicesRequest* request, v1::DescribeServicesResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.services->DescribeServices(*request); });
  }

  grpc::ServerUnaryReactor* ListServices(grpc::CallbackServerContext* context,
      const v1::ListServicesRequest* request, v1::ListServicesResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.services->ListServices(*request); });
  }
  grpc::ServerUnaryReactor* ListServiceDeployments(grpc::CallbackServerContext* context,
      const v1::ListServiceDeploymentsRequest* request,
      v1::ListServiceDeploymentsResponse* response) override {
    return OnLoop(context, response,
                  [this, request] { return b_.services->ListServiceDeployments(*request); });
  }
  grpc::ServerUnaryReactor* DescribeServiceDeployments(grpc::CallbackServerContext* context,
      const v1::DescribeServiceDeploymentsRequest* request,
      v1::DescribeServiceDeploymentsResponse* response) override {
    return OnLoop(context, response,
                  [this, request] { return b_.services->DescribeServiceDeployments(*request); });
  }
  grpc::ServerUnaryReactor* DescribeServiceRevisions(grpc::CallbackServerContext* context,
      const v1::DescribeServiceRevisionsRequest* request,
      v1::DescribeServiceRevisionsResponse* response) override {
    return OnLoop(context, response,
                  [this, request] { return b_.services->DescribeServiceRevisions(*request); });
  }

  grpc::ServerUnaryReactor* CreateCluster(grpc::CallbackServerContext* context,
      const v1::CreateClusterRequest* request, v1::CreateClusterResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->CreateCluster(*request); });
  }

  grpc::ServerUnaryReactor* DescribeClusters(grpc::CallbackServerContext* context,
      const v1::DescribeClustersRequest* request, v1::DescribeClustersResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->DescribeClusters(*request); });
  }

  grpc::ServerUnaryReactor* ListClusters(grpc::CallbackServerContext* context,
      const v1::ListClustersRequest* request, v1::ListClustersResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->ListClusters(*request); });
  }

  grpc::ServerUnaryReactor* DeleteCluster(grpc::CallbackServerContext* context,
      const v1::DeleteClusterRequest* request, v1::DeleteClusterResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->DeleteCluster(*request); });
  }

  grpc::ServerUnaryReactor* DescribeContainerInstances(grpc::CallbackServerContext* context,
      const v1::DescribeContainerInstancesRequest* request, v1::DescribeContainerInstancesResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->DescribeContainerInstances(*request); });
  }

  grpc::ServerUnaryReactor* TagResource(grpc::CallbackServerContext* context,
      const v1::TagResourceRequest* request, v1::TagResourceResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->TagResource(*request); });
  }

  grpc::ServerUnaryReactor* UntagResource(grpc::CallbackServerContext* context,
      const v1::UntagResourceRequest* request, v1::UntagResourceResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->UntagResource(*request); });
  }

  grpc::ServerUnaryReactor* ListTagsForResource(grpc::CallbackServerContext* context,
      const v1::ListTagsForResourceRequest* request, v1::ListTagsForResourceResponse* response) override {
    return OnLoop(context, response, [this, request] { return b_.clusters->ListTagsForResource(*request); });
  }

 private:
  // See on_loop.h.
  template <typename Response, typename Op>
  grpc::ServerUnaryReactor* OnLoop(grpc::CallbackServerContext* context, Response* response,
                                   Op op) {
    return api::OnLoop(b_.loop, context, response, std::move(op));
  }

  Backends b_;
};

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ServerOptions& options,
                                                            Backends backends) {
  absl::Status prepared = PrepareSocketPath(options.socket_path);
  if (!prepared.ok()) return prepared;

  std::unique_ptr<ApiServer> server(new ApiServer());
  server->socket_path_ = options.socket_path;
  server->service_ = std::make_unique<Service>(backends);
  server->node_service_ = std::make_unique<NodeService>(backends);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", options.socket_path),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->node_service_.get());
  // The socket is created inside BuildAndStart; a tight umask keeps it from ever being
  // world-accessible before the chmod below.
  const mode_t old_umask = umask(0117);
  server->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (server->server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("socket: cannot listen on ", options.socket_path));
  }
  absl::Status permissions = ApplySocketPermissions(options);
  if (!permissions.ok()) {
    server->Shutdown(absl::ZeroDuration());
    return permissions;
  }
  return server;
}

ApiServer::~ApiServer() { Shutdown(absl::ZeroDuration()); }

void ApiServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
  unlink(socket_path_.c_str());
}

}  // namespace skiff::api

// NodeService: skiff.v1.Node, the operations ECS does not have (watch, logs, exec, images). Its
// calls are streams that wait on files, containers and the loop, so it uses gRPC's synchronous
// API: each call has a gRPC thread of its own and may block it; domain state is still only read
// on the control loop (RunOnLoop), and the runtime is thread-safe. An interactive exec session
// holds its thread for as long as it lasts, and one more (api/exec_session_call.h).
#ifndef SKIFF_SRC_API_NODE_SERVICE_H_
#define SKIFF_SRC_API_NODE_SERVICE_H_

#include <set>
#include <string>
#include <vector>

#include "skiff/api/server.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::api {

class NodeService final : public v1::Node::Service {
 public:
  explicit NodeService(ApiServer::Backends backends) : b_(std::move(backends)) {}

  grpc::Status Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::WatchEvent>* writer) override;
  grpc::Status GetLogs(grpc::ServerContext* context, const v1::GetLogsRequest* request,
                       grpc::ServerWriter<v1::LogChunk>* writer) override;
  grpc::Status ExecuteCommand(grpc::ServerContext* context,
                              const v1::ExecuteCommandRequest* request,
                              grpc::ServerWriter<v1::ExecOutput>* writer) override;
  grpc::Status ExecuteCommandSession(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ExecOutput, v1::ExecInput>* stream) override;
  grpc::Status LoadImage(grpc::ServerContext* context,
                         grpc::ServerReader<v1::LoadImageChunk>* reader,
                         v1::LoadImageResponse* response) override;
  grpc::Status ListImages(grpc::ServerContext* context, const v1::ListImagesRequest* request,
                          v1::ListImagesResponse* response) override;
  grpc::Status RemoveImage(grpc::ServerContext* context, const v1::RemoveImageRequest* request,
                           v1::RemoveImageResponse* response) override;
  grpc::Status PullImage(grpc::ServerContext* context, const v1::PullImageRequest* request,
                         grpc::ServerWriter<v1::PullImageProgress>* writer) override;
  grpc::Status PruneImages(grpc::ServerContext* context, const v1::PruneImagesRequest* request,
                           v1::PruneImagesResponse* response) override;
  grpc::Status DescribeContainerHealth(grpc::ServerContext* context,
                                       const v1::DescribeContainerHealthRequest* request,
                                       v1::DescribeContainerHealthResponse* response) override;
  grpc::Status DescribeStats(grpc::ServerContext* context, const v1::DescribeStatsRequest* request,
                             v1::DescribeStatsResponse* response) override;

 private:
  // Loop thread: the current state of the watched tasks and services, as watch events (tasks,
  // then services, then a Failure for each one that does not exist).
  absl::StatusOr<std::vector<v1::WatchEvent>> Snapshot(const std::string& cluster,
                                                       const std::set<std::string>& task_arns,
                                                       const std::set<std::string>& service_names);

  // Where a command of an ExecuteCommand request runs: its words and the one running container
  // the request names. The errors say which field is wrong.
  struct ExecTarget {
    std::vector<std::string> argv;
    scheduler::ContainerLocation container;
  };
  absl::StatusOr<ExecTarget> FindExecTarget(const v1::ExecuteCommandRequest& request);

  ApiServer::Backends b_;
};

// Splits an ECS execute-command string into words as a shell would (spaces, '…', "…", \),
// without running a shell: the container needs none. InvalidArgument for unbalanced quotes.
absl::StatusOr<std::vector<std::string>> SplitCommand(const std::string& command);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_NODE_SERVICE_H_

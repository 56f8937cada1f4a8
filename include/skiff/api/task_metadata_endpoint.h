// TaskMetadataEndpoint: the task metadata endpoint (v4, and v3 with the same answers) as the
// ECS agent serves it to containers: GET ${ECS_CONTAINER_METADATA_URI_V4} (the container),
// .../task, .../stats and .../task/stats, in the agent's JSON shapes (src/api/task_metadata.h).
// A container reads only its own task: its URI's path is one only skiffd can make (its task id
// and index under a MAC with the node's key, src/api/metadata_token.h), and a request must come
// from the container's own address.
//
// It listens on one port at two addresses: the task bridge's gateway, which containers with
// namespaces on the bridge (bridge and awsvpc) reach, bound with IP_FREEBIND since the bridge
// comes with the first such task; and 127.0.0.1, which containers on the host's network reach
// (any local process may connect there; the path is what it cannot guess).
//
// Thread contract: Bind, Serve and Shutdown on the daemon's main thread; ContainerUri is const
// and may be called anywhere. Requests are served on the HTTP servers' threads, which post to
// the loop for the task and the stats of its containers and encode the answer themselves.
#ifndef SKIFF_API_TASK_METADATA_ENDPOINT_H_
#define SKIFF_API_TASK_METADATA_ENDPOINT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/scaling/stats_store.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/scheduler/task_metadata_uris.h"

namespace skiff::api {

class HttpServer;
struct HttpRequest;

class TaskMetadataEndpoint final : public scheduler::TaskMetadataUris {
 public:
  struct Options {
    std::string gateway;  // The task bridge's IPv4 gateway; "": host-network containers only.
    uint16_t port = 0;    // 0: one that is free at both addresses.
    // The node's key (32 bytes or more). The daemon keeps it, so that the URIs in running
    // containers stay valid across restarts.
    std::string key;
  };
  // Owned by the daemon, outliving Shutdown; called on the loop thread only.
  struct Backends {
    scheduler::EventLoop* loop;
    const scheduler::TaskManager* tasks;
    const scaling::StatsStore* stats;
  };

  // Binds both listeners (nothing is served before Serve). Unavailable, naming the address and
  // --metadata-port, when either is taken.
  static absl::StatusOr<std::unique_ptr<TaskMetadataEndpoint>> Bind(Options options);
  ~TaskMetadataEndpoint() override;

  uint16_t port() const { return port_; }

  // http://GATEWAY:PORT/v4/TOKEN (or 127.0.0.1 for a host-network container; /v3/ for 3).
  std::string ContainerUri(const std::string& task_id, int index, bool host_network,
                           int version) const override;

  absl::Status Serve(const Backends& backends);
  // Stops accepting and answers what is pending within `grace`.
  void Shutdown(absl::Duration grace);

 private:
  TaskMetadataEndpoint() = default;

  Options options_;
  uint16_t port_ = 0;
  std::vector<int> listeners_;  // Bound, until Serve hands them to the servers.
  std::vector<std::unique_ptr<HttpServer>> servers_;
};

}  // namespace skiff::api

#endif  // SKIFF_API_TASK_METADATA_ENDPOINT_H_

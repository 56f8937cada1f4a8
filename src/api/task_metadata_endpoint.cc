#include "skiff/api/task_metadata_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "api/http_server.h"
#include "api/metadata_token.h"
#include "api/task_metadata.h"
#include "spdlog/spdlog.h"

namespace skiff::api {
namespace {

constexpr int kPortAttempts = 16;  // Port 0: a port free at the gateway may be taken on lo.

// A listening TCP socket on ip:port; errno's error as the status, with the address named.
absl::StatusOr<int> Listen(const std::string& ip, uint16_t port, bool freebind) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // The gateway is on the bridge, which the first bridged task brings.
  if (freebind) setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
  sockaddr_in address{.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = {}};
  if (inet_pton(AF_INET, ip.c_str(), &address.sin_addr) != 1) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat("task metadata: not an IPv4 address: ", ip));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    const int error = errno;
    close(fd);
    return absl::Status(error == EADDRINUSE ? absl::StatusCode::kAlreadyExists
                                            : absl::StatusCode::kUnavailable,
                        absl::StrCat("task metadata: cannot listen on ", ip, ":", port, ": ",
                                     std::strerror(error), " (--metadata-port)"));
  }
  return fd;
}

uint16_t PortOf(int fd) {
  sockaddr_in address{};
  socklen_t size = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return 0;
  return ntohs(address.sin_port);
}

HttpResponse Answer(int status, nlohmann::json body) {
  return {.status = status,
          .headers = {{"Content-Type", "application/json"}},
          .body = body.dump()};
}

// A host-network container asks from the host's loopback; any other from its own address.
bool FromContainer(const scheduler::TaskDetails& task, int index, const std::string& peer) {
  const bool host = task.definition != nullptr && task.definition->network_mode() == "host";
  if (host) return absl::StartsWith(peer, "127.");
  for (const v1::NetworkInterface& ni : task.record.task.containers(index).network_interfaces()) {
    if (ni.private_ipv4_address() == peer) return true;
  }
  return false;
}

HostFacts ReadHostFacts() {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  return {.online_cpus = cpus > 0 ? static_cast<int>(cpus) : 1,
          .memory_bytes = pages > 0 && page_size > 0
                              ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                              : 0};
}

nlohmann::json Render(const TaskSnapshot& snapshot, int index, MetadataRoute::Kind kind,
                      const HostFacts& host) {
  switch (kind) {
    case MetadataRoute::Kind::kContainer:
      return ContainerMetadata(snapshot.task, index);
    case MetadataRoute::Kind::kTask:
      return TaskMetadata(snapshot.task);
    case MetadataRoute::Kind::kContainerStats:
      return ContainerStats(snapshot, index, host);
    case MetadataRoute::Kind::kTaskStats:
      return TaskStats(snapshot, host);
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TaskMetadataEndpoint>> TaskMetadataEndpoint::Bind(
    Options options) {
  std::unique_ptr<TaskMetadataEndpoint> endpoint(new TaskMetadataEndpoint());
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    uint16_t port = options.port;
    std::optional<int> gateway_fd;
    if (!options.gateway.empty()) {
      absl::StatusOr<int> fd = Listen(options.gateway, port, /*freebind=*/true);
      if (!fd.ok()) return fd.status();
      gateway_fd = *fd;
      port = PortOf(*fd);
    }
    absl::StatusOr<int> loopback = Listen("127.0.0.1", port, /*freebind=*/false);
    if (!loopback.ok()) {
      if (gateway_fd) close(*gateway_fd);
      if (options.port == 0 && gateway_fd && absl::IsAlreadyExists(loopback.status())) continue;
      return loopback.status();
    }
    endpoint->port_ = PortOf(*loopback);
    endpoint->listeners_.push_back(*loopback);
    if (gateway_fd) endpoint->listeners_.push_back(*gateway_fd);
    endpoint->options_ = std::move(options);
    return endpoint;
  }
  return absl::UnavailableError(
      absl::StrCat("task metadata: no port free at both ", options.gateway,
                   " and 127.0.0.1 in ", kPortAttempts, " tries (--metadata-port)"));
}

TaskMetadataEndpoint::~TaskMetadataEndpoint() {
  Shutdown(absl::ZeroDuration());
  for (int fd : listeners_) close(fd);
}

std::string TaskMetadataEndpoint::ContainerUri(const std::string& task_id, int index,
                                               bool host_network, int version) const {
  const std::string& host =
      host_network || options_.gateway.empty() ? std::string("127.0.0.1") : options_.gateway;
  return absl::StrCat("http://", host, ":", port_, "/v", version, "/",
                      MakeMetadataToken(options_.key, task_id, index));
}

absl::Status TaskMetadataEndpoint::Serve(const Backends& backends) {
  const HostFacts host = ReadHostFacts();
  auto handle = [backends, host, key = options_.key](HttpRequest request, Respond respond) {
    if (request.method != "GET") {
      return respond(Answer(405, "the task metadata endpoint answers GET only"));
    }
    const std::optional<MetadataRoute> route = ParseMetadataPath(request.path);
    const std::optional<MetadataSubject> subject =
        route ? ParseMetadataToken(key, route->token) : std::nullopt;
    if (!subject) return respond(Answer(404, "no such task metadata path: " + request.path));
    const bool posted = backends.loop->Post([backends, host, kind = route->kind, subject,
                                             peer = request.peer, respond] {
      absl::StatusOr<scheduler::TaskDetails> view = backends.tasks->ViewTask(subject->task_id);
      if (!view.ok() || subject->index >= view->record.task.containers_size()) {
        return respond(Answer(404, "the task of this container is gone"));
      }
      if (!FromContainer(*view, subject->index, peer)) {
        return respond(Answer(403, absl::StrCat("a container reads only its own task; ", peer,
                                                " is not this container's address")));
      }
      auto snapshot = std::make_shared<TaskSnapshot>(TaskSnapshot{.task = *std::move(view)});
      for (const v1::Container& c : snapshot->task.record.task.containers()) {
        const scaling::StatsStore::Entry* entry = backends.stats->Find(c.runtime_id());
        snapshot->stats.push_back(entry != nullptr ? std::optional(*entry) : std::nullopt);
      }
      HttpResponse response = Answer(200, nullptr);
      response.render_body = [snapshot, index = subject->index, kind, host] {
        return Render(*snapshot, index, kind, host).dump();
      };
      respond(std::move(response));
    });
    if (!posted) respond(Answer(503, "skiffd is shutting down"));
  };
  std::vector<int> listeners = std::exchange(listeners_, {});
  for (size_t i = 0; i < listeners.size(); ++i) {
    // The server owns its socket from here, started or not.
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
        {.address = absl::StrCat("port ", port_), .listen_fd = listeners[i],
         .max_body_bytes = 0, .max_header_bytes = 8 * 1024, .max_connections = 128,
         .threads = 1},
        handle);
    if (!server.ok()) {
      for (size_t j = i + 1; j < listeners.size(); ++j) close(listeners[j]);
      return server.status();
    }
    servers_.push_back(*std::move(server));
  }
  spdlog::info("task metadata endpoint on {}:{} and 127.0.0.1:{}", options_.gateway, port_,
               port_);
  return absl::OkStatus();
}

void TaskMetadataEndpoint::Shutdown(absl::Duration grace) {
  for (const std::unique_ptr<HttpServer>& server : servers_) server->Shutdown(grace);
}

}  // namespace skiff::api

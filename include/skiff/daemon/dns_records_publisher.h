// DnsRecordsPublisher: the ServiceEndpoints of the node's resolver (skiff-dns). It keeps the
// endpoints of every service the ServiceManager publishes, makes discovery::Records of them
// (BuildRecords) and writes them to the records file that skiff-dns watches.
//
// Names: SERVICE.CLUSTER.ZONE, each ECS name as its DNS label (discovery::DnsLabel: lower case,
// '_' becomes '-'); a service whose name or cluster's name has no label is not published. A
// records: the addresses of its endpoints. SRV: _PORT._tcp.SERVICE.CLUSTER.ZONE for each named
// port whose name (lower-cased, '_' as '-') is a label. Two services whose names meet in one
// DNS name: the first in (cluster, service) order has it, and the other is logged.
//
// Service Connect (PublishConnect): per service, its namespace, its aliases with the proxy's
// address, and its client tasks' addresses, which get the cluster's search domain; BuildRecords
// gathers them by namespace (Records::connect). An alias two services of one namespace claim
// goes to the first in (cluster, service) order (the node refuses the second when it is made).
//
// Writes go to the executor, off the loop, coalesced: at most one is in flight, and each one
// writes the records as they are when it starts, so a burst of changes costs one or two writes
// and the last state always reaches the file, within a loop turn and one write of the change.
// A failed write is logged and tried again after a second.
//
// It lives in the daemon, not the scheduler: discovery's library carries the resolver (ldns,
// OpenSSL), which the scheduler and its tests must not link.
//
// Thread contract: owned by the loop; every method on the loop thread. The executor must not
// run work after the loop has stopped (the daemon stops it first).
#ifndef SKIFF_DAEMON_DNS_RECORDS_PUBLISHER_H_
#define SKIFF_DAEMON_DNS_RECORDS_PUBLISHER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "skiff/discovery/records.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/executor.h"
#include "skiff/scheduler/service_endpoints.h"

namespace skiff::daemon {

using scheduler::Endpoint;
using scheduler::NamedPort;

// (cluster, service) -> its endpoints.
using EndpointsByService =
    std::map<std::pair<std::string, std::string>, std::vector<Endpoint>>;

// What one service adds to its Service Connect namespace.
struct ConnectPublication {
  std::string ns;
  std::map<std::string, std::string> aliases;  // dnsName -> the proxy's IPv4 address.
  std::vector<std::string> clients;            // Its running tasks' addresses.
  std::string search;                          // Their search domain (CLUSTER.ZONE).
  bool operator==(const ConnectPublication&) const = default;
};
using ConnectByService = std::map<std::pair<std::string, std::string>, ConnectPublication>;

// The records of `services` under `zone`, with `connect`'s namespaces (pure).
discovery::Records BuildRecords(const std::string& zone, const EndpointsByService& services,
                                const ConnectByService& connect = {});

struct DnsRecordsPublisherOptions {
  std::string zone = discovery::kDefaultZone;
  std::string path;  // The records file: discovery::RecordsPath(STATE_DIR/dns).
  // How a file is written (tests replace it); runs on the executor.
  std::function<absl::Status(const std::string& path, const discovery::Records&)> write =
      discovery::WriteRecordsFile;
};

class DnsRecordsPublisher final : public scheduler::ServiceEndpoints {
 public:
  // `loop` and `executor` must outlive the publisher.
  DnsRecordsPublisher(scheduler::EventLoop* loop, scheduler::Executor* executor,
                      DnsRecordsPublisherOptions options);

  absl::StatusOr<std::string> NameOf(const std::string& cluster,
                                     const std::string& service) const override;
  void Publish(const std::string& cluster, const std::string& service,
               std::vector<Endpoint> endpoints) override;
  void Forget(const std::string& cluster, const std::string& service) override;

  // Service Connect: the service's part of its namespace now (replaces what it published), and
  // its forgetting. Unknown services are ignored.
  void PublishConnect(const std::string& cluster, const std::string& service,
                      ConnectPublication publication);
  void ForgetConnect(const std::string& cluster, const std::string& service);

  // The search domain of the tasks of `cluster`: "CLUSTER.ZONE", or the zone alone when the
  // cluster's name has no DNS label. Any thread (pure).
  std::string SearchDomainOf(const std::string& cluster) const;

  // Calls `done` on the loop once everything published before this call is in the file (or its
  // write has failed), writing the file now if it has not been written since the start: the
  // daemon is ready only once the resolver answers from the state it has rebuilt.
  void WhenWritten(absl::AnyInvocable<void()> done);

  // Writes started so far (tests, the bench).
  int writes() const { return writes_; }

 private:
  void Changed();
  void PostWrite();
  void StartWrite();
  void Written(uint64_t generation, const absl::Status& status);

  scheduler::EventLoop* const loop_;
  scheduler::Executor* const executor_;
  const DnsRecordsPublisherOptions options_;
  EndpointsByService services_;
  ConnectByService connect_;
  // Each change makes a new generation; `written_` is the last one in the file.
  uint64_t generation_ = 1;
  uint64_t written_ = 0;
  bool in_flight_ = false;
  bool write_posted_ = false;
  int writes_ = 0;
  std::vector<std::pair<uint64_t, absl::AnyInvocable<void()>>> waiters_;
  // Expires with the publisher: a write's answer may come back to the loop after it.
  const std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace skiff::daemon

#endif  // SKIFF_DAEMON_DNS_RECORDS_PUBLISHER_H_

#include "skiff/daemon/dns_records_publisher.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "skiff/scheduler/event_loop.h"
#include "spdlog/spdlog.h"

namespace skiff::daemon {
namespace {

// A failed write is tried again after this.
constexpr absl::Duration kRetryAfter = absl::Seconds(1);

absl::StatusOr<std::string> ServiceName(const std::string& zone, const std::string& cluster,
                                        const std::string& service) {
  absl::StatusOr<std::string> service_label = discovery::DnsLabel(service);
  if (!service_label.ok()) return service_label.status();
  absl::StatusOr<std::string> cluster_label = discovery::DnsLabel(cluster);
  if (!cluster_label.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("its cluster's ", cluster_label.status().message()));
  }
  return absl::StrCat(*service_label, ".", *cluster_label, ".", zone);
}

void AddService(const std::string& name, const std::vector<Endpoint>& endpoints,
                discovery::Records& records) {
  std::vector<std::string>& a = records.a[name];
  std::set<std::string> seen;
  for (const Endpoint& e : endpoints) {
    if (seen.insert(e.address).second) a.push_back(e.address);
    for (const NamedPort& p : e.ports) {
      absl::StatusOr<std::string> port_label = discovery::DnsLabel(p.name);
      if (!port_label.ok()) continue;  // Not every port name can be a label: no SRV for it.
      records.srv[absl::StrCat("_", *port_label, "._tcp.", name)].push_back(
          {.address = p.address, .port = p.port});
    }
  }
}

void AddConnect(const ConnectByService& connect, discovery::Records& records) {
  for (const auto& [key, p] : connect) {
    discovery::ConnectNamespace& ns = records.connect[p.ns];
    for (const std::string& client : p.clients) ns.clients[client] = p.search;
    for (const auto& [name, address] : p.aliases) {
      if (!ns.aliases.emplace(name, address).second) {
        spdlog::warn("service connect: service {}/{}: alias {} of namespace {} is another "
                     "service's; not published", key.first, key.second, name, p.ns);
      }
    }
  }
}

}  // namespace

discovery::Records BuildRecords(const std::string& zone, const EndpointsByService& services,
                                const ConnectByService& connect) {
  discovery::Records records;
  AddConnect(connect, records);
  records.zone = zone;
  for (const auto& [key, endpoints] : services) {
    absl::StatusOr<std::string> name = ServiceName(zone, key.first, key.second);
    if (!name.ok()) continue;  // Said in the service's events when it was created.
    if (records.a.contains(*name)) {
      spdlog::warn("discovery: service {}/{} has the DNS name {} of another service; not "
                   "published", key.first, key.second, *name);
      continue;
    }
    AddService(*name, endpoints, records);
  }
  return records;
}

DnsRecordsPublisher::DnsRecordsPublisher(scheduler::EventLoop* loop, scheduler::Executor* executor,
                                         DnsRecordsPublisherOptions options)
    : loop_(loop), executor_(executor), options_(std::move(options)) {}

absl::StatusOr<std::string> DnsRecordsPublisher::NameOf(const std::string& cluster,
                                                        const std::string& service) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  return ServiceName(options_.zone, cluster, service);
}

std::string DnsRecordsPublisher::SearchDomainOf(const std::string& cluster) const {
  absl::StatusOr<std::string> label = discovery::DnsLabel(cluster);
  return label.ok() ? absl::StrCat(*label, ".", options_.zone) : options_.zone;
}

void DnsRecordsPublisher::Publish(const std::string& cluster, const std::string& service,
                                  std::vector<Endpoint> endpoints) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  auto [it, added] = services_.try_emplace({cluster, service});
  if (!added && it->second == endpoints) return;
  it->second = std::move(endpoints);
  Changed();
}

void DnsRecordsPublisher::PublishConnect(const std::string& cluster, const std::string& service,
                                         ConnectPublication publication) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  auto [it, added] = connect_.try_emplace({cluster, service});
  if (!added && it->second == publication) return;
  it->second = std::move(publication);
  Changed();
}

void DnsRecordsPublisher::ForgetConnect(const std::string& cluster, const std::string& service) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  if (connect_.erase({cluster, service}) > 0) Changed();
}

void DnsRecordsPublisher::Forget(const std::string& cluster, const std::string& service) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  if (services_.erase({cluster, service}) > 0) Changed();
}

void DnsRecordsPublisher::WhenWritten(absl::AnyInvocable<void()> done) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  if (written_ == generation_) {
    loop_->Post([done = std::move(done)]() mutable { done(); });
    return;
  }
  waiters_.emplace_back(generation_, std::move(done));
  PostWrite();
}

void DnsRecordsPublisher::Changed() {
  ++generation_;
  PostWrite();
}

void DnsRecordsPublisher::PostWrite() {
  if (in_flight_ || write_posted_) return;  // The write that follows the one in flight.
  write_posted_ = true;
  // After the loop's current work: a reconcile pass publishes many services in one turn.
  loop_->Post([this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    write_posted_ = false;
    StartWrite();
  });
}

void DnsRecordsPublisher::StartWrite() {
  if (in_flight_ || written_ == generation_) return;
  in_flight_ = true;
  ++writes_;
  const uint64_t generation = generation_;
  executor_->Run([this, loop = loop_, alive = std::weak_ptr<bool>(alive_), generation,
                  records = BuildRecords(options_.zone, services_, connect_),
                  path = options_.path,
                  write = options_.write] {
    absl::Status status = write(path, records);
    loop->Post([this, alive, generation, status = std::move(status)] {
      if (!alive.expired()) Written(generation, status);
    });
  });
}

void DnsRecordsPublisher::Written(uint64_t generation, const absl::Status& status) {
  in_flight_ = false;
  if (!status.ok()) {
    spdlog::error("discovery: cannot write the records for the resolver: {}", status.ToString());
    loop_->PostAfter(kRetryAfter, [this, alive = std::weak_ptr<bool>(alive_)] {
      if (!alive.expired()) StartWrite();
    });
  } else {
    written_ = generation;
  }
  // Waiters are told after a failure too: the daemon does not wait for a disk that fails.
  std::vector<absl::AnyInvocable<void()>> done;
  std::erase_if(waiters_, [generation, &done](auto& waiter) {
    if (waiter.first > generation) return false;
    done.push_back(std::move(waiter.second));
    return true;
  });
  if (status.ok() && written_ != generation_) StartWrite();
  for (absl::AnyInvocable<void()>& d : done) d();
}

}  // namespace skiff::daemon

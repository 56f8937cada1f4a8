// ResolverSupervisor: keeps the node's one skiff-dns running. skiff-dns (resolver.h) is a
// process of its own, as HAProxy is, so that it answers while skiffd is down or restarting and
// so that a flood of queries from a container never reaches skiffd's loop. It is started in its
// own session (stopping skiffd under systemd with KillMode=process leaves it running) and a
// later skiffd adopts it through its pid file in `dir`, checked against /proc/PID/cmdline.
//
// Create() adopts the skiff-dns running on `dir` when it runs with the same settings, else
// (re)starts it, and returns once it answers on its first listen address or with the error that
// kept it from starting (its own message: an address it cannot bind, a missing binary). From
// then on a thread of its own looks every 500 ms and restarts it when it has died, with
// back-off from 200 ms to 30 s while it keeps dying.
//
// Thread-safe. Shutdown(false) (skiffd's exit) leaves skiff-dns running; Shutdown(true) stops
// it and removes its pid file (tests, and a node that turns discovery off).
#ifndef SKIFF_DISCOVERY_RESOLVER_PROCESS_H_
#define SKIFF_DISCOVERY_RESOLVER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skiff::discovery {

struct ResolverSettings {
  std::string binary;  // skiff-dns; skiffd takes the one beside its own executable.
  std::string dir;     // STATE_DIR/dns: records.json (RecordsPath), the pid file, its log.
  // "ADDR:PORT" (IPv4) to answer on, UDP and TCP. Bound with IP_FREEBIND: the bridge's
  // address may not exist yet when skiff-dns starts (the bridge comes with the first task).
  std::vector<std::string> listen;
  // "ADDR" or "ADDR:PORT" of the resolvers that names outside the zone go to, at most 3, tried
  // in order; empty: the nameservers of the host's /etc/resolv.conf.
  std::vector<std::string> upstreams;
};

class ResolverSupervisor {
 public:
  static absl::StatusOr<std::unique_ptr<ResolverSupervisor>> Create(ResolverSettings settings);
  virtual ~ResolverSupervisor() = default;

  virtual void Shutdown(bool stop_resolver) = 0;
};

}  // namespace skiff::discovery

#endif  // SKIFF_DISCOVERY_RESOLVER_PROCESS_H_

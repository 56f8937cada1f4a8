// Records: what the node's resolver (skiff-dns, resolver.h) answers for the discovery zone.
// skiffd computes them on its loop from its services and their tasks and publishes them as one
// JSON file, replaced atomically (WriteRecordsFile); skiff-dns watches the file and answers from
// the last complete version it read, so it answers on while skiffd is down or restarting.
//
// Names are fully qualified, lower case, without the trailing dot, and lie under `zone`:
//   a:   "web.default.skiff.internal"             -> task IPs (IPv4)
//   srv: "_http._tcp.web.default.skiff.internal"  -> task IP and container port
// A name with an empty list exists (NOERROR, no answer: a service with no ready task); a name
// in the zone that is in neither map does not (NXDOMAIN).
//
// Service Connect (`connect`, by namespace): the client aliases of a namespace's services, each
// answered with the address where the node's proxy listens for it, only to the namespace's
// client tasks (by their source address). An alias name need not lie in the zone ("backend",
// "api.internal"); a client's resolv.conf search domain makes "backend" arrive as
// "backend.CLUSTER.ZONE" first, so each alias is also answered under its client's search
// domain. Every other source gets what it would get without them. Pure values; any thread.
#ifndef SKIFF_DISCOVERY_RECORDS_H_
#define SKIFF_DISCOVERY_RECORDS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::discovery {

inline constexpr char kDefaultZone[] = "skiff.internal";
// TTL of every answer from the zone, in seconds: a stopped task leaves clients' caches at once.
inline constexpr int kRecordTtlSeconds = 1;

struct SrvTarget {
  std::string address;  // IPv4, the task's.
  int port = 0;         // The container port.

  friend bool operator==(const SrvTarget&, const SrvTarget&) = default;
};

// What the client tasks of one Service Connect namespace see.
struct ConnectNamespace {
  // Each client task's IPv4 address, with its search domain ("default.skiff.internal").
  std::map<std::string, std::string> clients;
  // Each alias name (lower case, no trailing dot) with the IPv4 address of its proxy.
  std::map<std::string, std::string> aliases;

  friend bool operator==(const ConnectNamespace&, const ConnectNamespace&) = default;
};

struct Records {
  std::string zone = kDefaultZone;
  std::map<std::string, std::vector<std::string>> a;
  std::map<std::string, std::vector<SrvTarget>> srv;
  std::map<std::string, ConnectNamespace> connect;  // By namespace name.

  friend bool operator==(const Records&, const Records&) = default;
};

std::string EncodeRecords(const Records& records);
// InvalidArgument naming the member when `json` is not what EncodeRecords writes, or a name
// lies outside the zone (aliases aside), or an address is not IPv4. `connect` may be absent (a
// file of an older skiffd).
absl::StatusOr<Records> DecodeRecords(absl::string_view json);

// Where skiffd publishes the records in the resolver's directory (STATE_DIR/dns).
std::string RecordsPath(const std::string& dir);
absl::Status WriteRecordsFile(const std::string& path, const Records& records);
absl::StatusOr<Records> ReadRecordsFile(const std::string& path);

// The DNS label an ECS service or cluster name is found under. ECS names take letters, digits,
// '-' and '_' (up to 255); a label takes letters, digits and '-' (up to 63, not at either end)
// and is compared without case. The mapping: lower case, '_' becomes '-'. InvalidArgument, with
// a message that says why, when the name has no such label (too long, '-' or '_' at an end).
absl::StatusOr<std::string> DnsLabel(absl::string_view ecs_name);

}  // namespace skiff::discovery

#endif  // SKIFF_DISCOVERY_RECORDS_H_

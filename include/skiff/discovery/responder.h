// Responder: the answering half of the node's resolver (skiff-dns), without sockets. Built from
// one version of the Records, it turns a query's wire bytes into the response's wire bytes, or
// says that the query is for a name outside the zone (forward it) or is not worth an answer.
//
// What it answers (ADR 0014): A and SRV from the records, SOA and NS at the apex, TTL
// kRecordTtlSeconds; a name that exists without data of the asked type is NOERROR with the SOA
// in the authority section (NODATA), as are the empty non-terminals above every name; a name
// in the zone that does not exist is NXDOMAIN with the SOA. An SRV target is a name of its own,
// "<a-b-c-d>.<the SRV name without its leading _labels>" ("10-213-0-5.web.default.skiff.internal"
// for "_http._tcp.web.default.skiff.internal"), which this zone answers with that one address,
// and whose A record rides in the additional section.
//
// Service Connect aliases (Records::connect) are answered before anything else, and only to a
// client task of their namespace (the query's source address): the alias name, and the alias
// under that client's search domain, in the zone or not. A: the proxy's address; any other
// type: NOERROR with no answer (the name exists, for that client). To every other source an
// alias name is what it would be without it: forwarded, or the zone's answer.
//
// Immutable after construction: Answer() may be called from any thread.
#ifndef SKIFF_DISCOVERY_RESPONDER_H_
#define SKIFF_DISCOVERY_RESPONDER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/strings/string_view.h"
#include "skiff/discovery/records.h"

namespace skiff::discovery {

enum class Transport { kUdp, kTcp };

struct Reply {
  enum class Action {
    kRespond,  // Send `wire` back.
    kForward,  // A name outside the zone: the query goes to an upstream resolver.
    kDrop,     // A response, or too short to carry an id: send nothing.
  };
  Action action = Action::kDrop;
  std::string wire;
};

// The largest UDP response without EDNS (RFC 1035), and the size this resolver offers.
inline constexpr size_t kPlainUdpLimit = 512;
inline constexpr uint16_t kOfferedUdpSize = 1232;

class Responder {
 public:
  // `nameserver`: the IPv4 address that "ns.<zone>", the apex NS, resolves to; "" for none.
  // Names outside the zone and addresses that are not IPv4 are left out.
  explicit Responder(const Records& records, const std::string& nameserver = "");

  // `source`: the client's IPv4 address in network byte order (0: none known).
  Reply Answer(absl::string_view query, Transport transport, uint32_t source = 0) const;
  // Whether `source` (network byte order) gets answers of its own: a cache of answers must
  // key them by the source then.
  bool Scoped(uint32_t source) const { return views_.contains(source); }

  const std::string& zone() const { return zone_; }

 private:
  struct Service {
    std::string target;  // Fully qualified, lower case, no trailing dot.
    uint32_t address;    // Network byte order.
    uint16_t port;
  };

  // Alias names (lower case, no trailing dot) -> the proxy's address, as one client sees them.
  using View = std::unordered_map<std::string, uint32_t>;

  void AddAddress(const std::string& name, uint32_t address);
  void AddName(const std::string& name);
  void AddViews(const Records& records);
  // The view of `source`, or null.
  const View* ViewOf(uint32_t source) const;

  std::string zone_;
  uint32_t serial_;
  // Lower-case names without the trailing dot.
  std::unordered_map<std::string, std::vector<uint32_t>> a_;
  std::unordered_map<std::string, std::vector<Service>> srv_;
  std::unordered_set<std::string> names_;  // Every name that exists, empty non-terminals too.
  // Each Service Connect client's view, by its address; clients of one namespace with one
  // search domain share theirs.
  std::unordered_map<uint32_t, std::shared_ptr<const View>> views_;

  friend class ResponseBuilder;
};

// SERVFAIL for `query` (its id, RD and question): what a client gets when no upstream answered
// a forwarded query in time, or when the forwarding table is full. "" when `query` is not a
// query ldns can read.
std::string ServerFailure(absl::string_view query);
// REFUSED for `query`, likewise: the TCP forwarding workers are all busy.
std::string Refusal(absl::string_view query);

// Whether `response` is a response to `query`: the same id and the same one question (name
// without case, type, class). Guards the forwarding table against stray and spoofed answers.
bool AnswersQuery(absl::string_view query, absl::string_view response);

}  // namespace skiff::discovery

#endif  // SKIFF_DISCOVERY_RESPONDER_H_

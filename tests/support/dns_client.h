// DNS from tests and benches, on loopback: queries built and responses read with ldns (the
// resolver's own library, never by hand), exchanged over UDP or TCP, and SkiffDnsProcess, a
// private skiff-dns on a free loopback port with its records in a directory of the caller's.
// Responses come back as text, so that callers need no ldns. Any thread; SkiffDnsProcess from
// the thread that owns it.
#ifndef SKIFF_TESTS_SUPPORT_DNS_CLIENT_H_
#define SKIFF_TESTS_SUPPORT_DNS_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "skiff/discovery/records.h"

namespace skiff::testing {

struct DnsQueryOptions {
  uint16_t id = 4242;
  std::string rr_class = "IN";  // "CH", "ANY"...
  uint16_t edns_size = 0;       // 0: no OPT record.
  int question_count = 1;       // 2: the question twice.
};

// The wire form of a query for `name` (with or without the trailing dot) and `type` ("A").
std::string DnsQuery(const std::string& name, const std::string& type,
                     const DnsQueryOptions& options = {});

struct DnsResponse {
  uint16_t id = 0;
  std::string rcode;  // "NOERROR", "NXDOMAIN", "SERVFAIL" ...
  bool aa = false;
  bool tc = false;
  // "owner ttl TYPE rdata" with ldns's text, e.g. "web.skiff.internal. 1 A 10.0.0.1".
  std::vector<std::string> answer;
  std::vector<std::string> authority;
  std::vector<std::string> additional;
};

absl::StatusOr<DnsResponse> ParseDnsResponse(absl::string_view wire);

// One datagram to 127.0.0.1:port (or `ipv4`:port) and the first datagram back;
// DeadlineExceeded when none comes within `timeout`.
absl::StatusOr<std::string> UdpExchange(int port, absl::string_view wire,
                                        absl::Duration timeout);
absl::StatusOr<std::string> UdpExchange(const std::string& ipv4, int port,
                                        absl::string_view wire, absl::Duration timeout);
// One framed message over a new TCP connection and the framed answer.
absl::StatusOr<std::string> TcpExchange(int port, absl::string_view wire,
                                        absl::Duration timeout);

// DnsQuery, the exchange and ParseDnsResponse in one.
absl::StatusOr<DnsResponse> AskDns(int port, const std::string& name, const std::string& type,
                                   absl::Duration timeout, bool tcp = false);
// The same over UDP to `ipv4`:port, a server on an address of this host other than loopback
// (skiffd's skiff-dns on its bridge's gateway, say).
absl::StatusOr<DnsResponse> AskDnsAt(const std::string& ipv4, int port, const std::string& name,
                                     const std::string& type, absl::Duration timeout);

// A port on 127.0.0.1 that was free for both UDP and TCP a moment ago.
absl::StatusOr<int> PickFreeDnsPort();

// skiff-dns on 127.0.0.1:port() answering `records`, written to `dir`/records.json first.
// Start returns once it answers the zone's SOA. The destructor stops it (SIGTERM, then SIGKILL)
// and reaps it; it dies with the thread that started it.
class SkiffDnsProcess {
 public:
  static absl::StatusOr<std::unique_ptr<SkiffDnsProcess>> Start(
      const std::string& binary, const std::string& dir, const discovery::Records& records,
      const std::vector<std::string>& upstreams);
  ~SkiffDnsProcess();
  SkiffDnsProcess(const SkiffDnsProcess&) = delete;
  SkiffDnsProcess& operator=(const SkiffDnsProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string address() const;  // "127.0.0.1:PORT"

 private:
  SkiffDnsProcess(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

}  // namespace skiff::testing

#endif  // SKIFF_TESTS_SUPPORT_DNS_CLIENT_H_

#include "support/dns_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>  // Before ldns, which otherwise defines true and false as macros.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include <cerrno>
#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "support/ldns_text.h"
#include "support/loopback.h"
#include "support/subprocess.h"

namespace skiff::testing {
namespace {

// Waits until `fd` has `events` or `deadline`.
bool WaitFor(int fd, short events, absl::Time deadline) {
  const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (left <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(left)) == 1;
}

}  // namespace

std::string DnsQuery(const std::string& name, const std::string& type,
                     const DnsQueryOptions& options) {
  const std::string fqdn = name.empty() || name.back() != '.' ? name + "." : name;
  ldns_pkt* pkt = ldns_pkt_query_new(ldns_dname_new_frm_str(fqdn.c_str()),
                                     ldns_get_rr_type_by_name(type.c_str()),
                                     ldns_get_rr_class_by_name(options.rr_class.c_str()), LDNS_RD);
  ldns_pkt_set_id(pkt, options.id);
  if (options.edns_size != 0) ldns_pkt_set_edns_udp_size(pkt, options.edns_size);
  for (int i = 1; i < options.question_count; ++i) {
    ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION,
                     ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)));
  }
  uint8_t* wire = nullptr;
  size_t size = 0;
  ldns_pkt2wire(&wire, pkt, &size);
  ldns_pkt_free(pkt);
  std::string out(reinterpret_cast<const char*>(wire), size);
  free(wire);
  return out;
}

absl::StatusOr<DnsResponse> ParseDnsResponse(absl::string_view wire) {
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, reinterpret_cast<const uint8_t*>(wire.data()), wire.size()) !=
      LDNS_STATUS_OK) {
    return absl::InvalidArgumentError("not a DNS message");
  }
  absl::Cleanup free_pkt = [pkt] { ldns_pkt_free(pkt); };
  DnsResponse r;
  r.id = ldns_pkt_id(pkt);
  const ldns_lookup_table* rcode =
      ldns_lookup_by_id(ldns_rcodes, static_cast<int>(ldns_pkt_get_rcode(pkt)));
  r.rcode = rcode != nullptr ? rcode->name : absl::StrCat(ldns_pkt_get_rcode(pkt));
  r.aa = ldns_pkt_aa(pkt);
  r.tc = ldns_pkt_tc(pkt);
  r.answer = LdnsSection(pkt, LDNS_SECTION_ANSWER);
  r.authority = LdnsSection(pkt, LDNS_SECTION_AUTHORITY);
  r.additional = LdnsSection(pkt, LDNS_SECTION_ADDITIONAL);
  return r;
}

absl::StatusOr<std::string> UdpExchange(int port, absl::string_view wire,
                                        absl::Duration timeout) {
  return UdpExchange("127.0.0.1", port, wire, timeout);
}

absl::StatusOr<std::string> UdpExchange(const std::string& ipv4, int port,
                                        absl::string_view wire, absl::Duration timeout) {
  sockaddr_in to = LoopbackAddress(port);
  if (inet_pton(AF_INET, ipv4.c_str(), &to.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", ipv4));
  }
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  absl::Cleanup close_fd = [fd] { close(fd); };
  if (sendto(fd, wire.data(), wire.size(), 0, reinterpret_cast<const sockaddr*>(&to),
             sizeof(to)) < 0) {
    return absl::ErrnoToStatus(errno, "sendto");
  }
  if (!WaitFor(fd, POLLIN, absl::Now() + timeout)) {
    return absl::DeadlineExceededError(absl::StrCat("no answer from ", ipv4, ":", port));
  }
  std::string buffer(65536, '\0');
  const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
  if (n < 0) return absl::ErrnoToStatus(errno, "recv");
  buffer.resize(static_cast<size_t>(n));
  return buffer;
}

absl::StatusOr<std::string> TcpExchange(int port, absl::string_view wire,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot connect to port ", port));
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string framed = {static_cast<char>(wire.size() >> 8), static_cast<char>(wire.size())};
  framed.append(wire.data(), wire.size());
  if (!SendAll(fd, framed)) return absl::UnavailableError("send");
  std::string in;
  char buffer[4096];
  while (in.size() < 2 ||
         in.size() < 2 + ((static_cast<size_t>(static_cast<uint8_t>(in[0])) << 8) |
                          static_cast<uint8_t>(in[1]))) {
    if (!WaitFor(fd, POLLIN, deadline)) return absl::DeadlineExceededError("no TCP answer");
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return absl::UnavailableError("connection closed");
    in.append(buffer, static_cast<size_t>(n));
  }
  return in.substr(2);
}

absl::StatusOr<DnsResponse> AskDns(int port, const std::string& name, const std::string& type,
                                   absl::Duration timeout, bool tcp) {
  const std::string query = DnsQuery(name, type);
  absl::StatusOr<std::string> wire =
      tcp ? TcpExchange(port, query, timeout) : UdpExchange(port, query, timeout);
  if (!wire.ok()) return wire.status();
  return ParseDnsResponse(*wire);
}

absl::StatusOr<DnsResponse> AskDnsAt(const std::string& ipv4, int port, const std::string& name,
                                     const std::string& type, absl::Duration timeout) {
  absl::StatusOr<std::string> wire = UdpExchange(ipv4, port, DnsQuery(name, type), timeout);
  if (!wire.ok()) return wire.status();
  return ParseDnsResponse(*wire);
}

absl::StatusOr<int> PickFreeDnsPort() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    absl::StatusOr<int> port = PickFreeLoopbackPort();
    if (!port.ok()) return port.status();
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const sockaddr_in address = LoopbackAddress(*port);
    const bool free_udp =
        fd >= 0 && bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
    if (fd >= 0) close(fd);
    if (free_udp) return *port;
  }
  return absl::UnavailableError("no port free for both UDP and TCP");
}

absl::StatusOr<std::unique_ptr<SkiffDnsProcess>> SkiffDnsProcess::Start(
    const std::string& binary, const std::string& dir, const discovery::Records& records,
    const std::vector<std::string>& upstreams) {
  if (absl::Status s = discovery::WriteRecordsFile(discovery::RecordsPath(dir), records);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<int> port = PickFreeDnsPort();
  if (!port.ok()) return port.status();
  ChildSpec spec;
  spec.path = binary;
  spec.argv = {binary, "--listen", absl::StrCat("127.0.0.1:", *port), "--records",
               discovery::RecordsPath(dir), "--log-level", "warn"};
  for (const std::string& u : upstreams) {
    spec.argv.push_back("--upstream");
    spec.argv.push_back(u);
  }
  const std::string log = absl::StrCat(dir, "/skiff-dns.", *port, ".log");
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  spec.stdout_fd = log_fd;
  spec.stderr_fd = log_fd;
  spec.die_with_parent = true;
  absl::StatusOr<pid_t> pid = Spawn(spec);
  if (log_fd >= 0) close(log_fd);
  if (!pid.ok()) return pid.status();
  auto process = std::unique_ptr<SkiffDnsProcess>(new SkiffDnsProcess(*pid, *port));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (AskDns(*port, records.zone, "SOA", absl::Milliseconds(20)).ok()) return process;
    if (waitpid(*pid, nullptr, WNOHANG) == *pid) {
      process->pid_ = -1;
      return absl::FailedPreconditionError(absl::StrCat("skiff-dns exited; see ", log));
    }
  }
  return absl::DeadlineExceededError(absl::StrCat("skiff-dns did not answer; see ", log));
}

SkiffDnsProcess::~SkiffDnsProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (waitpid(pid_, nullptr, WNOHANG) == 0) {
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      return;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
}

std::string SkiffDnsProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

}  // namespace skiff::testing

// The node's resolver (issue 19, ADR 0014): skiff-dns against dnsmasq, side by side in one run,
// both on loopback with the same 100 names of two A records each, TTL 1:
//   1. latency at a fixed rate (open loop: queries leave on schedule whether or not the answers
//      came back), p50/p99/max and answers lost, over `--seconds` each, in four turns;
//   2. the most queries per second either answers with 64 queries in flight (closed loop).
// One UDP client socket per run, on its own thread. Usage:
//   dns_bench [--seconds 10] [--rate 1000] [--dnsmasq /usr/sbin/dnsmasq]
// Prints a table; not a test.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "machine.h"
#include "skiff/base/files.h"
#include "skiff/discovery/records.h"
#include "support/dns_client.h"
#include "support/loopback.h"
#include "support/subprocess.h"

namespace {

using skiff::discovery::Records;
using skiff::testing::DnsQuery;
using skiff::testing::DnsQueryOptions;

constexpr int kNames = 100;
constexpr int kInFlight = 64;
constexpr int kTurns = 4;  // The fixed-rate runs alternate between the servers this many times.

std::string Name(int i) { return absl::StrCat("svc-", i, ".default.skiff.internal"); }

Records BenchRecords() {
  Records r;
  for (int i = 0; i < kNames; ++i) {
    r.a[Name(i)] = {absl::StrCat("10.213.", i / 100, ".", i % 100 + 1),
                    absl::StrCat("10.213.", i / 100, ".", i % 100 + 101)};
  }
  return r;
}

// dnsmasq answering the same names from a hosts file: no upstreams, no cache of its own.
class Dnsmasq {
 public:
  static std::unique_ptr<Dnsmasq> Start(const std::string& binary, const std::string& dir,
                                        const Records& records) {
    std::string hosts;
    for (const auto& [name, addresses] : records.a) {
      for (const std::string& a : addresses) absl::StrAppend(&hosts, a, " ", name, "\n");
    }
    const std::string hosts_file = dir + "/hosts";
    if (!skiff::WriteFileAtomically(hosts_file, hosts, 0644).ok()) return nullptr;
    chmod(dir.c_str(), 0755);  // dnsmasq reads the file as nobody.
    absl::StatusOr<int> port = skiff::testing::PickFreeDnsPort();
    if (!port.ok()) return nullptr;
    skiff::testing::ChildSpec spec;
    spec.path = binary;
    spec.argv = {binary, "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
                 absl::StrCat("--port=", *port), "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--local=/skiff.internal/",
                 absl::StrCat("--addn-hosts=", hosts_file), "--local-ttl=1"};
    spec.die_with_parent = true;
    absl::StatusOr<pid_t> pid = skiff::testing::Spawn(spec);
    if (!pid.ok()) return nullptr;
    auto d = std::unique_ptr<Dnsmasq>(new Dnsmasq(*pid, *port));
    for (int i = 0; i < 200; ++i) {
      if (skiff::testing::AskDns(*port, Name(0), "A", absl::Milliseconds(20)).ok()) return d;
    }
    return nullptr;
  }
  ~Dnsmasq() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }

 private:
  Dnsmasq(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

struct Result {
  int sent = 0;
  int answered = 0;
  std::vector<double> latencies_ms;
  double qps = 0;
};

void Merge(Result& into, const Result& from) {
  into.sent += from.sent;
  into.answered += from.answered;
  into.latencies_ms.insert(into.latencies_ms.end(), from.latencies_ms.begin(),
                           from.latencies_ms.end());
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

int ClientSocket(int port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const sockaddr_in to = skiff::testing::LoopbackAddress(port);
  connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  return fd;
}

// The queries, one per (id, name): id i asks for Name(i % kNames).
std::vector<std::string> Queries() {
  std::vector<std::string> out;
  for (int id = 0; id < 65536; ++id) {
    out.push_back(DnsQuery(Name(id % kNames), "A", {.id = static_cast<uint16_t>(id)}));
  }
  return out;
}

// Reads every answer waiting on `fd`, recording each one's latency against `sent_at`.
void Drain(int fd, std::vector<absl::Time>& sent_at, Result& result) {
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 2) return;
    const absl::Time now = absl::Now();
    const uint16_t id = static_cast<uint16_t>((static_cast<uint8_t>(buffer[0]) << 8) |
                                              static_cast<uint8_t>(buffer[1]));
    if (sent_at[id] == absl::InfinitePast()) continue;
    result.latencies_ms.push_back(absl::ToDoubleMilliseconds(now - sent_at[id]));
    sent_at[id] = absl::InfinitePast();
    ++result.answered;
  }
}

Result FixedRate(int port, int rate, absl::Duration length,
                 const std::vector<std::string>& queries) {
  Result result;
  const int fd = ClientSocket(port);
  std::vector<absl::Time> sent_at(65536, absl::InfinitePast());
  const absl::Duration interval = absl::Seconds(1) / rate;
  const absl::Time start = absl::Now();
  const absl::Time end = start + length;
  absl::Time next = start;
  while (next < end) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(next - absl::Now());
    if (wait_ms > 0) {
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(wait_ms));
      Drain(fd, sent_at, result);
      continue;
    }
    Drain(fd, sent_at, result);
    const uint16_t id = static_cast<uint16_t>(result.sent);
    sent_at[id] = absl::Now();
    send(fd, queries[id].data(), queries[id].size(), 0);
    ++result.sent;
    next += interval;
  }
  const absl::Time grace = absl::Now() + absl::Milliseconds(500);  // The last answers.
  while (absl::Now() < grace && result.answered < result.sent) {
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 10);
    Drain(fd, sent_at, result);
  }
  close(fd);
  return result;
}

// Closed loop: kInFlight queries outstanding; one lost for 100 ms is sent again under a new id.
Result MaxThroughput(int port, absl::Duration length, const std::vector<std::string>& queries) {
  Result result;
  const int fd = ClientSocket(port);
  std::vector<absl::Time> sent_at(65536, absl::InfinitePast());
  const absl::Time start = absl::Now();
  const auto send_one = [&] {
    const uint16_t id = static_cast<uint16_t>(result.sent++);
    sent_at[id] = absl::Now();
    send(fd, queries[id].data(), queries[id].size(), 0);
  };
  for (int i = 0; i < kInFlight; ++i) send_one();
  while (absl::Now() - start < length) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) == 0) {  // Lost: refill the window.
      std::fill(sent_at.begin(), sent_at.end(), absl::InfinitePast());
      for (int i = 0; i < kInFlight; ++i) send_one();
      continue;
    }
    const int before = result.answered;
    Drain(fd, sent_at, result);
    for (int i = before; i < result.answered; ++i) send_one();
  }
  result.qps = result.answered / absl::ToDoubleSeconds(absl::Now() - start);
  close(fd);
  return result;
}

void PrintRow(const std::string& server, const Result& fixed, const Result& max) {
  std::printf("%-10s | %6d | %8d | %5d | %8.3f | %8.3f | %8.3f | %9.0f\n", server.c_str(),
              fixed.sent, fixed.answered, fixed.sent - fixed.answered,
              Quantile(fixed.latencies_ms, 0.5), Quantile(fixed.latencies_ms, 0.99),
              Quantile(fixed.latencies_ms, 1.0), max.qps);
}

int Run(double seconds, int rate, const std::string& dnsmasq_binary) {
  skiff::bench::ScratchDir dir("/tmp", "skiff-dns-bench");
  skiff::bench::ScratchDir dnsmasq_dir("/tmp", "skiff-dnsmasq-bench");
  if (dir.path().empty() || dnsmasq_dir.path().empty()) return 1;
  const Records records = BenchRecords();
  absl::StatusOr<std::unique_ptr<skiff::testing::SkiffDnsProcess>> skiff_dns =
      skiff::testing::SkiffDnsProcess::Start(SKIFF_DNS_BINARY, dir.path(), records, {});
  if (!skiff_dns.ok()) {
    std::fprintf(stderr, "dns_bench: skiff-dns: %s\n", skiff_dns.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<Dnsmasq> dnsmasq = Dnsmasq::Start(dnsmasq_binary, dnsmasq_dir.path(), records);
  if (dnsmasq == nullptr) {
    std::fprintf(stderr, "dns_bench: dnsmasq (%s) did not answer\n", dnsmasq_binary.c_str());
    return 1;
  }
  skiff::bench::PrintMachineHeader(
      std::cout, {{"setup", absl::StrFormat("%d names x 2 A records, TTL 1, UDP on loopback; "
                                            "%d q/s for %.0f s, then %d in flight for %.0f s",
                                            kNames, rate, seconds, kInFlight, seconds / 2)}});
  std::cout.flush();
  const std::vector<std::string> queries = Queries();
  const absl::Duration length = absl::Seconds(seconds);
  // In turns, so that what else the machine does in the meantime falls on both alike.
  Result skiff_fixed;
  Result dnsmasq_fixed;
  for (int turn = 0; turn < kTurns; ++turn) {
    Merge(skiff_fixed, FixedRate((*skiff_dns)->port(), rate, length / kTurns, queries));
    Merge(dnsmasq_fixed, FixedRate(dnsmasq->port(), rate, length / kTurns, queries));
  }
  const Result skiff_max = MaxThroughput((*skiff_dns)->port(), length / 2, queries);
  const Result dnsmasq_max = MaxThroughput(dnsmasq->port(), length / 2, queries);
  std::printf("\n%-10s | %6s | %8s | %5s | %8s | %8s | %8s | %9s\n", "server", "sent",
              "answered", "lost", "p50 ms", "p99 ms", "max ms", "max q/s");
  std::printf("%s\n", std::string(86, '-').c_str());
  PrintRow("skiff-dns", skiff_fixed, skiff_max);
  PrintRow("dnsmasq", dnsmasq_fixed, dnsmasq_max);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  int rate = 1000;
  std::string dnsmasq = "/usr/sbin/dnsmasq";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--rate") == 0 && i + 1 < argc) {
      rate = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--dnsmasq") == 0 && i + 1 < argc) {
      dnsmasq = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--seconds 10] [--rate 1000] [--dnsmasq PATH]\n",
                   argv[0]);
      return 2;
    }
  }
  if (seconds <= 0 || rate <= 0) return 2;
  return Run(seconds, rate, dnsmasq);
}

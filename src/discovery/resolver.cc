#include "skiff/discovery/resolver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <queue>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "skiff/base/clock.h"
#include "skiff/base/files.h"
#include "skiff/base/random.h"
#include "skiff/discovery/records.h"
#include "skiff/discovery/responder.h"
#include "discovery/ldns_support.h"
#include "spdlog/spdlog.h"

namespace skiff::discovery {
namespace {

constexpr size_t kMaxMessage = 65535;
constexpr size_t kMaxTcpOutput = 1 << 20;  // A client that reads slower than this is dropped.
constexpr int kUdpBuffer = 1 << 20;

// What an epoll event is about: the kind in the high half of its u64, the fd in the low half.
enum class Source : uint32_t { kUdp, kTcpListen, kTcpConn, kUpstream, kInotify, kWake };

uint64_t Tag(Source source, int fd) {
  return (static_cast<uint64_t>(source) << 32) | static_cast<uint32_t>(fd);
}

std::string Describe(const sockaddr_in& address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address.sin_addr, text, sizeof(text));
  return absl::StrCat(text, ":", ntohs(address.sin_port));
}

bool SameAddress(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<int> BindSocket(const sockaddr_in& address, int type) {
  const int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // The bridge's gateway address may not exist yet: it comes with the first bridged task.
  setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
  if (type == SOCK_DGRAM) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kUdpBuffer, sizeof(kUdpBuffer));
  const bool stream = type == SOCK_STREAM;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
      (stream && listen(fd, 128) != 0)) {
    const int error = errno;
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("cannot bind ", stream ? "TCP " : "UDP ",
                                                      Describe(address), ": ",
                                                      std::strerror(error)));
  }
  return fd;
}

// The two-byte length before each message over TCP (RFC 1035 4.2.2); `buffer` holds two bytes.
size_t FrameLength(const std::string& buffer) {
  return (static_cast<size_t>(static_cast<uint8_t>(buffer[0])) << 8) |
         static_cast<uint8_t>(buffer[1]);
}

// One TCP exchange with an upstream: connect, send the framed query, read the framed answer,
// all before `deadline`. "" on any failure.
std::string AskOverTcp(const sockaddr_in& upstream, const std::string& query,
                       absl::Time deadline) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  absl::Cleanup close_fd = [fd] { close(fd); };
  const auto wait_for = [&](short events) -> bool {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    return poll(&p, 1, static_cast<int>(left)) == 1 && (p.revents & events) != 0;
  };
  if (connect(fd, reinterpret_cast<const sockaddr*>(&upstream), sizeof(upstream)) != 0 &&
      (errno != EINPROGRESS || !wait_for(POLLOUT))) {
    return "";
  }
  std::string out = {static_cast<char>(query.size() >> 8), static_cast<char>(query.size() & 0xff)};
  out += query;
  for (size_t sent = 0; sent < out.size();) {
    const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<size_t>(n);
    else if (n < 0 && errno != EAGAIN && errno != EINTR) return "";
    else if (!wait_for(POLLOUT)) return "";
  }
  std::string in;
  char buffer[4096];
  while (in.size() < 2 || in.size() < 2 + FrameLength(in)) {
    if (!wait_for(POLLIN)) return "";
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return "";
    if (n > 0) in.append(buffer, static_cast<size_t>(n));
  }
  return in.substr(2, FrameLength(in));
}

}  // namespace

absl::StatusOr<sockaddr_in> ParseAddress(absl::string_view text, int default_port) {
  std::string host(text);
  int port = default_port;
  if (const size_t colon = text.rfind(':'); colon != absl::string_view::npos) {
    host = std::string(text.substr(0, colon));
    if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": not a port 1-65535"));
    }
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (port == 0 || inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": not an IPv4 address", port == 0 ? " and port" : ""));
  }
  return address;
}

std::vector<std::string> ResolvConfNameservers(absl::string_view text) {
  std::vector<std::string> servers;
  for (const absl::string_view line : absl::StrSplit(text, '\n')) {
    const std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() < 2 || words[0] != "nameserver") continue;
    in_addr parsed{};
    if (inet_pton(AF_INET, std::string(words[1]).c_str(), &parsed) != 1) continue;
    if (servers.size() < kMaxUpstreams) servers.emplace_back(words[1]);
  }
  return servers;
}

class Resolver::Loop {
 public:
  explicit Loop(ResolverOptions options) : options_(std::move(options)) {}
  ~Loop();

  absl::Status Open();
  absl::Status Run();
  void Stop();

 private:
  struct Pending {
    int client_fd;
    sockaddr_in client;
    uint16_t client_id;
    std::string query;  // With our id.
    size_t upstream;
    int attempt;
    absl::Time deadline;
  };
  struct Retry {
    absl::Time when;
    uint16_t id;
    int attempt;
    bool operator>(const Retry& other) const { return when > other.when; }
  };
  struct Connection {
    uint64_t serial;
    std::string in;
    std::string out;
    absl::Time last_active;
    int forwards = 0;
  };
  struct TcpDone {
    int fd;
    uint64_t serial;
    uint64_t worker;
    std::string wire;
  };

  absl::Status Watch(int fd, Source source, uint32_t events);
  absl::Status OpenUpstreams();
  absl::Status OpenWatch();
  void Reload();
  void Dispatch(const epoll_event& event);
  void ReadUdp(int fd);
  void ForwardUdp(int fd, const sockaddr_in& client, absl::string_view query);
  void SendToUpstream(uint16_t id, Pending& pending);
  void ReadUpstream();
  void ExpireForwards();
  void Accept(int listen_fd);
  void ReadTcp(int fd);
  void HandleTcpMessage(int fd, Connection& connection, absl::string_view message);
  void StartTcpForward(int fd, Connection& connection, std::string query);
  void FinishTcpForwards();
  void WriteTcp(int fd, Connection& connection, absl::string_view data);
  void FlushTcp(int fd, Connection& connection);
  void CloseTcp(int fd);
  void ExpireIdleConnections();
  void ReadInotify();
  int NextTimeoutMs() const;

  const ResolverOptions options_;
  RealClock clock_;
  SystemRandom random_;
  std::shared_ptr<const Responder> responder_;
  std::string nameserver_;  // The first listen address: what ns.<zone> resolves to.
  int epoll_ = -1;
  int wake_ = -1;  // eventfd: Stop() and finished TCP forwards.
  int inotify_ = -1;
  int upstream_fd_ = -1;
  std::vector<int> listeners_;
  std::vector<sockaddr_in> upstreams_;
  std::unordered_map<uint16_t, Pending> pending_;
  std::priority_queue<Retry, std::vector<Retry>, std::greater<Retry>> retries_;
  std::unordered_map<int, Connection> connections_;
  uint64_t next_serial_ = 1;
  absl::Time next_idle_sweep_ = absl::InfinitePast();
  std::unordered_map<uint64_t, std::thread> workers_;
  absl::Mutex done_mu_;
  std::vector<TcpDone> done_ ABSL_GUARDED_BY(done_mu_);  // Written by the TCP workers.
  std::atomic<bool> stop_{false};
};

Resolver::Loop::~Loop() {
  for (auto& [id, worker] : workers_) worker.join();
  for (const auto& [fd, connection] : connections_) close(fd);
  for (const int fd : listeners_) close(fd);
  for (const int fd : {epoll_, wake_, inotify_, upstream_fd_}) {
    if (fd >= 0) close(fd);
  }
}

absl::Status Resolver::Loop::Watch(int fd, Source source, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = Tag(source, fd);
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return absl::ErrnoToStatus(errno, "epoll_ctl");
  }
  return absl::OkStatus();
}

absl::Status Resolver::Loop::Open() {
  if (options_.listen.empty()) return absl::InvalidArgumentError("no --listen address");
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wake_ < 0) return absl::ErrnoToStatus(errno, "epoll/eventfd");
  if (absl::Status s = Watch(wake_, Source::kWake, EPOLLIN); !s.ok()) return s;
  for (const std::string& text : options_.listen) {
    absl::StatusOr<sockaddr_in> address = ParseAddress(text, 0);
    if (!address.ok()) return address.status();
    if (nameserver_.empty()) nameserver_ = std::string(absl::StripSuffix(text, absl::StrCat(
                                               ":", ntohs(address->sin_port))));
    for (const int type : {SOCK_DGRAM, SOCK_STREAM}) {
      absl::StatusOr<int> fd = BindSocket(*address, type);
      if (!fd.ok()) return fd.status();
      listeners_.push_back(*fd);
      const Source source = type == SOCK_DGRAM ? Source::kUdp : Source::kTcpListen;
      if (absl::Status s = Watch(*fd, source, EPOLLIN); !s.ok()) return s;
    }
    spdlog::info("skiff-dns: answering on {} (UDP and TCP)", Describe(*address));
  }
  if (absl::Status s = OpenUpstreams(); !s.ok()) return s;
  if (absl::Status s = OpenWatch(); !s.ok()) return s;
  Reload();
  if (responder_ == nullptr) responder_ = std::make_shared<Responder>(Records{}, nameserver_);
  return absl::OkStatus();
}

absl::Status Resolver::Loop::OpenUpstreams() {
  std::vector<std::string> texts = options_.upstreams;
  if (texts.empty()) {
    texts = ResolvConfNameservers(ReadWholeFile(options_.resolv_conf).value_or(""));
    if (texts.empty()) {
      spdlog::warn("skiff-dns: no IPv4 nameserver in {}: names outside the zone get SERVFAIL",
                   options_.resolv_conf);
    }
  }
  if (texts.size() > kMaxUpstreams) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxUpstreams, " upstreams, got ", texts.size()));
  }
  for (const std::string& text : texts) {
    absl::StatusOr<sockaddr_in> address = ParseAddress(text, 53);
    if (!address.ok()) return address.status();
    upstreams_.push_back(*address);
    spdlog::info("skiff-dns: upstream {}", Describe(*address));
  }
  upstream_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (upstream_fd_ < 0) return absl::ErrnoToStatus(errno, "socket");
  setsockopt(upstream_fd_, SOL_SOCKET, SO_RCVBUF, &kUdpBuffer, sizeof(kUdpBuffer));
  return Watch(upstream_fd_, Source::kUpstream, EPOLLIN);
}

absl::Status Resolver::Loop::OpenWatch() {
  inotify_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_ < 0) return absl::ErrnoToStatus(errno, "inotify_init1");
  const std::string dir = DirOf(options_.records_path);
  // A replaced file arrives by rename (WriteRecordsFile); one written in place, on close.
  if (inotify_add_watch(inotify_, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    return absl::NotFoundError(absl::StrCat("cannot watch the records' directory ", dir, ": ",
                                            std::strerror(errno)));
  }
  return Watch(inotify_, Source::kInotify, EPOLLIN);
}

void Resolver::Loop::Reload() {
  const absl::Time start = absl::Now();
  absl::StatusOr<Records> records = ReadRecordsFile(options_.records_path);
  if (!records.ok()) {
    spdlog::warn("skiff-dns: keeping the {} records: {}",
                 responder_ == nullptr ? "empty" : "last good", records.status().ToString());
    return;
  }
  responder_ = std::make_shared<Responder>(*records, nameserver_);
  spdlog::info("skiff-dns: loaded {} A and {} SRV names of {} in {:.2f} ms", records->a.size(),
               records->srv.size(), records->zone,
               absl::ToDoubleMilliseconds(absl::Now() - start));
}

void Resolver::Loop::ReadInotify() {
  alignas(inotify_event) char buffer[4096];
  const std::string name = BaseOf(options_.records_path);
  bool changed = false;
  while (true) {
    const ssize_t n = read(inotify_, buffer, sizeof(buffer));
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len > 0 && name == event->name) changed = true;
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  if (changed) Reload();
}

absl::Status Resolver::Loop::Run() {
  epoll_event events[64];
  while (!stop_.load()) {
    const int n = epoll_wait(epoll_, events, 64, NextTimeoutMs());
    if (n < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "epoll_wait");
    for (int i = 0; i < n; ++i) Dispatch(events[i]);
    ExpireForwards();
    ExpireIdleConnections();
  }
  return absl::OkStatus();
}

void Resolver::Loop::Stop() {
  stop_.store(true);
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(wake_, &one, sizeof(one));
}

int Resolver::Loop::NextTimeoutMs() const {
  const absl::Time now = clock_.MonotonicNow();
  absl::Time next = now + absl::Seconds(1);  // The idle sweep.
  if (!retries_.empty()) next = std::min(next, retries_.top().when);
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(
                                                   absl::Ceil(next - now, absl::Milliseconds(1)))));
}

void Resolver::Loop::Dispatch(const epoll_event& event) {
  const int fd = static_cast<int>(event.data.u64 & 0xffffffffu);
  switch (static_cast<Source>(event.data.u64 >> 32)) {
    case Source::kUdp:
      return ReadUdp(fd);
    case Source::kTcpListen:
      return Accept(fd);
    case Source::kTcpConn:
      if (auto it = connections_.find(fd); it != connections_.end()) {
        if (event.events & EPOLLOUT) FlushTcp(fd, it->second);
        if (connections_.contains(fd) && (event.events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
          ReadTcp(fd);
        }
      }
      return;
    case Source::kUpstream:
      return ReadUpstream();
    case Source::kInotify:
      return ReadInotify();
    case Source::kWake: {
      uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = read(wake_, &count, sizeof(count));
      return FinishTcpForwards();
    }
  }
}

void Resolver::Loop::ReadUdp(int fd) {
  char buffer[kMaxMessage];
  // A bounded batch, so that a flood on one socket does not starve the others.
  for (int i = 0; i < 64; ++i) {
    sockaddr_in client{};
    socklen_t length = sizeof(client);
    const ssize_t n = recvfrom(fd, buffer, sizeof(buffer), 0,
                               reinterpret_cast<sockaddr*>(&client), &length);
    if (n < 0) return;
    const absl::string_view query(buffer, static_cast<size_t>(n));
    const Reply reply = responder_->Answer(query, Transport::kUdp);
    if (reply.action == Reply::Action::kRespond) {
      sendto(fd, reply.wire.data(), reply.wire.size(), 0,
             reinterpret_cast<const sockaddr*>(&client), sizeof(client));
    } else if (reply.action == Reply::Action::kForward) {
      ForwardUdp(fd, client, query);
    }
  }
}

void Resolver::Loop::ForwardUdp(int fd, const sockaddr_in& client, absl::string_view query) {
  const auto fail = [&] {
    const std::string wire = ServerFailure(query);
    sendto(fd, wire.data(), wire.size(), 0, reinterpret_cast<const sockaddr*>(&client),
           sizeof(client));
  };
  if (upstreams_.empty() || pending_.size() >= options_.max_pending_forwards) return fail();
  uint16_t id = 0;
  bool found = false;
  for (int attempt = 0; attempt < 16 && !found; ++attempt) {
    id = static_cast<uint16_t>(random_.Next());
    found = !pending_.contains(id);
  }
  if (!found) return fail();
  const auto* data = reinterpret_cast<const uint8_t*>(query.data());
  Pending pending{fd, client, LDNS_ID_WIRE(data), std::string(query), 0, 0,
                  clock_.MonotonicNow() + options_.forward_deadline};
  LDNS_ID_SET(reinterpret_cast<uint8_t*>(pending.query.data()), id);
  SendToUpstream(id, pending_.emplace(id, std::move(pending)).first->second);
}

void Resolver::Loop::SendToUpstream(uint16_t id, Pending& pending) {
  const sockaddr_in& upstream = upstreams_[pending.upstream];
  sendto(upstream_fd_, pending.query.data(), pending.query.size(), 0,
         reinterpret_cast<const sockaddr*>(&upstream), sizeof(upstream));
  const absl::Time when =
      std::min(clock_.MonotonicNow() + options_.upstream_attempt, pending.deadline);
  retries_.push({when, id, pending.attempt});
}

void Resolver::Loop::ReadUpstream() {
  char buffer[kMaxMessage];
  for (int i = 0; i < 64; ++i) {
    sockaddr_in from{};
    socklen_t length = sizeof(from);
    const ssize_t n = recvfrom(upstream_fd_, buffer, sizeof(buffer), 0,
                               reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return;
    if (static_cast<size_t>(n) < LDNS_HEADER_SIZE) continue;
    bool known = false;
    for (const sockaddr_in& upstream : upstreams_) known = known || SameAddress(upstream, from);
    auto* data = reinterpret_cast<uint8_t*>(buffer);
    const auto it = pending_.find(LDNS_ID_WIRE(data));
    const absl::string_view response(buffer, static_cast<size_t>(n));
    if (!known || it == pending_.end() || !AnswersQuery(it->second.query, response)) {
      spdlog::debug("skiff-dns: dropped a stray answer from {}", Describe(from));
      continue;
    }
    const Pending& pending = it->second;
    LDNS_ID_SET(data, pending.client_id);
    sendto(pending.client_fd, buffer, static_cast<size_t>(n), 0,
           reinterpret_cast<const sockaddr*>(&pending.client), sizeof(pending.client));
    pending_.erase(it);
  }
}

void Resolver::Loop::ExpireForwards() {
  const absl::Time now = clock_.MonotonicNow();
  while (!retries_.empty() && retries_.top().when <= now) {
    const Retry retry = retries_.top();
    retries_.pop();
    const auto it = pending_.find(retry.id);
    if (it == pending_.end() || it->second.attempt != retry.attempt) continue;  // Answered.
    Pending& pending = it->second;
    if (now >= pending.deadline) {
      std::string query = pending.query;
      LDNS_ID_SET(reinterpret_cast<uint8_t*>(query.data()), pending.client_id);
      const std::string wire = ServerFailure(query);
      sendto(pending.client_fd, wire.data(), wire.size(), 0,
             reinterpret_cast<const sockaddr*>(&pending.client), sizeof(pending.client));
      pending_.erase(it);
      continue;
    }
    pending.upstream = (pending.upstream + 1) % upstreams_.size();
    ++pending.attempt;
    SendToUpstream(retry.id, pending);
  }
}

void Resolver::Loop::Accept(int listen_fd) {
  while (true) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= options_.max_tcp_connections ||
        !Watch(fd, Source::kTcpConn, EPOLLIN).ok()) {
      close(fd);
      continue;
    }
    connections_[fd] = Connection{next_serial_++, "", "", clock_.MonotonicNow()};
  }
}

void Resolver::Loop::ReadTcp(int fd) {
  char buffer[16384];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return CloseTcp(fd);
    if (n < 0) break;
    Connection& connection = connections_.at(fd);
    connection.last_active = clock_.MonotonicNow();
    connection.in.append(buffer, static_cast<size_t>(n));
    // Whole messages, each after its two-byte length (RFC 1035 4.2.2).
    while (connection.in.size() >= 2) {
      const size_t length = FrameLength(connection.in);
      if (length == 0) return CloseTcp(fd);
      if (connection.in.size() < 2 + length) break;
      const std::string message = connection.in.substr(2, length);
      connection.in.erase(0, 2 + length);
      HandleTcpMessage(fd, connection, message);
      if (!connections_.contains(fd)) return;
    }
  }
}

void Resolver::Loop::HandleTcpMessage(int fd, Connection& connection,
                                      absl::string_view message) {
  Reply reply = responder_->Answer(message, Transport::kTcp);
  if (reply.action == Reply::Action::kRespond) return WriteTcp(fd, connection, reply.wire);
  if (reply.action == Reply::Action::kForward) {
    return StartTcpForward(fd, connection, std::string(message));
  }
}

void Resolver::Loop::StartTcpForward(int fd, Connection& connection, std::string query) {
  if (upstreams_.empty()) return WriteTcp(fd, connection, ServerFailure(query));
  if (workers_.size() >= options_.max_tcp_forwards) {
    return WriteTcp(fd, connection, Refusal(query));
  }
  ++connection.forwards;
  const uint64_t worker = next_serial_++;
  const uint64_t serial = connection.serial;
  const absl::Time deadline = absl::Now() + options_.forward_deadline;
  workers_.emplace(worker, std::thread([this, fd, serial, worker, deadline,
                                        query = std::move(query)] {
    std::string wire;
    for (size_t i = 0; wire.empty() && absl::Now() < deadline; ++i) {
      const absl::Time attempt_end =
          std::min(deadline, absl::Now() + options_.upstream_attempt);
      wire = AskOverTcp(upstreams_[i % upstreams_.size()], query, attempt_end);
      if (!wire.empty() && !AnswersQuery(query, wire)) wire.clear();
      if (wire.empty() && i + 1 >= upstreams_.size() && absl::Now() < attempt_end) {
        absl::SleepFor(std::min(attempt_end - absl::Now(), absl::Milliseconds(100)));
      }
    }
    if (wire.empty()) wire = ServerFailure(query);
    {
      absl::MutexLock lock(&done_mu_);
      done_.push_back({fd, serial, worker, std::move(wire)});
    }
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_, &one, sizeof(one));
  }));
}

void Resolver::Loop::FinishTcpForwards() {
  std::vector<TcpDone> done;
  {
    absl::MutexLock lock(&done_mu_);
    done.swap(done_);
  }
  for (TcpDone& d : done) {
    if (auto it = workers_.find(d.worker); it != workers_.end()) {
      it->second.join();
      workers_.erase(it);
    }
    auto it = connections_.find(d.fd);
    if (it == connections_.end() || it->second.serial != d.serial) continue;  // Closed.
    --it->second.forwards;
    it->second.last_active = clock_.MonotonicNow();
    WriteTcp(d.fd, it->second, d.wire);
  }
}

void Resolver::Loop::WriteTcp(int fd, Connection& connection, absl::string_view data) {
  if (data.empty()) return;
  if (connection.out.size() + data.size() + 2 > kMaxTcpOutput) return CloseTcp(fd);
  connection.out.push_back(static_cast<char>(data.size() >> 8));
  connection.out.push_back(static_cast<char>(data.size() & 0xff));
  connection.out.append(data.data(), data.size());
  FlushTcp(fd, connection);
}

void Resolver::Loop::FlushTcp(int fd, Connection& connection) {
  while (!connection.out.empty()) {
    const ssize_t n = send(fd, connection.out.data(), connection.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return CloseTcp(fd);
    if (n < 0) break;
    connection.out.erase(0, static_cast<size_t>(n));
  }
  epoll_event event{};
  event.events = connection.out.empty() ? EPOLLIN : (EPOLLIN | EPOLLOUT);
  event.data.u64 = Tag(Source::kTcpConn, fd);
  epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &event);
}

void Resolver::Loop::CloseTcp(int fd) {
  epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  connections_.erase(fd);
}

void Resolver::Loop::ExpireIdleConnections() {
  const absl::Time now = clock_.MonotonicNow();
  if (now < next_idle_sweep_) return;
  next_idle_sweep_ = now + absl::Seconds(1);
  std::vector<int> idle;
  for (const auto& [fd, connection] : connections_) {
    if (connection.forwards == 0 && now - connection.last_active > options_.tcp_idle_timeout) {
      idle.push_back(fd);
    }
  }
  for (const int fd : idle) CloseTcp(fd);
}

Resolver::Resolver(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}
Resolver::~Resolver() = default;

absl::StatusOr<std::unique_ptr<Resolver>> Resolver::Create(ResolverOptions options) {
  auto loop = std::make_unique<Loop>(std::move(options));
  if (absl::Status s = loop->Open(); !s.ok()) return s;
  return std::unique_ptr<Resolver>(new Resolver(std::move(loop)));
}

absl::Status Resolver::Run() { return loop_->Run(); }
void Resolver::Stop() { loop_->Stop(); }

}  // namespace skiff::discovery

#include "skiff/discovery/resolver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "discovery/ldns_support.h"
#include "discovery/resolver_loop.h"
#include "skiff/base/files.h"
#include "skiff/discovery/records.h"
#include "skiff/discovery/responder.h"
#include "spdlog/spdlog.h"

namespace skiff::discovery {
namespace {

constexpr size_t kMaxMessage = 65535;
constexpr int kUdpBuffer = 1 << 20;
constexpr size_t kMaxCachedAnswers = 2048;  // Of at most 512 bytes each way: 2 MiB at most.

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
  const bool first = responder_ == nullptr;
  responder_ = std::make_shared<Responder>(*records, nameserver_);
  answers_.clear();
  // skiffd publishes on every change of a task: later loads only at debug, or the log grows.
  spdlog::log(first ? spdlog::level::info : spdlog::level::debug,
              "skiff-dns: loaded {} A and {} SRV names of {} in {:.2f} ms", records->a.size(),
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
    const Reply& reply = AnswerUdp(query, client.sin_addr.s_addr);
    if (reply.action == Reply::Action::kRespond) {
      sendto(fd, reply.wire.data(), reply.wire.size(), 0,
             reinterpret_cast<const sockaddr*>(&client), sizeof(client));
    } else if (reply.action == Reply::Action::kForward) {
      ForwardUdp(fd, client, query);
    }
  }
}

// Clients ask the same few names over and over: a response to the same bytes after the id (the
// flags, the question as asked, the OPT record) is the same response under another id. A
// Service Connect client's answers are its own: its address leads the key.
const Reply& Resolver::Loop::AnswerUdp(absl::string_view query, uint32_t source) {
  if (query.size() < LDNS_HEADER_SIZE || query.size() > kPlainUdpLimit) {
    return uncached_ = responder_->Answer(query, Transport::kUdp, source);
  }
  std::string key;
  if (responder_->Scoped(source)) key.assign(reinterpret_cast<const char*>(&source), 4);
  key.append(query.data() + 2, query.size() - 2);
  auto it = answers_.find(key);
  if (it == answers_.end()) {
    if (answers_.size() >= kMaxCachedAnswers) answers_.clear();
    it = answers_.emplace(key, responder_->Answer(query, Transport::kUdp, source)).first;
  }
  Reply& reply = it->second;
  if (reply.action == Reply::Action::kRespond) {
    const auto* data = reinterpret_cast<const uint8_t*>(query.data());
    LDNS_ID_SET(reinterpret_cast<uint8_t*>(reply.wire.data()), LDNS_ID_WIRE(data));
  }
  return reply;
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

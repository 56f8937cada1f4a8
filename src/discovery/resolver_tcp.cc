// The TCP side of skiff-dns's loop (resolver_loop.h): connections, their framing, and queries
// for names outside the zone, which worker threads take to the upstreams over TCP.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "discovery/resolver_loop.h"
#include "skiff/discovery/responder.h"

namespace skiff::discovery {
namespace {

constexpr size_t kMaxTcpOutput = 1 << 20;  // A client that reads slower than this is dropped.

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
  std::string out = {static_cast<char>(query.size() >> 8),
                     static_cast<char>(query.size() & 0xff)};
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

void Resolver::Loop::Accept(int listen_fd) {
  while (true) {
    sockaddr_in peer{};
    socklen_t length = sizeof(peer);
    const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= options_.max_tcp_connections ||
        !Watch(fd, Source::kTcpConn, EPOLLIN).ok()) {
      close(fd);
      continue;
    }
    connections_[fd] = Connection{next_serial_++, "", "", clock_.MonotonicNow(), 0,
                                  peer.sin_family == AF_INET ? peer.sin_addr.s_addr : 0};
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
  Reply reply = responder_->Answer(message, Transport::kTcp, connection.peer);
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

}  // namespace skiff::discovery

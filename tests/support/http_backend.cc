#include "support/http_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "support/loopback.h"

namespace skiff::testing {
namespace {

// Requests are a line and a few headers; anything longer is not ours.
constexpr size_t kMaxRequestBytes = 64 << 10;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpBackend>> HttpBackend::Start(std::string name) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in addr = LoopbackAddress(0);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 512) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int error = errno;
    close(fd);
    return absl::ErrnoToStatus(error, "bind/listen on 127.0.0.1");
  }
  const int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    close(fd);
    return absl::ErrnoToStatus(errno, "eventfd");
  }
  std::unique_ptr<HttpBackend> backend(
      new HttpBackend(std::move(name), fd, stop_fd, ntohs(addr.sin_port)));
  backend->acceptor_ = std::thread([b = backend.get()] { b->AcceptLoop(); });
  return backend;
}

HttpBackend::HttpBackend(std::string name, int listen_fd, int stop_fd, int port)
    : name_(std::move(name)), listen_fd_(listen_fd), stop_fd_(stop_fd), port_(port) {}

HttpBackend::~HttpBackend() {
  const uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  acceptor_.join();
  // The acceptor is gone, so nothing adds to the list any more.
  absl::MutexLock lock(&mu_);
  for (Connection& c : connections_) c.thread.join();
  connections_.clear();
  close(listen_fd_);
  close(stop_fd_);
}

void HttpBackend::SetSlowDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  slow_delay_ = delay;
}

bool HttpBackend::WaitForRequests(int count, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (requests_ < count) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

bool HttpBackend::WaitReadable(int fd, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    int ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    }
    const int ready = poll(fds, fd >= 0 ? 2 : 1, ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || fds[0].revents != 0) return false;  // Timed out, or stopping.
    return true;
  }
}

bool HttpBackend::SleepUnlessStopped(absl::Duration delay) const {
  pollfd stop{stop_fd_, POLLIN, 0};
  const absl::Time deadline = absl::Now() + delay;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return true;
    const int ready = poll(&stop, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 0) return false;
  }
}

void HttpBackend::AcceptLoop() {
  while (WaitReadable(listen_fd_, absl::InfiniteDuration())) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++open_connections_;
    absl::MutexLock lock(&mu_);
    // Join the connections that ended, so a long load does not pile up threads.
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (it->done) {
        it->thread.join();
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    Connection& connection = connections_.emplace_back();
    connection.thread = std::thread([this, fd, &connection] {
      Serve(fd);
      connection.done = true;
    });
  }
}

void HttpBackend::Serve(int fd) {
  std::string request;
  char buffer[4096];
  while (!absl::StrContains(request, "\r\n\r\n") && request.size() < kMaxRequestBytes) {
    if (!WaitReadable(fd, absl::Seconds(10))) break;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
  }
  if (absl::StrContains(request, "\r\n\r\n")) {
    // "GET /path HTTP/1.1"
    std::vector<absl::string_view> words =
        absl::StrSplit(absl::string_view(request).substr(0, request.find("\r\n")), ' ');
    const absl::string_view path = words.size() >= 2 ? words[1] : "/";
    int status = 200;
    std::string body = name_;
    bool answer = true;
    if (path == "/health") {
      ++health_checks_;
      status = health_status_;
      body = "health";
    } else {
      ++requests_;
      if (path == "/slow") {
        absl::Duration delay;
        {
          absl::MutexLock lock(&mu_);
          delay = slow_delay_;
        }
        // Cut off, not answered, when the backend stops meanwhile.
        answer = SleepUnlessStopped(delay);
      }
    }
    if (answer) {
      SendAll(fd, absl::StrCat("HTTP/1.1 ", status, " ", Reason(status),
                               "\r\nContent-Type: text/plain\r\nContent-Length: ", body.size(),
                               "\r\nConnection: close\r\n\r\n", body));
    }
  }
  shutdown(fd, SHUT_WR);
  close(fd);
  --open_connections_;
}

absl::StatusOr<HttpResponse> HttpGet(int port, absl::string_view path, absl::Duration timeout) {
  HttpRequest request;
  request.path = std::string(path);
  return Http(port, request, timeout);
}

std::string HttpResponse::Header(absl::string_view name) const {
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon != absl::string_view::npos && absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "";
}

absl::StatusOr<HttpResponse> Http(int port, const HttpRequest& spec, absl::Duration timeout) {
  const absl::string_view path = spec.path;
  const absl::Time deadline = absl::Now() + timeout;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  const auto wait = [&](short events) {
    while (true) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      pollfd p{fd, events, 0};
      const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      if (n < 0 && errno == EINTR) continue;
      return n > 0;
    }
  };
  const std::string target = absl::StrCat("127.0.0.1:", port, std::string(path));
  sockaddr_in addr = LoopbackAddress(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(absl::StrCat(target, ": connect: ", std::strerror(errno)));
    }
    if (!wait(POLLOUT)) return absl::UnavailableError(absl::StrCat(target, ": connect timeout"));
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      return absl::UnavailableError(absl::StrCat(target, ": connect: ", std::strerror(error)));
    }
  }
  std::string request =
      absl::StrCat(spec.method, " ", path, " HTTP/1.1\r\nHost: ", spec.host, "\r\n");
  for (const auto& [name, value] : spec.headers) {
    absl::StrAppend(&request, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&request, "Connection: close\r\n\r\n");
  // A fresh socket's buffer takes these few bytes at once.
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError(absl::StrCat(target, ": send: ", std::strerror(errno)));
  }
  std::string answer;
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      answer.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      return absl::UnavailableError(absl::StrCat(target, ": recv: ", std::strerror(errno)));
    }
    if (!wait(POLLIN)) return absl::UnavailableError(absl::StrCat(target, ": answer timeout"));
  }
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nBODY"
  const size_t line_end = answer.find("\r\n");
  const size_t head_end = answer.find("\r\n\r\n");
  std::vector<absl::string_view> words =
      absl::StrSplit(absl::string_view(answer).substr(0, line_end), ' ');
  HttpResponse response;
  if (line_end == std::string::npos || head_end == std::string::npos || words.size() < 2 ||
      !absl::SimpleAtoi(words[1], &response.status)) {
    return absl::UnavailableError(
        absl::StrCat(target, ": not an HTTP answer: \"", answer.substr(0, 200), "\""));
  }
  response.head = answer.substr(0, head_end);
  response.body = answer.substr(head_end + 4);
  return response;
}

std::string MissingHaproxy() {
  if (access(kHaproxyBinary, X_OK) != 0) {
    return absl::StrCat(kHaproxyBinary, " not found (apt-get install haproxy)");
  }
  return "";
}

}  // namespace skiff::testing

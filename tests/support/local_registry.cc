#include "support/local_registry.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "support/loopback.h"
#include "support/subprocess.h"

namespace skiff::testing {

std::string MissingRegistryTools() {
  std::vector<std::string> missing;
  for (const char* tool : {"docker-registry", "skopeo", "htpasswd"}) {
    if (FindInPath(tool).empty()) missing.push_back(tool);
  }
  return missing.empty() ? "" : absl::StrCat("missing ", absl::StrJoin(missing, ", "));
}

absl::StatusOr<std::unique_ptr<LocalRegistry>> LocalRegistry::Start(const Options& options) {
  char dir_template[] = "/tmp/skiff-registry.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  std::unique_ptr<LocalRegistry> registry(new LocalRegistry());
  registry->dir_ = dir_template;
  registry->options_ = options;
  auto port = PickFreeLoopbackPort();
  if (!port.ok()) return port.status();
  registry->port_ = *port;
  std::string auth;
  if (!options.username.empty()) {
    auto hashed = RunCommand({"htpasswd", "-nbB", options.username, options.password},
                             absl::Seconds(30));
    if (!hashed.ok()) return hashed.status();
    if (hashed->exit_code != 0) {
      return absl::InternalError(absl::StrCat("htpasswd: ", hashed->stderr_text));
    }
    std::ofstream(registry->dir_ + "/htpasswd") << absl::StripAsciiWhitespace(hashed->stdout_text)
                                                << "\n";
    auth = absl::StrCat("auth:\n  htpasswd:\n    realm: skiff-test\n    path: ", registry->dir_,
                        "/htpasswd\n");
  }
  std::ofstream(registry->dir_ + "/config.yml")
      << "version: 0.1\n"
      << "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
      << "storage:\n  filesystem:\n    rootdirectory: " << registry->dir_ << "/storage\n"
      << "  delete:\n    enabled: true\n"
      << "http:\n  addr: 127.0.0.1:" << registry->port_ << "\n"
      << auth;
  const int log = open((registry->dir_ + "/registry.log").c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto pid = Spawn({.path = FindInPath("docker-registry"),
                    .argv = {"docker-registry", "serve", registry->dir_ + "/config.yml"},
                    .stdout_fd = log,
                    .stderr_fd = log,
                    .die_with_parent = true,
                    .env = {}});
  close(log);
  if (!pid.ok()) return pid.status();
  registry->pid_ = *pid;
  for (absl::Time deadline = absl::Now() + absl::Seconds(20); absl::Now() < deadline;) {
    if (const int fd = ConnectLoopback(registry->port_); fd >= 0) {
      close(fd);
      return registry;
    }
    int status = 0;
    if (waitpid(registry->pid_, &status, WNOHANG) == registry->pid_) {
      registry->pid_ = -1;
      std::ifstream in(registry->dir_ + "/registry.log");
      std::string text((std::istreambuf_iterator<char>(in)), {});
      return absl::InternalError(absl::StrCat("docker-registry exited: ", text));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("docker-registry did not listen within 20 s");
}

LocalRegistry::~LocalRegistry() {
  if (absl::Status status = Stop(); !status.ok()) ADD_FAILURE() << status;
}

std::string LocalRegistry::host() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status LocalRegistry::Push(const std::string& source, const std::string& dest,
                                 const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"skopeo", "copy", "--quiet", "--dest-tls-verify=false"};
  if (!options_.username.empty()) {
    argv.push_back(absl::StrCat("--dest-creds=", options_.username, ":", options_.password));
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(source);
  argv.push_back(absl::StrCat("docker://", host(), "/", dest));
  auto result = RunCommand(argv, absl::Seconds(120));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat("skopeo copy to ", dest, " exited ",
                                            result->exit_code, ": ", result->stderr_text));
  }
  return absl::OkStatus();
}

std::string LocalRegistry::BlobPath(const std::string& digest) const {
  const std::string hex = digest.substr(7);
  return absl::StrCat(dir_, "/storage/docker/registry/v2/blobs/sha256/", hex.substr(0, 2), "/",
                      hex, "/data");
}

absl::Status LocalRegistry::Stop() {
  if (pid_ > 0) {
    kill(-pid_, SIGTERM);
    int status = 0;
    bool reaped = false;
    for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped = true;
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (!reaped) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (ec) return absl::InternalError(absl::StrCat("remove ", dir_, ": ", ec.message()));
    dir_.clear();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LoopbackProxy>> LoopbackProxy::Start(int upstream_port) {
  std::unique_ptr<LoopbackProxy> proxy(new LoopbackProxy());
  proxy->upstream_port_ = upstream_port;
  proxy->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (proxy->listen_fd_ < 0) return absl::InternalError(strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(proxy->listen_fd_, 64) != 0 ||
      getsockname(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return absl::InternalError(absl::StrCat("proxy listen: ", strerror(errno)));
  }
  proxy->port_ = ntohs(addr.sin_port);
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->Serve(); });
  return proxy;
}

LoopbackProxy::~LoopbackProxy() {
  stopping_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
}

std::string LoopbackProxy::host() const { return absl::StrCat("127.0.0.1:", port_); }

void LoopbackProxy::CutBlob(const std::string& digest, int64_t bytes) {
  absl::MutexLock lock(&mu_);
  cut_digest_ = digest;
  cut_bytes_ = bytes;
}

std::vector<std::string> LoopbackProxy::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void LoopbackProxy::ClearRequests() {
  absl::MutexLock lock(&mu_);
  requests_.clear();
}

void LoopbackProxy::Serve() {
  while (!stopping_) {
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR) continue;
      return;  // Shut down.
    }
    absl::MutexLock lock(&mu_);
    workers_.emplace_back([this, client] { Handle(client); });
  }
}

void LoopbackProxy::Handle(int client) {
  // The request head; registry pulls send GETs without bodies.
  std::string head;
  char buffer[64 << 10];
  while (!absl::StrContains(head, "\r\n\r\n")) {
    const ssize_t n = recv(client, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      close(client);
      return;
    }
    head.append(buffer, static_cast<size_t>(n));
  }
  std::vector<std::string> lines =
      absl::StrSplit(head.substr(0, head.find("\r\n\r\n")), "\r\n");
  std::string logged = lines.empty() ? "" : lines[0].substr(0, lines[0].rfind(' '));
  std::string rewritten = lines.empty() ? "" : lines[0] + "\r\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string lower = absl::AsciiStrToLower(lines[i]);
    if (absl::StartsWith(lower, "connection:")) continue;
    if (absl::StartsWith(lower, "range:")) absl::StrAppend(&logged, " ", lines[i]);
    absl::StrAppend(&rewritten, lines[i], "\r\n");
  }
  absl::StrAppend(&rewritten, "Connection: close\r\n\r\n");
  int64_t cut = -1;
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(logged);
    if (!cut_digest_.empty() && absl::StrContains(lines[0], "/blobs/" + cut_digest_)) {
      cut = cut_bytes_;
    }
  }
  const int upstream = ConnectLoopback(upstream_port_);
  if (upstream < 0 || !SendAll(upstream, rewritten)) {
    if (upstream >= 0) close(upstream);
    close(client);
    return;
  }
  // Relay the response; with a cut, only `cut` bytes past the response head.
  std::string response_head;
  bool in_body = false;
  int64_t body = 0;
  while (true) {
    const ssize_t n = recv(upstream, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    absl::string_view chunk(buffer, static_cast<size_t>(n));
    if (cut >= 0) {
      if (!in_body) {
        response_head.append(chunk.data(), chunk.size());
        const size_t end = response_head.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (!SendAll(client, chunk)) break;
          continue;
        }
        in_body = true;
        const size_t body_in_chunk = response_head.size() - (end + 4);
        const size_t head_in_chunk = chunk.size() - body_in_chunk;
        if (!SendAll(client, chunk.substr(0, head_in_chunk))) break;
        chunk.remove_prefix(head_in_chunk);
      }
      const int64_t allowed = std::max<int64_t>(0, cut - body);
      if (static_cast<int64_t>(chunk.size()) > allowed) {
        SendAll(client, chunk.substr(0, static_cast<size_t>(allowed)));
        break;  // The cut: close both sides mid-body.
      }
      body += static_cast<int64_t>(chunk.size());
    }
    if (!SendAll(client, chunk)) break;
  }
  close(upstream);
  close(client);
}

absl::Status StartRegistryBehindProxy(const LocalRegistry::Options& options,
                                      std::unique_ptr<LocalRegistry>* registry,
                                      std::unique_ptr<LoopbackProxy>* proxy) {
  absl::StatusOr<std::unique_ptr<LocalRegistry>> started = LocalRegistry::Start(options);
  if (!started.ok()) return started.status();
  absl::StatusOr<std::unique_ptr<LoopbackProxy>> in_front =
      LoopbackProxy::Start((*started)->port());
  if (!in_front.ok()) return in_front.status();
  *registry = *std::move(started);
  *proxy = *std::move(in_front);
  return absl::OkStatus();
}

}  // namespace skiff::testing

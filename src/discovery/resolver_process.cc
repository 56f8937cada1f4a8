#include "skiff/discovery/resolver_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "skiff/base/files.h"
#include "skiff/base/process.h"
#include "skiff/discovery/records.h"
#include "skiff/discovery/resolver.h"
#include "discovery/ldns_support.h"
#include "spdlog/spdlog.h"

namespace skiff::discovery {
namespace {

constexpr absl::Duration kWatchInterval = absl::Milliseconds(500);
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(200);
constexpr absl::Duration kMaxBackoff = absl::Seconds(30);
// A resolver that ran this long before dying starts the back-off from the beginning again.
constexpr absl::Duration kStableRun = absl::Seconds(30);
constexpr absl::Duration kReadyTimeout = absl::Seconds(5);
constexpr absl::Duration kStopGrace = absl::Seconds(2);
// Printed by skiff-dns once it listens and has read its records (skiff_dns_main.cc).
constexpr char kReadyLine[] = "skiff-dns: ready";

std::string PidFile(const ResolverSettings& s) { return s.dir + "/skiff-dns.pid"; }
std::string LogFile(const ResolverSettings& s) { return s.dir + "/skiff-dns.log"; }

// Whether `address` ("ADDR:PORT") is on this host now: only then can we ask it a question. The
// bridge's gateway, bound with IP_FREEBIND, comes with the first bridged task.
bool IsLocal(const std::string& address) {
  absl::StatusOr<sockaddr_in> parsed = ParseAddress(address, 53);
  if (!parsed.ok()) return false;
  parsed->sin_port = 0;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool local = bind(fd, reinterpret_cast<const sockaddr*>(&*parsed), sizeof(*parsed)) == 0;
  close(fd);
  return local;
}

// Asks `address` for the SOA of `zone` over UDP, waiting up to `timeout`: true on an answer.
bool AnswersSoa(const std::string& address, const std::string& zone, absl::Duration timeout) {
  absl::StatusOr<sockaddr_in> to = ParseAddress(address, 53);
  if (!to.ok()) return false;
  ldns_rdf* name = ldns_dname_new_frm_str(absl::StrCat(zone, ".").c_str());
  if (name == nullptr) return false;
  ldns_pkt* query = ldns_pkt_query_new(name, LDNS_RR_TYPE_SOA, LDNS_RR_CLASS_IN, LDNS_RD);
  const uint16_t id = static_cast<uint16_t>(getpid() ^ absl::ToUnixMicros(absl::Now()));
  ldns_pkt_set_id(query, id);
  uint8_t* wire = nullptr;
  size_t size = 0;
  const bool built = ldns_pkt2wire(&wire, query, &size) == LDNS_STATUS_OK;
  ldns_pkt_free(query);
  if (!built) return false;
  absl::Cleanup free_wire = [wire] { free(wire); };
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  absl::Cleanup close_fd = [fd] { close(fd); };
  if (sendto(fd, wire, size, 0, reinterpret_cast<const sockaddr*>(&*to), sizeof(*to)) < 0) {
    return false;
  }
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) != 1) return false;
  uint8_t buffer[4096];
  const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
  ldns_pkt* answer = nullptr;
  if (n <= 0 || ldns_wire2pkt(&answer, buffer, static_cast<size_t>(n)) != LDNS_STATUS_OK) {
    return false;
  }
  const bool ok = ldns_pkt_id(answer) == id && ldns_pkt_qr(answer) &&
                  ldns_pkt_get_rcode(answer) == LDNS_RCODE_NOERROR && ldns_pkt_ancount(answer) > 0;
  ldns_pkt_free(answer);
  return ok;
}

// The zone skiff-dns answers: the records file's, else the one it starts with.
std::string Zone(const ResolverSettings& settings) {
  absl::StatusOr<Records> records = ReadRecordsFile(RecordsPath(settings.dir));
  return records.ok() ? records->zone : kDefaultZone;
}

// What skiff-dns said since `offset` of its log: the errors when there are any.
std::string LogSince(const ResolverSettings& settings, size_t offset) {
  const std::string log = ReadWholeFile(LogFile(settings)).value_or("");
  const absl::string_view text =
      offset < log.size() ? absl::string_view(log).substr(offset) : absl::string_view();
  std::vector<absl::string_view> errors;
  for (const absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    if (absl::StrContains(line, " error ") || absl::StrContains(line, " critical ")) {
      errors.push_back(line);
    }
  }
  return std::string(
      absl::StripAsciiWhitespace(errors.empty() ? text : absl::StrJoin(errors, "\n")));
}

class ResolverProcess final : public ResolverSupervisor {
 public:
  explicit ResolverProcess(ResolverSettings settings) : settings_(std::move(settings)) {}
  ~ResolverProcess() override { Shutdown(false); }

  absl::Status Start();
  void Shutdown(bool stop_resolver) override;

 private:
  std::vector<std::string> Argv() const;
  bool IsOurs(pid_t pid) const { return pid > 1 && LiveCommandLine(pid) == Argv(); }
  // skiff-dns on this directory, with whatever settings: what we may stop.
  bool IsResolverOfDir(pid_t pid) const;
  bool Alive() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Spawn() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WaitReady(size_t log_offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopProcess(pid_t pid, bool child);
  void Watch();

  const ResolverSettings settings_;
  absl::Mutex mu_;
  pid_t pid_ ABSL_GUARDED_BY(mu_) = -1;
  bool child_ ABSL_GUARDED_BY(mu_) = false;  // Started by us: we reap it.
  absl::Time started_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

std::vector<std::string> ResolverProcess::Argv() const {
  std::vector<std::string> argv = {settings_.binary, "--records", RecordsPath(settings_.dir)};
  for (const std::string& l : settings_.listen) {
    argv.push_back("--listen");
    argv.push_back(l);
  }
  for (const std::string& u : settings_.upstreams) {
    argv.push_back("--upstream");
    argv.push_back(u);
  }
  return argv;
}

bool ResolverProcess::IsResolverOfDir(pid_t pid) const {
  const std::vector<std::string> argv = LiveCommandLine(pid);
  if (argv.empty() || !absl::EndsWith(argv[0], "skiff-dns")) return false;
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--records" && argv[i + 1] == RecordsPath(settings_.dir)) return true;
  }
  return false;
}

bool ResolverProcess::Alive() {
  if (child_) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) return false;
  }
  return IsOurs(pid_);
}

absl::Status ResolverProcess::Spawn() {
  const std::string log = LogFile(settings_);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", log));
  absl::StatusOr<pid_t> pid = SpawnInNewSession(Argv(), fd);
  close(fd);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  child_ = true;
  started_ = absl::Now();
  return WriteFileAtomically(PidFile(settings_), absl::StrCat(*pid, "\n"), 0644);
}

absl::Status ResolverProcess::WaitReady(size_t log_offset) {
  const absl::Time deadline = absl::Now() + kReadyTimeout;
  const bool local = IsLocal(settings_.listen.front());
  const std::string zone = Zone(settings_);
  while (absl::Now() < deadline) {
    if (!Alive()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "skiff-dns did not start: ", LogSince(settings_, log_offset)));
    }
    if (local ? AnswersSoa(settings_.listen.front(), zone, absl::Milliseconds(100))
              : absl::StrContains(LogSince(settings_, log_offset), kReadyLine)) {
      return absl::OkStatus();
    }
    if (!local) absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("skiff-dns did not answer on ",
                                                  settings_.listen.front(), " within ",
                                                  absl::FormatDuration(kReadyTimeout), ": ",
                                                  LogSince(settings_, log_offset)));
}

absl::Status ResolverProcess::Start() {
  if (settings_.listen.empty()) return absl::InvalidArgumentError("skiff-dns: no listen address");
  absl::MutexLock lock(&mu_);
  absl::StatusOr<pid_t> recorded = ReadPidFile(PidFile(settings_));
  if (recorded.ok() && IsOurs(*recorded)) {
    spdlog::info("skiff-dns: adopting pid {}", *recorded);
    pid_ = *recorded;
    child_ = false;
    started_ = absl::Now();
  } else {
    if (recorded.ok() && IsResolverOfDir(*recorded)) {
      spdlog::info("skiff-dns: pid {} runs with other settings; restarting it", *recorded);
      StopProcess(*recorded, /*child=*/false);
    }
    const size_t offset = ReadWholeFile(LogFile(settings_)).value_or("").size();
    if (absl::Status s = Spawn(); !s.ok()) return s;
    if (absl::Status s = WaitReady(offset); !s.ok()) {
      StopProcess(pid_, child_);
      unlink(PidFile(settings_).c_str());
      return s;
    }
  }
  watcher_ = std::thread([this] { Watch(); });
  return absl::OkStatus();
}

void ResolverProcess::StopProcess(pid_t pid, bool child) {
  if (pid <= 1 || (!child && !IsResolverOfDir(pid))) return;
  kill(pid, SIGTERM);
  const absl::Time deadline = absl::Now() + kStopGrace;
  const auto gone = [&] {
    if (child) {
      int status = 0;
      const pid_t r = waitpid(pid, &status, WNOHANG);
      return r == pid || (r < 0 && errno == ECHILD);
    }
    return !IsResolverOfDir(pid);
  };
  while (!gone()) {
    if (absl::Now() >= deadline) {
      kill(pid, SIGKILL);
      if (child) waitpid(pid, nullptr, 0);
      return;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

void ResolverProcess::Watch() {
  absl::Duration backoff = kFirstBackoff;
  absl::MutexLock lock(&mu_);
  while (!shutdown_) {
    if (mu_.AwaitWithTimeout(absl::Condition(&shutdown_), kWatchInterval)) break;
    if (Alive()) continue;
    if (absl::Now() - started_ >= kStableRun) backoff = kFirstBackoff;
    spdlog::warn("skiff-dns (pid {}) is gone; starting it again in {}", pid_,
                 absl::FormatDuration(backoff));
    if (mu_.AwaitWithTimeout(absl::Condition(&shutdown_), backoff)) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
    if (absl::Status s = Spawn(); !s.ok()) {
      spdlog::error("skiff-dns: cannot start: {}", s.ToString());
    }
  }
}

void ResolverProcess::Shutdown(bool stop_resolver) {
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
  if (!stop_resolver) return;
  absl::MutexLock lock(&mu_);
  if (pid_ > 1 && (child_ || IsOurs(pid_))) StopProcess(pid_, child_);
  pid_ = -1;
  unlink(PidFile(settings_).c_str());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ResolverSupervisor>> ResolverSupervisor::Create(
    ResolverSettings settings) {
  auto process = std::make_unique<ResolverProcess>(std::move(settings));
  if (absl::Status s = process->Start(); !s.ok()) return s;
  return process;
}

}  // namespace skiff::discovery

#include "skiff/lb/haproxy_admin.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "lb/admin_commands.h"
#include "skiff/base/status_macros.h"

namespace skiff::lb {
namespace {

// An answer longer than this is not HAProxy's (a `show stat` of 10,000 servers is ~6 MB).
constexpr size_t kMaxAnswerBytes = 64 << 20;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or `deadline` passes. False on timeout.
absl::StatusOr<bool> WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    // Round up, so a sub-millisecond rest does not spin with a 0 ms poll.
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(left + absl::Milliseconds(1)));
    const int n = poll(&p, 1, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "poll");
    if (n > 0) return true;
  }
}

// The steps of one admin command on a non-blocking socket, each bounded by `deadline`. Their
// errors say what failed; the caller adds which socket and command.
absl::StatusOr<std::string> ConnectUnix(int fd, const sockaddr_un& addr, absl::Time deadline) {
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return "";
  // A unix socket answers EAGAIN, not EINPROGRESS, when its backlog is full.
  if (errno != EAGAIN && errno != EINPROGRESS) return absl::UnavailableError(std::strerror(errno));
  SKIFF_ASSIGN_OR_RETURN(const bool ready, WaitFor(fd, POLLOUT, deadline));
  if (!ready) return absl::UnavailableError("connect timed out");
  int error = 0;
  socklen_t len = sizeof(error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
  if (error != 0) return absl::UnavailableError(std::strerror(error));
  return "";
}

absl::StatusOr<std::string> SendAll(int fd, absl::string_view rest, absl::Time deadline) {
  while (!rest.empty()) {
    const ssize_t n = send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      SKIFF_ASSIGN_OR_RETURN(const bool ready, WaitFor(fd, POLLOUT, deadline));
      if (!ready) return absl::UnavailableError("sending the command timed out");
      continue;
    }
    if (n < 0) return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return "";
}

// Everything the peer sends until it closes.
absl::StatusOr<std::string> ReadToEnd(int fd, absl::Time deadline) {
  std::string answer;
  char buffer[16384];
  while (true) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      answer.append(buffer, static_cast<size_t>(n));
      if (answer.size() > kMaxAnswerBytes) return absl::UnavailableError("answer too long");
      continue;
    }
    if (n == 0) return answer;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      return absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno)));
    }
    SKIFF_ASSIGN_OR_RETURN(const bool ready, WaitFor(fd, POLLIN, deadline));
    if (!ready) return absl::UnavailableError("no complete answer in time");
  }
}

std::string StateWord(ServerAdminState state) {
  switch (state) {
    case ServerAdminState::kReady:
      return "ready";
    case ServerAdminState::kDrain:
      return "drain";
    case ServerAdminState::kMaint:
      return "maint";
  }
  return "ready";  // Unreachable: every enumerator is handled above.
}

std::string HaproxyMilliseconds(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
}

// Splits one CSV line as HAProxy writes it: fields separated by ',', a field that holds a comma
// or a quote is quoted and its quotes doubled.
std::vector<std::string> SplitCsvLine(absl::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  return fields;
}

template <typename Int>
absl::Status ParseCount(absl::string_view text, absl::string_view column, int line_number,
                        Int* out) {
  if (text.empty()) {
    *out = 0;
    return absl::OkStatus();
  }
  if (!absl::SimpleAtoi(text, out)) {
    return absl::InvalidArgumentError(absl::StrCat("show stat line ", line_number, ": column ",
                                                   std::string(column), " is not a number: \"",
                                                   std::string(text), "\""));
  }
  return absl::OkStatus();
}

}  // namespace

bool ServerStat::up() const {
  return absl::StartsWith(status, "UP") || absl::StartsWith(status, "DRAIN");
}

absl::Status CheckProxyName(absl::string_view what, absl::string_view name) {
  if (name.empty() || name.size() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), " name must have 1 to 100 characters, got \"",
                     std::string(name), "\""));
  }
  for (const char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
        c != '.' && c != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what), " name \"", std::string(name),
                       "\" may only hold letters, digits and -_.:"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> AddServerCommand(const ServerSpec& server) {
  SKIFF_RETURN_IF_ERROR(CheckProxyName("backend", server.backend));
  SKIFF_RETURN_IF_ERROR(CheckProxyName("server", server.name));
  in_addr v4;
  in6_addr v6;
  std::string address;
  if (inet_pton(AF_INET, server.address.c_str(), &v4) == 1) {
    address = server.address;
  } else if (inet_pton(AF_INET6, server.address.c_str(), &v6) == 1) {
    address = absl::StrCat("[", server.address, "]");
  } else {
    // HAProxy would take a host name and resolve it once, at add time, in the worker: not what
    // a target is.
    return absl::InvalidArgumentError(
        absl::StrCat("server address \"", server.address, "\" is not an IPv4 or IPv6 literal"));
  }
  if (server.port < 1 || server.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("server port ", server.port,
                                                   " is not in 1-65535"));
  }
  if (server.weight < 0 || server.weight > 256) {
    return absl::InvalidArgumentError(absl::StrCat("server weight ", server.weight,
                                                   " is not in 0-256"));
  }
  std::string command = absl::StrCat("add server ", server.backend, "/", server.name, " ",
                                     address, ":", server.port, " weight ", server.weight);
  if (server.check) {
    if (server.interval < absl::Milliseconds(1)) {
      return absl::InvalidArgumentError("health check interval must be at least 1ms");
    }
    if (server.rise < 1 || server.fall < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "health check rise and fall must be at least 1, got ", server.rise, " and ",
          server.fall));
    }
    if (server.check_port < 0 || server.check_port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("health check port ", server.check_port,
                                                     " is not in 0-65535"));
    }
    // The same interval while up, while changing state and while down: a new target is found
    // healthy (or a dead one down) in rise (fall) intervals, not in HAProxy's 2 s defaults.
    const std::string inter = HaproxyMilliseconds(server.interval);
    absl::StrAppend(&command, " check inter ", inter, " fastinter ", inter, " downinter ",
                    inter, " rise ", server.rise, " fall ", server.fall);
    if (server.check_port != 0) absl::StrAppend(&command, " port ", server.check_port);
  }
  if (server.slow_start < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("slow start must not be negative");
  }
  if (server.slow_start > absl::ZeroDuration()) {
    absl::StrAppend(&command, " slowstart ", HaproxyMilliseconds(server.slow_start));
  }
  if (server.backup) absl::StrAppend(&command, " backup");
  if (!server.cookie.empty()) {
    for (const char c : server.cookie) {
      if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) || c == ';' || c == '#') {
        return absl::InvalidArgumentError(
            absl::StrCat("cookie \"", server.cookie, "\" may only hold printable characters "
                         "other than space, ';' and '#'"));
      }
    }
    absl::StrAppend(&command, " cookie ", server.cookie);
  }
  return command;
}

std::string SetStateCommand(absl::string_view backend, absl::string_view name,
                            ServerAdminState state) {
  return absl::StrCat("set server ", std::string(backend), "/", std::string(name), " state ",
                      StateWord(state));
}

absl::Status StatusFromAnswer(absl::string_view command, absl::string_view answer,
                              std::initializer_list<absl::string_view> success) {
  const absl::string_view text = absl::StripAsciiWhitespace(answer);
  if (text.empty()) return absl::OkStatus();
  for (const absl::string_view ok : success) {
    if (text == ok) return absl::OkStatus();
  }
  const std::string message =
      absl::StrCat("HAProxy refused `", std::string(command), "`: ", std::string(text));
  if (absl::StartsWith(text, "No such backend") || absl::StartsWith(text, "No such server")) {
    return absl::NotFoundError(message);
  }
  if (absl::StartsWith(text, "Already exists a server")) return absl::AlreadyExistsError(message);
  if (absl::StrContains(text, "still has connections") ||
      absl::StrContains(text, "Only servers in maintenance mode") ||
      absl::StrContains(text, "Health check was not configured")) {
    return absl::FailedPreconditionError(message);
  }
  if (absl::StartsWith(text, "Permission denied")) return absl::PermissionDeniedError(message);
  return absl::InvalidArgumentError(message);
}

std::string ShowInfoField(absl::string_view show_info, absl::string_view key) {
  for (const absl::string_view line : absl::StrSplit(show_info, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::StripAsciiWhitespace(line.substr(0, colon)) == key) {
      return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "";
}

absl::StatusOr<std::vector<ServerStat>> ParseShowStat(absl::string_view csv) {
  std::vector<absl::string_view> lines = absl::StrSplit(csv, '\n');
  size_t first = 0;
  while (first < lines.size() && absl::StripAsciiWhitespace(lines[first]).empty()) ++first;
  if (first == lines.size() || !absl::StartsWith(lines[first], "# ")) {
    return absl::InvalidArgumentError(
        "show stat: the answer does not start with its header line (\"# pxname,svname,...\")");
  }
  const std::vector<std::string> header = SplitCsvLine(lines[first].substr(2));
  std::map<std::string, size_t> column;
  for (size_t i = 0; i < header.size(); ++i) column.emplace(header[i], i);
  enum Col { kPx, kSv, kStatus, kScur, kWeight, kCheckStatus, kCheckCode, kStot, kType, kCount };
  const char* const kNames[kCount] = {"pxname", "svname",     "status", "scur", "weight",
                                      "check_status", "check_code", "stot", "type"};
  size_t index[kCount];
  size_t needed = 0;
  for (int c = 0; c < kCount; ++c) {
    const auto it = column.find(kNames[c]);
    if (it == column.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("show stat: the header has no column \"", kNames[c], "\""));
    }
    index[c] = it->second;
    needed = std::max(needed, it->second + 1);
  }

  std::vector<ServerStat> servers;
  for (size_t l = first + 1; l < lines.size(); ++l) {
    const int line_number = static_cast<int>(l + 1);
    absl::string_view line = lines[l];
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    if (line.empty()) continue;
    const std::vector<std::string> fields = SplitCsvLine(line);
    if (fields.size() < needed) {
      return absl::InvalidArgumentError(absl::StrCat("show stat line ", line_number, " has ",
                                                     fields.size(), " fields, expected at least ",
                                                     needed));
    }
    // Column `type`: 0 frontend, 1 backend, 2 server, 3 listener.
    int type = -1;
    SKIFF_RETURN_IF_ERROR(ParseCount(fields[index[kType]], "type", line_number, &type));
    if (type != 2) continue;
    ServerStat stat;
    stat.backend = fields[index[kPx]];
    stat.name = fields[index[kSv]];
    stat.status = fields[index[kStatus]];
    stat.check_status = fields[index[kCheckStatus]];
    SKIFF_RETURN_IF_ERROR(
        ParseCount(fields[index[kScur]], "scur", line_number, &stat.current_sessions));
    SKIFF_RETURN_IF_ERROR(ParseCount(fields[index[kWeight]], "weight", line_number, &stat.weight));
    SKIFF_RETURN_IF_ERROR(
        ParseCount(fields[index[kCheckCode]], "check_code", line_number, &stat.check_code));
    SKIFF_RETURN_IF_ERROR(
        ParseCount(fields[index[kStot]], "stot", line_number, &stat.total_sessions));
    servers.push_back(std::move(stat));
  }
  return servers;
}

HaproxyAdmin::HaproxyAdmin(std::string socket_path, absl::Duration timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

absl::StatusOr<std::string> HaproxyAdmin::Execute(absl::string_view command) const {
  if (absl::StrContains(command, '\n')) {
    return absl::InvalidArgumentError("an admin command is one line");
  }
  const absl::Time deadline = absl::Now() + timeout_;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin socket path is too long for a unix socket: ", socket_path_));
  }
  std::memcpy(addr.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return absl::ErrnoToStatus(errno, "socket");
  absl::StatusOr<std::string> answer = ConnectUnix(fd.get(), addr, deadline);
  if (answer.ok()) answer = SendAll(fd.get(), absl::StrCat(command, "\n"), deadline);
  // The end of our input: the admin socket closes after one answer anyway, the master socket
  // only once it has read everything.
  if (answer.ok()) shutdown(fd.get(), SHUT_WR);
  if (answer.ok()) answer = ReadToEnd(fd.get(), deadline);
  if (answer.ok()) return answer;
  return absl::UnavailableError(absl::StrCat("HAProxy admin socket ", socket_path_, ": `",
                                             std::string(command), "`: ",
                                             answer.status().message()));
}

absl::Status HaproxyAdmin::AddServer(const ServerSpec& server) const {
  SKIFF_ASSIGN_OR_RETURN(const std::string command, AddServerCommand(server));
  SKIFF_ASSIGN_OR_RETURN(const std::string answer, Execute(command));
  return StatusFromAnswer(command, answer, {"New server registered."});
}

absl::Status HaproxyAdmin::EnableServer(absl::string_view backend, absl::string_view name) const {
  SKIFF_RETURN_IF_ERROR(CheckProxyName("backend", backend));
  SKIFF_RETURN_IF_ERROR(CheckProxyName("server", name));
  const std::string target = absl::StrCat(std::string(backend), "/", std::string(name));
  // Only a server with a check has health to enable, and show stat cannot tell (a checked server
  // in maintenance shows no check status): ask, and take HAProxy's "not configured" for "none".
  const std::string health = absl::StrCat("enable health ", target);
  SKIFF_ASSIGN_OR_RETURN(const std::string health_answer, Execute(health));
  if (absl::Status s = StatusFromAnswer(health, health_answer); !s.ok()) {
    if (!absl::IsFailedPrecondition(s) ||
        !absl::StrContains(s.message(), "Health check was not configured")) {
      return s;
    }
  }
  const std::string enable = absl::StrCat("enable server ", target);
  SKIFF_ASSIGN_OR_RETURN(const std::string answer, Execute(enable));
  return StatusFromAnswer(enable, answer);
}

absl::Status HaproxyAdmin::SetWeight(absl::string_view backend, absl::string_view name,
                                     int weight) const {
  SKIFF_RETURN_IF_ERROR(CheckProxyName("backend", backend));
  SKIFF_RETURN_IF_ERROR(CheckProxyName("server", name));
  if (weight < 0 || weight > 256) {
    return absl::InvalidArgumentError(absl::StrCat("server weight ", weight, " is not in 0-256"));
  }
  const std::string command = absl::StrCat("set weight ", std::string(backend), "/",
                                           std::string(name), " ", weight);
  SKIFF_ASSIGN_OR_RETURN(const std::string answer, Execute(command));
  return StatusFromAnswer(command, answer);
}

absl::Status HaproxyAdmin::SetState(absl::string_view backend, absl::string_view name,
                                    ServerAdminState state) const {
  SKIFF_RETURN_IF_ERROR(CheckProxyName("backend", backend));
  SKIFF_RETURN_IF_ERROR(CheckProxyName("server", name));
  const std::string command = SetStateCommand(backend, name, state);
  SKIFF_ASSIGN_OR_RETURN(const std::string answer, Execute(command));
  return StatusFromAnswer(command, answer);
}

absl::Status HaproxyAdmin::DeleteServer(absl::string_view backend, absl::string_view name) const {
  SKIFF_RETURN_IF_ERROR(CheckProxyName("backend", backend));
  SKIFF_RETURN_IF_ERROR(CheckProxyName("server", name));
  const std::string command =
      absl::StrCat("del server ", std::string(backend), "/", std::string(name));
  SKIFF_ASSIGN_OR_RETURN(const std::string answer, Execute(command));
  return StatusFromAnswer(command, answer, {"Server deleted."});
}

absl::StatusOr<std::vector<ServerStat>> HaproxyAdmin::Servers(absl::string_view backend) const {
  if (!backend.empty()) SKIFF_RETURN_IF_ERROR(CheckProxyName("backend", backend));
  SKIFF_ASSIGN_OR_RETURN(const std::string answer, Execute("show stat"));
  SKIFF_ASSIGN_OR_RETURN(std::vector<ServerStat> servers, ParseShowStat(answer));
  if (backend.empty()) return servers;
  std::vector<ServerStat> selected;
  for (ServerStat& s : servers) {
    if (s.backend == backend) selected.push_back(std::move(s));
  }
  return selected;
}

}  // namespace skiff::lb

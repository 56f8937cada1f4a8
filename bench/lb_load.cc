#include "lb_load.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "support/host_state.h"
#include "support/http_backend.h"
#include "support/subprocess.h"

namespace skiff::bench {
namespace {

// "2.35ms", "812.00us", "1.02s" (wrk's units) in ms; -1 when unreadable.
double WrkDurationMs(absl::string_view text) {
  static constexpr std::pair<const char*, double> kUnits[] = {
      {"us", 1e-3}, {"ms", 1.0}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}};
  for (const auto& [unit, scale] : kUnits) {
    absl::string_view number = text;
    double value = 0;
    if (absl::ConsumeSuffix(&number, unit) && absl::SimpleAtod(number, &value)) {
      return value * scale;
    }
  }
  return -1;
}

// The integer after `label` in `line` ("connect 0, read 2" with label "read "), 0 if absent.
int64_t CountAfter(absl::string_view line, absl::string_view label) {
  const size_t at = line.find(label);
  if (at == absl::string_view::npos) return 0;
  absl::string_view rest = line.substr(at + label.size());
  rest = rest.substr(0, rest.find_first_not_of("0123456789"));
  int64_t n = 0;
  return absl::SimpleAtoi(rest, &n) ? n : 0;
}

// A short reason for a failed request: the status, or the error without the address.
std::string FailureOf(const absl::StatusOr<testing::HttpResponse>& r) {
  if (r.ok()) return absl::StrCat("HTTP ", r->status);
  std::string message(r.status().message());
  const size_t colon = message.find(": ");
  return colon == std::string::npos ? message : message.substr(colon + 2);
}

double NearestRank(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

std::vector<std::string> WrkArgv(const std::string& url, const WrkOptions& options) {
  return {kWrkBinary,
          absl::StrCat("-t", options.threads),
          absl::StrCat("-c", options.connections),
          absl::StrCat("-d", absl::ToInt64Seconds(options.duration), "s"),
          "--timeout",
          absl::StrCat(absl::ToInt64Seconds(options.request_timeout), "s"),
          "--latency",
          url};
}

absl::StatusOr<WrkResult> RunWrk(const std::string& url, const WrkOptions& options) {
  const std::vector<std::string> argv = WrkArgv(url, options);
  absl::StatusOr<testing::CommandResult> run =
      testing::RunCommand(argv, options.duration + absl::Seconds(20));
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), " exited ", run->exit_code, ": ", run->stderr_text));
  }
  absl::StatusOr<WrkResult> result = ParseWrkReport(run->stdout_text);
  if (!result.ok()) {
    return absl::InternalError(
        absl::StrCat(result.status().message(), " in wrk's report:\n", run->stdout_text));
  }
  return result;
}

absl::StatusOr<WrkResult> ParseWrkReport(absl::string_view report) {
  WrkResult r;
  int quantiles = 0;
  bool rate = false;
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (words.size() == 2 && absl::EndsWith(words[0], "%")) {
      double* slot = words[0] == "50%"   ? &r.p50_ms
                     : words[0] == "90%" ? &r.p90_ms
                     : words[0] == "99%" ? &r.p99_ms
                                         : nullptr;
      if (slot != nullptr && (*slot = WrkDurationMs(words[1])) >= 0) ++quantiles;
    } else if (words.size() == 2 && words[0] == "Requests/sec:") {
      rate = absl::SimpleAtod(words[1], &r.requests_per_s);
    } else if (words.size() >= 3 && words[1] == "requests" && words[2] == "in") {
      absl::SimpleAtoi(words[0], &r.requests);
    } else if (absl::StartsWith(line, "Socket errors:")) {
      for (absl::string_view kind : {"connect ", "read ", "write ", "timeout "}) {
        r.errors += CountAfter(line, kind);
      }
    } else if (absl::StartsWith(line, "Non-2xx or 3xx responses:")) {
      r.errors += CountAfter(line, "responses: ");
    }
  }
  if (quantiles != 3 || !rate) {
    return absl::InternalError("no 50%/90%/99% latency or Requests/sec");
  }
  return r;
}

void PacedLoad::Start() {
  start_ = absl::Now();
  for (int i = 0; i < options_.senders; ++i) senders_.emplace_back([this] { Send(); });
}

void PacedLoad::Send() {
  const absl::Time deadline = start_ + options_.max_duration;
  for (int i = next_++; i < options_.max_requests && !stop_; i = next_++) {
    const absl::Time due = start_ + absl::Seconds(i / options_.rate);
    if (due >= deadline) return;
    // Wake up in slices, so that Stop() is not held up by a sender far ahead.
    while (!stop_ && absl::Now() < due) {
      absl::SleepFor(std::min(due - absl::Now(), absl::Milliseconds(50)));
    }
    if (stop_) return;
    absl::StatusOr<testing::HttpResponse> r =
        testing::HttpGet(options_.port, options_.path, options_.request_timeout);
    const bool ok = r.ok() && r->status == 200;
    Record(absl::Now() - due, ok ? "" : FailureOf(r));
  }
}

void PacedLoad::Record(absl::Duration latency, const std::string& failure) {
  absl::MutexLock lock(&mu_);
  latencies_ms_.push_back(absl::ToDoubleMilliseconds(latency));
  if (!failure.empty()) ++failures_[failure];
}

PacedLoad::Result PacedLoad::Stop() {
  if (senders_.empty()) return result_;
  stop_ = true;
  for (std::thread& t : senders_) t.join();
  senders_.clear();
  result_.ran = absl::Now() - start_;
  absl::MutexLock lock(&mu_);
  std::sort(latencies_ms_.begin(), latencies_ms_.end());
  result_.sent = static_cast<int>(latencies_ms_.size());
  result_.failures = failures_;
  for (const auto& [why, n] : failures_) result_.failed += n;
  result_.p50_ms = NearestRank(latencies_ms_, 0.5);
  result_.p99_ms = NearestRank(latencies_ms_, 0.99);
  result_.max_ms = latencies_ms_.empty() ? 0 : latencies_ms_.back();
  return result_;
}

absl::StatusOr<std::unique_ptr<KeepAliveResponder>> KeepAliveResponder::Start(
    const std::string& haproxy, const std::string& body) {
  char dir[] = "/tmp/skiff-lbbench-ka.XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp");
  absl::StatusOr<int> port = testing::PickFreeLoopbackPort();
  if (!port.ok()) {
    testing::RemoveTree(dir).IgnoreError();
    return port.status();
  }
  std::unique_ptr<KeepAliveResponder> responder(new KeepAliveResponder(dir, *port));
  const std::string config = absl::StrCat(
      "global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 2s\n"
      "  timeout client 10s\n  timeout server 10s\n  timeout http-keep-alive 10s\n"
      "frontend responder\n  bind 127.0.0.1:",
      *port, "\n  http-request return status 200 content-type text/plain string ", body, "\n");
  const std::string path = responder->dir_ + "/haproxy.cfg";
  std::ofstream out(path);
  out << config;
  if (!out.flush()) return absl::InternalError("cannot write " + path);
  absl::StatusOr<pid_t> pid = testing::Spawn(
      {.path = haproxy, .argv = {haproxy, "-db", "-q", "-f", path}, .die_with_parent = true});
  if (!pid.ok()) return pid.status();
  responder->pid_ = *pid;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    absl::StatusOr<testing::HttpResponse> r = testing::HttpGet(*port, "/", absl::Seconds(1));
    if (r.ok() && r->status == 200) return responder;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the keep-alive responder never answered on 127.0.0.1:", *port));
}

KeepAliveResponder::~KeepAliveResponder() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  testing::RemoveTree(dir_).IgnoreError();
}

}  // namespace skiff::bench

// The first probe's transfers on one libcurl multi handle.
#include "lb/health_prober.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "lb/health_matcher.h"

namespace skiff::lb {
namespace {

CURLM* NewMulti() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return curl_multi_init();
}

std::string Url(const ProbeSpec& spec) {
  const bool v6 = spec.address.find(':') != std::string::npos;
  const std::string host = v6 ? absl::StrCat("[", spec.address, "]") : spec.address;
  return absl::StrCat("http://", host, ":", spec.port,
                      spec.protocol == Protocol::kHttp ? spec.path : "/");
}

long Millis(absl::Duration d) {
  return static_cast<long>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 60'000));
}

}  // namespace

// One probe out: its easy handle, in multi_, and what its callbacks fill in.
struct HealthProber::Probe {
  Probe(CURLM* multi, std::string key, ProbeSpec spec)
      : multi(multi), key(std::move(key)), spec(std::move(spec)) {}
  ~Probe() {
    if (easy != nullptr) {
      if (added) curl_multi_remove_handle(multi, easy);
      curl_easy_cleanup(easy);
    }
    curl_slist_free_all(headers);
  }

  // The answer's status line and headers are what a check reads: the first bytes of a body end
  // the transfer (the write callback refuses them), so a long body does not hold the probe.
  static size_t OnBody(char*, size_t, size_t, void* user) {
    static_cast<Probe*>(user)->answered = true;
    return 0;
  }

  CURLM* const multi;
  const std::string key;
  const ProbeSpec spec;
  std::vector<CodeRange> matcher;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  bool added = false;     // In multi.
  bool answered = false;  // A body began: the status is in.
  char error[CURL_ERROR_SIZE] = {};
};

HealthProber::HealthProber() : multi_(NewMulti()) {}

HealthProber::~HealthProber() {
  probes_.clear();  // Each removes its handle from multi_ first.
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

void HealthProber::Start(const std::string& key, const ProbeSpec& spec) {
  Cancel(key);
  auto probe = std::make_unique<Probe>(multi_, key, spec);
  const auto fail = [&](std::string why) {
    ended_.push_back({.key = key, .spec = spec, .passed = false, .detail = std::move(why)});
  };
  if (multi_ == nullptr) return fail("libcurl could not make a multi handle");
  if (spec.protocol == Protocol::kHttp) {
    absl::StatusOr<std::vector<CodeRange>> matcher = ParseMatcher(spec.matcher);
    if (!matcher.ok()) return fail(std::string(matcher.status().message()));
    probe->matcher = *std::move(matcher);
  }
  CURL* easy = probe->easy = curl_easy_init();
  if (easy == nullptr) return fail("libcurl could not make an easy handle");
  const std::string url = Url(spec);
  const long timeout = Millis(spec.timeout);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, probe.get());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, probe->error);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // None, whatever http_proxy says.
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  if (spec.protocol == Protocol::kHttp) {
    // The Host that HAProxy's own checks send (config.cc), so an application that looks at it
    // answers the first probe as it answers every later check.
    probe->headers = curl_slist_append(nullptr, "Host: skiff-health-check");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, probe->headers);
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Probe::OnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, probe.get());
  } else {
    curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
  }
  if (const CURLMcode code = curl_multi_add_handle(multi_, easy); code != CURLM_OK) {
    return fail(curl_multi_strerror(code));
  }
  probe->added = true;
  probes_[key] = std::move(probe);
  // Under way now (the connect, and the request as far as it goes), not at the next Collect().
  int running = 0;
  curl_multi_perform(multi_, &running);
}

void HealthProber::Cancel(const std::string& key) {
  probes_.erase(key);
  ended_.erase(std::remove_if(ended_.begin(), ended_.end(),
                              [&](const ProbeResult& r) { return r.key == key; }),
               ended_.end());
}

void HealthProber::Wait(absl::Duration timeout) {
  if (multi_ == nullptr || !ended_.empty()) return;
  const double ms = std::ceil(absl::ToDoubleMilliseconds(std::max(timeout, absl::ZeroDuration())));
  const int wait = static_cast<int>(std::min(ms, double{std::numeric_limits<int>::max()}));
  curl_multi_poll(multi_, nullptr, 0, wait, nullptr);
}

void HealthProber::Wakeup() {
  if (multi_ != nullptr) curl_multi_wakeup(multi_);
}

std::vector<ProbeResult> HealthProber::Collect() {
  std::vector<ProbeResult> results = std::move(ended_);
  ended_.clear();
  if (multi_ == nullptr || probes_.empty()) return results;
  int running = 0;
  curl_multi_perform(multi_, &running);
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    Probe* probe = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &probe);
    const CURLcode code = message->data.result;
    ProbeResult result{.key = probe->key, .spec = probe->spec};
    if (probe->spec.protocol == Protocol::kTcp) {
      result.passed = code == CURLE_OK;
      result.detail = code == CURLE_OK ? "connected" : probe->error;
    } else if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && probe->answered)) {
      long status = 0;
      curl_easy_getinfo(probe->easy, CURLINFO_RESPONSE_CODE, &status);
      result.passed = MatcherAccepts(probe->matcher, static_cast<int>(status));
      result.detail = absl::StrCat("status ", status);
    } else {
      result.detail = probe->error[0] != '\0' ? probe->error : curl_easy_strerror(code);
    }
    if (result.detail.empty()) result.detail = curl_easy_strerror(code);
    results.push_back(std::move(result));
    const std::string key = probe->key;
    probes_.erase(key);  // Removes its handle; `message` is not read after this.
  }
  return results;
}

}  // namespace skiff::lb

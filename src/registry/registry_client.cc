#include "skiff/registry/registry_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace skiff::registry {
namespace {

constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kMaxManifest = 4 << 20;
constexpr char kManifestAccept[] =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

absl::StatusCode CodeForHttp(long status) {
  if (status == 404) return absl::StatusCode::kNotFound;
  if (status == 401 || status == 403) return absl::StatusCode::kPermissionDenied;
  if (status == 429 || status >= 500) return absl::StatusCode::kUnavailable;
  return absl::StatusCode::kFailedPrecondition;
}

std::string Escape(CURL* curl, const std::string& value) {
  char* escaped = curl_easy_escape(curl, value.data(), static_cast<int>(value.size()));
  std::string out = escaped == nullptr ? value : std::string(escaped);
  curl_free(escaped);
  return out;
}

}  // namespace

struct RegistryClient::Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // Lower-case names.
  std::string body;                            // Non-2xx bodies, and 2xx ones without a sink.
};

namespace {

// What the curl callbacks of one request share.
struct Transfer {
  CURL* curl = nullptr;
  const RegistryClient::Sink* sink = nullptr;
  int64_t skip = 0;        // Bytes to drop: a 200 answer to a ranged request starts at 0.
  bool skip_set = false;
  int64_t delivered = 0;   // Bytes given to the sink.
  size_t max_body = 0;
  absl::Status sink_status;
  RegistryClient::Response* response = nullptr;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  absl::string_view line(data, size * count);
  if (absl::StartsWith(line, "HTTP/")) {
    t->response->headers.clear();  // A new response (after a redirect or 100 Continue).
    return size * count;
  }
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    t->response->headers[name] = std::string(value);
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  absl::string_view chunk(data, n);
  if (status >= 200 && status < 300 && t->sink != nullptr) {
    if (!t->skip_set) {
      t->skip_set = true;
      // 206 starts at the offset asked for; 200 means the registry ignored Range: drop the head.
      if (status == 206) t->skip = 0;
    }
    if (t->skip > 0) {
      const int64_t drop = std::min<int64_t>(t->skip, static_cast<int64_t>(chunk.size()));
      chunk.remove_prefix(static_cast<size_t>(drop));
      t->skip -= drop;
    }
    if (chunk.empty()) return n;
    t->sink_status = (*t->sink)(chunk);
    if (!t->sink_status.ok()) return 0;  // Aborts the transfer (CURLE_WRITE_ERROR).
    t->delivered += static_cast<int64_t>(chunk.size());
    return n;
  }
  if (t->response->body.size() + n > t->max_body) return 0;
  t->response->body.append(chunk.data(), chunk.size());
  return n;
}

}  // namespace

RegistryClient::RegistryClient(Reference reference, RegistryOptions options,
                               std::optional<Credentials> credentials)
    : reference_(std::move(reference)),
      options_(std::move(options)),
      credentials_(std::move(credentials)) {
  GlobalInit();
  curl_ = curl_easy_init();
}

RegistryClient::~RegistryClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::string RegistryClient::BaseUrl() const {
  const bool plain = IsLoopbackRegistry(reference_.domain) ||
                     absl::c_linear_search(options_.insecure_registries, reference_.domain);
  return absl::StrCat(plain ? "http://" : "https://", reference_.ApiHost());
}

absl::StatusOr<RegistryClient::Response> RegistryClient::Get(
    const std::string& url, const std::vector<std::string>& headers, int64_t offset,
    const Sink* sink) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  curl_easy_reset(curl);  // Keeps the connection cache.
  Response response;
  Transfer transfer{.curl = curl, .sink = sink, .skip = offset,
                    .max_body = sink == nullptr ? kMaxManifest : kMaxErrorBody,
                    .response = &response};
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  // Blob redirects go to storage hosts; only http(s) there.
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(absl::ToInt64Seconds(options_.stall_timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "skiffd");
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  const std::string range = absl::StrCat(offset, "-");
  if (offset > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(list);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (code == CURLE_OK) return response;
  if (!transfer.sink_status.ok()) return transfer.sink_status;
  const std::string detail = error[0] != '\0' ? std::string(error) : curl_easy_strerror(code);
  // Strip any query (tokens, signatures of redirected blob URLs) from what is reported.
  const std::string shown(absl::string_view(url).substr(0, url.find('?')));
  if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CONNECT_ERROR) {
    return absl::UnavailableError(absl::StrCat("GET ", shown, ": TLS: ", detail));
  }
  if (transfer.delivered > 0 || code == CURLE_PARTIAL_FILE || code == CURLE_RECV_ERROR) {
    return absl::UnavailableError(absl::StrCat("GET ", shown, ": connection dropped after ",
                                               offset + transfer.delivered, " bytes: ", detail));
  }
  return absl::UnavailableError(absl::StrCat("GET ", shown, ": ", detail));
}

absl::StatusOr<RegistryClient::Response> RegistryClient::AuthorizedGet(
    const std::string& url, std::vector<std::string> headers, int64_t offset, const Sink* sink) {
  for (int attempt = 0;; ++attempt) {
    std::vector<std::string> all = headers;
    if (!authorization_.empty()) all.push_back(authorization_);
    absl::StatusOr<Response> response = Get(url, all, offset, sink);
    if (!response.ok() || response->status != 401 || attempt > 0) return response;
    auto challenge = response->headers.find("www-authenticate");
    if (challenge == response->headers.end()) return response;
    if (absl::Status status = Authorize(challenge->second); !status.ok()) return status;
  }
}

absl::Status RegistryClient::Authorize(const std::string& challenge_header) {
  absl::StatusOr<Challenge> challenge = ParseWwwAuthenticate(challenge_header);
  if (!challenge.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(reference_.domain, ": ",
                                                    challenge.status().message()));
  }
  const std::string basic =
      credentials_ ? absl::StrCat("Authorization: Basic ",
                                  absl::Base64Escape(absl::StrCat(credentials_->username, ":",
                                                                  credentials_->password)))
                   : "";
  if (challenge->scheme == "basic") {
    if (!credentials_) {
      return absl::PermissionDeniedError(absl::StrCat(
          reference_.domain, " asks for basic authentication and no credentials were given"));
    }
    authorization_ = basic;
    return absl::OkStatus();
  }
  if (challenge->scheme != "bearer") {
    return absl::PermissionDeniedError(absl::StrCat(
        reference_.domain, " asks for unsupported authentication scheme ", challenge->scheme));
  }
  auto realm = challenge->params.find("realm");
  if (realm == challenge->params.end() || realm->second.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat(reference_.domain, ": bearer challenge without a realm"));
  }
  CURL* curl = static_cast<CURL*>(curl_);
  std::vector<std::string> query;
  if (auto it = challenge->params.find("service"); it != challenge->params.end()) {
    query.push_back(absl::StrCat("service=", Escape(curl, it->second)));
  }
  std::string scope = absl::StrCat("repository:", reference_.repository, ":pull");
  if (auto it = challenge->params.find("scope"); it != challenge->params.end()) scope = it->second;
  query.push_back(absl::StrCat("scope=", Escape(curl, scope)));
  const std::string url = absl::StrCat(realm->second,
                                       absl::StrContains(realm->second, '?') ? "&" : "?",
                                       absl::StrJoin(query, "&"));
  std::vector<std::string> headers;
  if (!basic.empty()) headers.push_back(basic);
  absl::StatusOr<Response> response = Get(url, headers, 0, nullptr);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::Status(response->status == 401 || response->status == 403
                            ? absl::StatusCode::kPermissionDenied
                            : CodeForHttp(response->status),
                        absl::StrCat("token service of ", reference_.domain, " answered ",
                                     response->status, ": ",
                                     DescribeRegistryError(response->body)));
  }
  nlohmann::json json = nlohmann::json::parse(response->body, nullptr, false);
  std::string token;
  if (json.is_object()) {
    if (json.contains("token") && json["token"].is_string()) {
      token = json["token"].get<std::string>();
    } else if (json.contains("access_token") && json["access_token"].is_string()) {
      token = json["access_token"].get<std::string>();
    }
  }
  if (token.empty()) {
    return absl::PermissionDeniedError(
        absl::StrCat("token service of ", reference_.domain, " answered without a token"));
  }
  authorization_ = absl::StrCat("Authorization: Bearer ", token);
  return absl::OkStatus();
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const std::string& identifier) {
  const std::string url =
      absl::StrCat(BaseUrl(), "/v2/", reference_.repository, "/manifests/", identifier);
  absl::StatusOr<Response> response = AuthorizedGet(url, {kManifestAccept}, 0, nullptr);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::Status(CodeForHttp(response->status),
                        absl::StrCat(reference_.domain, " answered ", response->status,
                                     " for manifest ", reference_.repository, ":", identifier,
                                     ": ", DescribeRegistryError(response->body)));
  }
  FetchedManifest manifest{.body = std::move(response->body)};
  if (auto it = response->headers.find("content-type"); it != response->headers.end()) {
    manifest.media_type = std::string(absl::StripAsciiWhitespace(
        absl::string_view(it->second).substr(0, it->second.find(';'))));
  }
  return manifest;
}

absl::Status RegistryClient::FetchBlob(const std::string& digest, int64_t offset,
                                       const Sink& sink) {
  const std::string url =
      absl::StrCat(BaseUrl(), "/v2/", reference_.repository, "/blobs/", digest);
  absl::StatusOr<Response> response = AuthorizedGet(url, {}, offset, &sink);
  if (!response.ok()) return response.status();
  if (response->status == 416) {
    return absl::FailedPreconditionError(absl::StrCat(
        reference_.domain, " cannot resume blob ", digest, " at byte ", offset, " (416)"));
  }
  if (response->status < 200 || response->status >= 300) {
    return absl::Status(CodeForHttp(response->status),
                        absl::StrCat(reference_.domain, " answered ", response->status,
                                     " for blob ", digest, ": ",
                                     DescribeRegistryError(response->body)));
  }
  return absl::OkStatus();
}

std::string DescribeRegistryError(absl::string_view body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  std::vector<std::string> parts;
  if (json.is_object() && json.contains("errors") && json["errors"].is_array()) {
    for (const nlohmann::json& e : json["errors"]) {
      if (!e.is_object()) continue;
      // value() throws when a member has another type; a registry's body is not ours to trust.
      auto text = [&e](const char* key) {
        auto it = e.find(key);
        return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      const std::string code = text("code");
      const std::string message = text("message");
      parts.push_back(code.empty() ? message : absl::StrCat(code, ": ", message));
    }
  }
  if (!parts.empty()) return absl::StrJoin(parts, "; ");
  std::string text(absl::StripAsciiWhitespace(body.substr(0, 200)));
  return text.empty() ? "(no details)" : text;
}

}  // namespace skiff::registry

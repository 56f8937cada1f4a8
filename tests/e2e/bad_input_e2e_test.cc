// Bad input against a running skiffd's AWS JSON API: 10,000 requests from a fixed seed, most of
// them wrong in one way (bodies that are not JSON, too deep, too large, of the wrong shape;
// headers missing, garbled or not UTF-8; unknown targets, methods and paths; broken HTTP framing;
// clients that stall or half-close), between valid signed requests. No containerd: skiffd serves
// its API without one (--containerd-address names a socket that does not exist).
//
// What must hold: skiffd lives and still answers a valid ListClusters; every answer is an HTTP
// response with status 200, 4xx or 5xx; every 4xx/5xx that skiffd's protocol layer makes is an
// AWS error, JSON {"__type", "message"}. libmicrohttpd refuses some malformed HTTP itself, with
// its own page, before skiffd sees a request: those answers are counted apart, and allowed only
// for the cases of broken framing. skiffd's RSS after the run stays within 2x its RSS after a
// warm-up, plus 64 MiB.
#include <curl/curl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "skiff/aws/credentials.h"
#include "skiff/aws/sigv4.h"
#include "skiff/base/random.h"
#include "skiffd_process.h"
#include "support/loopback.h"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;

constexpr int kRequests = 10000;
constexpr uint64_t kSeed = 20261205;
constexpr int kStalledClients = 8;  // Hold connection slots for the whole run (of 64).
#ifdef SKIFF_SANITIZE
// Under ASan skiffd is slower, and its quarantine of freed memory (256 MiB) counts in its RSS.
constexpr absl::Duration kTimeLimit = absl::Seconds(180);
constexpr int64_t kRssSlackKib = 320 * 1024;
#else
constexpr absl::Duration kTimeLimit = absl::Seconds(60);
constexpr int64_t kRssSlackKib = 64 * 1024;
#endif
constexpr char kEcs[] = "AmazonEC2ContainerServiceV20141113.";

// What came back for one request.
struct Answer {
  bool received = false;  // An HTTP response; false: the connection ended without one.
  long status = 0;
  std::string body;
};

// How an answer counts.
enum class Kind { kOk, kAwsError, kLibraryError, kNoAnswer, kBad };

Kind Classify(const Answer& answer) {
  if (!answer.received) return Kind::kNoAnswer;
  const json body = json::parse(answer.body, nullptr, false);
  if (answer.status == 200) return body.is_object() ? Kind::kOk : Kind::kBad;
  if (answer.status < 400 || answer.status > 599) return Kind::kBad;
  if (!body.is_object()) return Kind::kLibraryError;  // libmicrohttpd's own page.
  const auto type = body.find("__type");
  const auto message = body.find("message");
  const bool aws = type != body.end() && type->is_string() && !type->get<std::string>().empty() &&
                   message != body.end() && message->is_string();
  return aws ? Kind::kAwsError : Kind::kBad;
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Well-formed HTTP over one keep-alive libcurl handle.
class CurlClient {
 public:
  explicit CurlClient(int port) : curl_(curl_easy_init()), port_(port) {}
  ~CurlClient() { curl_easy_cleanup(curl_); }

  Answer Send(const std::string& method, const std::string& path,
              const std::vector<std::pair<std::string, std::string>>& headers,
              const std::string& body) {
    Answer answer;
    curl_slist* list = nullptr;
    for (const auto& [name, value] : headers) {
      list = curl_slist_append(list, (name + ": " + value).c_str());
    }
    list = curl_slist_append(list, "Expect:");  // A large body goes at once, refused or not.
    const std::string url = absl::StrCat("http://127.0.0.1:", port_, path);
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer.body);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl_, CURLOPT_PATH_AS_IS, 1L);  // "/../x" goes as it is.
    if (curl_easy_perform(curl_) == CURLE_OK) {
      answer.received = true;
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &answer.status);
    }
    curl_slist_free_all(list);
    return answer;
  }

 private:
  CURL* curl_;
  int port_;
};

// A raw connection that reads until the server closes it or `timeout` passes.
int RawConnect(int port, absl::Duration timeout) {
  const int fd = skiff::testing::ConnectLoopback(port);
  if (fd < 0) return fd;
  const timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

// The first HTTP response on the connection: read until it is complete (its Content-Length),
// the server closes the connection, or the receive timeout passes.
Answer ReadAnswer(int fd) {
  std::string raw;
  char buffer[16384];
  Answer answer;
  for (;;) {
    const size_t head_end = raw.find("\r\n\r\n");
    if (head_end != std::string::npos && absl::StartsWith(raw, "HTTP/1.")) {
      const std::vector<std::string> words =
          absl::StrSplit(raw.substr(0, raw.find("\r\n")), ' ');
      size_t length = 0;
      for (absl::string_view line : absl::StrSplit(raw.substr(0, head_end), "\r\n")) {
        if (absl::StartsWithIgnoreCase(line, "content-length:")) {
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &length);
        }
      }
      if (raw.size() >= head_end + 4 + length) {
        answer.received = words.size() >= 2 && absl::SimpleAtoi(words[1], &answer.status);
        answer.body = raw.substr(head_end + 4, length);
        return answer;
      }
    }
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return answer;
    raw.append(buffer, static_cast<size_t>(n));
  }
}

// Sends `data` on a new connection, half-closes it when asked, and reads the answer. Only
// complete requests come here: libmicrohttpd holds a connection it waits on (for the rest of a
// request, or after a client's FIN) until its idle timeout, 30 s, and it serves 64 at most.
Answer SendRaw(int port, const std::string& data, bool half_close) {
  const int fd = RawConnect(port, absl::Seconds(2));
  if (fd < 0) return {};
  skiff::testing::SendAll(fd, data);
  if (half_close) shutdown(fd, SHUT_WR);
  Answer answer = ReadAnswer(fd);
  close(fd);
  return answer;
}

int64_t RssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    int64_t kib = 0;
    if (absl::StartsWith(line, "VmRSS:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(6), "kB")),
                         &kib)) {
      return kib;
    }
  }
  return -1;
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<SkiffdProcess>> skiffd = SkiffdProcess::Create();
    ASSERT_TRUE(skiffd.ok()) << skiffd.status();
    skiffd_ = *std::move(skiffd);
    ASSERT_TRUE(
        skiffd_->Start({"--containerd-address", skiffd_->dir() + "/no-containerd.sock"}).ok());
    ASSERT_TRUE(skiffd_->WaitReady("without containerd").ok()) << skiffd_->Log();
    const std::string endpoint = skiffd_->HttpEndpoint();
    ASSERT_TRUE(absl::StartsWith(endpoint, "http://127.0.0.1:")) << skiffd_->Log();
    ASSERT_TRUE(absl::SimpleAtoi(endpoint.substr(endpoint.rfind(':') + 1), &port_));
    SeededRandom unused(1);  // The file exists: nothing is drawn.
    absl::StatusOr<aws::CredentialsFile> keys =
        aws::LoadOrCreateCredentials(skiffd_->aws_credentials(), unused);
    ASSERT_TRUE(keys.ok()) << keys.status();
    ASSERT_FALSE(keys->created);
    key_ = keys->keys.front();
    host_ = absl::StrCat("127.0.0.1:", port_);
  }

  // The headers of a request to `target` with `body`, signed now.
  std::vector<std::pair<std::string, std::string>> Signed(const std::string& target,
                                                          const std::string& body,
                                                          const std::string& method = "POST",
                                                          const std::string& path = "/") {
    aws::SignedRequest request{.method = method,
                               .path = path,
                               .headers = {{"Host", host_},
                                           {"Content-Type", "application/x-amz-json-1.1"},
                                           {"X-Amz-Target", target}},
                               .body = body};
    aws::SignV4(request, key_, "us-east-1", "ecs", absl::Now());
    return request.headers;
  }

  std::unique_ptr<SkiffdProcess> skiffd_;
  int port_ = 0;
  aws::Credential key_;
  std::string host_;
};

// The valid requests the mutations start from: read-only, so that the run does not grow state.
const std::vector<std::pair<std::string, std::string>>& ValidRequests() {
  static const auto* requests = new std::vector<std::pair<std::string, std::string>>{
      {"ListClusters", R"({"maxResults": 5})"},
      {"DescribeClusters", R"({"clusters": ["default"], "include": ["TAGS"]})"},
      {"ListTaskDefinitions", R"({"familyPrefix": "web", "sort": "DESC"})"},
      {"ListTaskDefinitionFamilies", R"({"status": "ACTIVE"})"},
      {"ListServices", R"({"cluster": "default"})"},
      {"ListTasks", R"({"cluster": "default", "desiredStatus": "RUNNING"})"},
      {"DescribeTaskDefinition", R"({"taskDefinition": "missing:1"})"},
  };
  return *requests;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n, bool header_safe) {
  std::string out(n, '\0');
  for (char& c : out) {
    do {
      c = static_cast<char>(rng() & 0xff);
    } while (header_safe && (c == '\0' || c == '\r' || c == '\n'));
  }
  return out;
}

TEST_F(BadInputTest, TenThousandMutatedRequestsGetHttpAnswersAndSkiffdLives) {
  std::mt19937_64 rng(kSeed);
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  CurlClient curl(port_);
  // Per case: how many answers of each kind.
  std::map<std::string, std::map<Kind, int>> counts;
  std::vector<std::string> bad;
  absl::Time sent = absl::Now();
  auto record = [&](const std::string& name, const Answer& answer, bool library_allowed) {
    if (absl::Now() - sent > absl::Seconds(1)) {
      std::printf("bad_input: slow: %s took %s\n", name.c_str(),
                  absl::FormatDuration(absl::Now() - sent).c_str());
      std::fflush(stdout);
    }
    Kind kind = Classify(answer);
    if (kind == Kind::kLibraryError && !library_allowed) kind = Kind::kBad;
    if (kind == Kind::kNoAnswer && !library_allowed) kind = Kind::kBad;
    ++counts[name][kind];
    if (kind == Kind::kBad && bad.size() < 10) {
      bad.push_back(absl::StrCat(name, ": ", answer.received ? "" : "no answer, ", "status ",
                                 answer.status, " ", answer.body.substr(0, 200)));
    }
  };

  // Slow clients: half a request line and headers, then nothing until the end of the run.
  std::vector<int> stalled;
  std::vector<int> half_closed;
  for (int i = 0; i < kStalledClients; ++i) {
    const int fd = RawConnect(port_, absl::Seconds(2));
    ASSERT_GE(fd, 0);
    skiff::testing::SendAll(fd, absl::StrCat("POST / HTTP/1.1\r\nHost: ", host_, "\r\nX-Am"));
    stalled.push_back(fd);
  }

  const absl::Time start = absl::Now();
  int64_t warm_rss = 0;
  for (int i = 0; i < kRequests; ++i) {
    if (i == 500) warm_rss = RssKib(skiffd_->pid());
    sent = absl::Now();
    const auto& [operation, valid_body] = ValidRequests()[pick(ValidRequests().size())];
    const std::string target = kEcs + operation;
    const size_t which = pick(100);
    if (which < 20) {
      record("valid signed request", curl.Send("POST", "/", Signed(target, valid_body), valid_body),
             false);
    } else if (which < 27) {
      const std::string body = valid_body.substr(0, pick(valid_body.size()));
      record("truncated JSON", curl.Send("POST", "/", Signed(target, body), body), false);
    } else if (which < 34) {
      const std::string body = RandomBytes(rng, 1 + pick(512), false);  // Mostly not UTF-8.
      record("garbage body", curl.Send("POST", "/", Signed(target, body), body), false);
    } else if (which < 37) {
      const std::string body = std::string(10000, pick(2) ? '[' : '{') + std::string(10000, ']');
      record("JSON nested 10,000 deep", curl.Send("POST", "/", Signed(target, body), body), false);
    } else if (which < 38) {
      const std::string body =
          R"({"family": ")" + std::string((1 << 20) + pick(4096), 'x') + R"("})";
      // skiffd answers 413 from the headers and closes; curl, still sending, may see the reset
      // before the answer (counted as no answer).
      record("1 MiB body", curl.Send("POST", "/", Signed(target, body), body), true);
    } else if (which < 44) {
      static const std::vector<std::string> kWrongTypes = {
          R"({"maxResults": "five"})", R"({"clusters": "default"})", R"({"cluster": 7})",
          R"({"include": [1, 2]})", R"({"maxResults": 1e999})", R"({"cluster": null})",
          R"({"maxResults": 99999999999999999999999})", R"({"maxResults": 2.5})", "[]", "\"x\"",
          "17", "true"};
      const std::string& body = kWrongTypes[pick(kWrongTypes.size())];
      record("wrong member types", curl.Send("POST", "/", Signed(target, body), body), false);
    } else if (which < 49) {
      const std::string body =
          absl::StrCat(valid_body.substr(0, valid_body.size() - 1), R"(, "zz)", pick(1000),
                       R"(": {"a": [1, {"b": "c"}]}})");
      record("unknown members", curl.Send("POST", "/", Signed(target, body), body), false);
    } else if (which < 54) {
      const std::string unknown =
          pick(2) ? kEcs + RandomBytes(rng, 1 + pick(40), true) : "AmazonSSM.GetParameter";
      record("unknown target", curl.Send("POST", "/", Signed(unknown, "{}"), "{}"), false);
    } else if (which < 60) {
      static const std::vector<std::string> kHeaders = {"Authorization", "X-Amz-Date",
                                                        "X-Amz-Target", "Host"};
      const std::string& drop = kHeaders[pick(kHeaders.size())];
      auto headers = Signed(target, valid_body);
      std::erase_if(headers, [&drop](const auto& h) { return h.first == drop; });
      record("missing header", curl.Send("POST", "/", headers, valid_body), false);
    } else if (which < 68) {
      // A garbled Authorization, X-Amz-Date or X-Amz-Target: random bytes, most not UTF-8.
      auto headers = Signed(target, valid_body);
      auto& header = headers[pick(headers.size())];
      if (pick(2)) {
        header.second = RandomBytes(rng, 1 + pick(200), true);
      } else {
        header.second.insert(pick(header.second.size() + 1), RandomBytes(rng, 1 + pick(8), true));
      }
      record("garbled header", curl.Send("POST", "/", headers, valid_body), false);
    } else if (which < 73) {
      const std::string body = absl::StrCat(R"({"cluster": "caf)", RandomBytes(rng, 3, true),
                                            "\xff\xfe", R"("})");
      record("non-UTF-8 JSON string", curl.Send("POST", "/", Signed(target, body), body), false);
    } else if (which < 78) {
      static const std::vector<std::pair<std::string, std::string>> kPlaces = {
          {"GET", "/"},   {"PUT", "/"},        {"DELETE", "/"},     {"BREW", "/"},
          {"POST", "/x"}, {"POST", "/../etc"}, {"POST", "/%ff%00"}, {"OPTIONS", "/"},
          {"POST", "//"}, {"PATCH", "/?a=b&c"}, {"GET", "/metricsx"}};
      const auto& [method, path] = kPlaces[pick(kPlaces.size())];
      const std::string body = method == "GET" ? "" : valid_body;
      // Signed, so that the answer is about the method or path, not the signature.
      record("invalid method or path",
             curl.Send(method, path, Signed(target, body, method, path), body), false);
    } else if (which < 84) {
      // Content-Length shorter than the body: the rest reads as a second, garbage request.
      record("Content-Length short of the body",
             SendRaw(port_,
                     absl::StrCat("POST / HTTP/1.1\r\nHost: ", host_, "\r\nX-Amz-Target: ",
                                  target, "\r\nContent-Length: 2\r\n\r\n", valid_body),
                     false),
             true);
    } else if (which < 89) {
      // Not here: "gzip, chunked", an unknown encoding, a chunk size beyond 2^64. libmicrohttpd
      // waits on those for more until its idle timeout (30 s), holding one of its 64 connections
      // even after the client's FIN; the cut-off requests below stand for them.
      static const std::vector<std::pair<std::string, bool>> kEncodings = {
          {"chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", false},
          {"chunked\r\nContent-Length: 5\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false},
          {"chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false}};
      const auto& [encoding, half_close] = kEncodings[pick(kEncodings.size())];
      record("bogus Transfer-Encoding",
             SendRaw(port_,
                     absl::StrCat("POST / HTTP/1.1\r\nHost: ", host_, "\r\nConnection: close",
                                  "\r\nX-Amz-Target: ", target, "\r\nTransfer-Encoding: ",
                                  encoding),
                     half_close),
             true);
    } else {
      static const std::vector<std::string> kFraming = {
          "GARBAGE\r\n\r\n", "POST / HTTP/9.9\r\nHost: x\r\n\r\n", "POST /\r\n\r\n",
          "POST / HTTP/1.1\r\nNo colon here\r\n\r\n",
          "POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n",
          "POST \xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n", "POST / HTTP/1.1\r\n Folded: x\r\n\r\n",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
          std::string("POST / HTTP/1.1\r\nHost: x\0y\r\n\r\n", 30)};
      const std::string& framing = kFraming[pick(kFraming.size())];
      // (A TLS hello, which has no line end, is not among them: libmicrohttpd waits for one
      // until its idle timeout, even after the client's FIN.)
      record("broken HTTP framing", SendRaw(port_, framing, false), true);
    }
    if (i % 250 == 125) {
      // A request cut off, then the end of the client's writes. libmicrohttpd keeps such a
      // connection until its idle timeout (30 s) instead of closing it at the client's FIN, so
      // these are few (at most 40 open at once, with the stalled ones under the 64 connections)
      // and their answers, if any, are read at the end.
      const std::string request =
          absl::StrCat("POST / HTTP/1.1\r\nHost: ", host_, "\r\nX-Amz-Target: ", target,
                       "\r\nContent-Length: ", valid_body.size() + 100 * pick(2), "\r\n\r\n",
                       valid_body);
      const int fd = RawConnect(port_, absl::Milliseconds(10));
      ASSERT_GE(fd, 0);
      skiff::testing::SendAll(fd, request.substr(0, 1 + pick(request.size())));
      shutdown(fd, SHUT_WR);
      half_closed.push_back(fd);
    }
  }
  // A slow but complete client: a signed request in pieces, 20 ms apart.
  {
    const std::string body = R"({"maxResults": 1})";
    std::string request = "POST / HTTP/1.1\r\nConnection: close\r\n";
    for (const auto& [name, value] : Signed(kEcs + std::string("ListClusters"), body)) {
      absl::StrAppend(&request, name, ": ", value, "\r\n");
    }
    absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n\r\n", body);
    const int fd = RawConnect(port_, absl::Seconds(5));
    ASSERT_GE(fd, 0);
    for (size_t at = 0; at < request.size(); at += 40) {
      skiff::testing::SendAll(fd, request.substr(at, 40));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    record("slow complete client", ReadAnswer(fd), false);
    close(fd);
  }
  const absl::Duration elapsed = absl::Now() - start;
  for (int fd : half_closed) {
    record("half-closed mid-request", ReadAnswer(fd), true);
    close(fd);
  }

  // The stalled clients held their slots throughout; skiffd still serves, and lives.
  for (int fd : stalled) close(fd);
  const Answer last = curl.Send("POST", "/", Signed(kEcs + std::string("ListClusters"), "{}"), "{}");
  EXPECT_EQ(last.status, 200) << last.body;
  EXPECT_TRUE(json::parse(last.body, nullptr, false).contains("clusterArns")) << last.body;
  EXPECT_EQ(waitpid(skiffd_->pid(), nullptr, WNOHANG), 0) << "skiffd exited:\n" << skiffd_->Log();
  const int64_t rss = RssKib(skiffd_->pid());

  static const std::map<Kind, std::string> kNames = {{Kind::kOk, "200"},
                                                     {Kind::kAwsError, "AWS error"},
                                                     {Kind::kLibraryError, "libmicrohttpd page"},
                                                     {Kind::kNoAnswer, "closed, no answer"},
                                                     {Kind::kBad, "BAD"}};
  int total = 0;
  for (const auto& [name, kinds] : counts) {
    std::string line = absl::StrCat(name, ":");
    for (const auto& [kind, n] : kinds) {
      absl::StrAppend(&line, " ", kNames.at(kind), "=", n);
      total += n;
    }
    std::printf("bad_input: %s\n", line.c_str());
  }
  std::printf("bad_input: %d requests in %s; RSS %lld KiB after warm-up, %lld KiB after\n", total,
              absl::FormatDuration(elapsed).c_str(), static_cast<long long>(warm_rss),
              static_cast<long long>(rss));
  EXPECT_THAT(bad, ::testing::IsEmpty());
  EXPECT_GT(counts["valid signed request"][Kind::kOk], 1000);
  EXPECT_GT(warm_rss, 0);
  EXPECT_LT(rss, 2 * warm_rss + kRssSlackKib);
  EXPECT_LT(elapsed, kTimeLimit);
}

}  // namespace
}  // namespace skiff::e2e

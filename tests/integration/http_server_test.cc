// HttpServer (libmicrohttpd) on 127.0.0.1 with libcurl as the client: answers from another
// thread while the connection waits, keep-alive, the raw path and query, the body and header
// caps, the connection cap, and shutdown with an answer still pending. Bounded waits only.
#include "api/http_server.h"

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/loopback.h"
#include "support/subprocess.h"

namespace skiff::api {
namespace {

using ::testing::Contains;
using ::testing::Pair;

struct CurlResult {
  long status = 0;  // NOLINT(runtime/int): libcurl's type.
  std::string body;
  long connects = 0;  // NOLINT(runtime/int): new connections this transfer opened.
};

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One libcurl handle: its transfers reuse its connection (keep-alive).
class Client {
 public:
  Client() : curl_(curl_easy_init()) {}
  ~Client() { curl_easy_cleanup(curl_); }

  CurlResult Post(const std::string& url, const std::string& body,
                  const std::vector<std::string>& headers = {}, long timeout_ms = 10000) {
    curl_slist* list = nullptr;
    for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
    CurlResult result;
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &result.body);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl_, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 0L);  // The tests' self-signed certificate.
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 0L);
    if (curl_easy_perform(curl_) == CURLE_OK) {
      curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &result.status);
      curl_easy_getinfo(curl_, CURLINFO_NUM_CONNECTS, &result.connects);
    }
    curl_slist_free_all(list);
    return result;
  }

 private:
  CURL* curl_;
};

class HttpServerTest : public ::testing::Test {
 protected:
  // Starts a server whose handler answers from a thread of its own, as the loop does.
  void StartServer(HttpServerOptions options = {}) {
    if (options.address.empty()) options.address = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
        options, [this](HttpRequest request, Respond respond) {
          {
            absl::MutexLock lock(&mu_);
            seen_.push_back(request);
            if (hold_) {
              held_.push_back(std::move(respond));
              return;
            }
          }
          std::thread([request, respond] {
            respond({.status = 200,
                     .headers = {{"X-Echo-Path", request.path}},
                     .body = absl::StrCat(request.method, " ", request.path, "?", request.query,
                                          " ", request.body)});
          }).detach();
        });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    url_ = absl::StrCat("http://127.0.0.1:", server_->port());
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::ZeroDuration());
    absl::MutexLock lock(&mu_);
    for (Respond& respond : held_) respond({.status = 200});  // After stop: must do nothing.
  }

  std::unique_ptr<HttpServer> server_;
  std::string url_;
  absl::Mutex mu_;
  std::vector<HttpRequest> seen_ ABSL_GUARDED_BY(mu_);
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Respond> held_ ABSL_GUARDED_BY(mu_);
};

TEST_F(HttpServerTest, AnswersFromAnotherThreadOverOneKeptAliveConnection) {
  StartServer();
  Client client;
  const CurlResult first = client.Post(url_ + "/", R"({"a": 1})",
                                       {"X-Amz-Target: Service.Operation"});
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, R"(POST /? {"a": 1})");
  EXPECT_EQ(first.connects, 1);
  for (int i = 0; i < 20; ++i) {
    const CurlResult again = client.Post(url_ + "/", "{}");
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.connects, 0) << "request " << i << " opened a new connection";
  }
  absl::MutexLock lock(&mu_);
  ASSERT_FALSE(seen_.empty());
  EXPECT_THAT(seen_.front().headers, Contains(Pair("X-Amz-Target", "Service.Operation")));
  EXPECT_EQ(seen_.front().peer, "127.0.0.1");
}

TEST_F(HttpServerTest, ThePathAndQueryArriveRawAsSigned) {
  StartServer();
  Client client;
  const CurlResult result = client.Post(url_ + "/a%20b/c?x=1&y=%2F+z", "");
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "POST /a%20b/c?x=1&y=%2F+z ");
}

TEST_F(HttpServerTest, BodiesAndHeadersOverTheCapsAreRefused) {
  StartServer({.max_body_bytes = 1024, .max_header_bytes = 8192});
  Client client;
  EXPECT_EQ(client.Post(url_ + "/", std::string(1024, 'x')).status, 200);
  EXPECT_EQ(client.Post(url_ + "/", std::string(1025, 'x')).status, 413);
  EXPECT_EQ(client.Post(url_ + "/", std::string(1 << 20, 'x')).status, 413);
  const CurlResult huge_header =
      client.Post(url_ + "/", "{}", {"X-Big: " + std::string(16 * 1024, 'h')});
  EXPECT_GE(huge_header.status, 400);
  EXPECT_LT(huge_header.status, 500);
  // The server still serves afterwards.
  EXPECT_EQ(Client().Post(url_ + "/", "{}").status, 200);
  absl::MutexLock lock(&mu_);
  for (const HttpRequest& request : seen_) EXPECT_LE(request.body.size(), 1024u);
}

TEST_F(HttpServerTest, ConnectionsOverTheCapAreNotServedWhileTheFirstOnesStay) {
  StartServer({.max_connections = 4});
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) {
    const int fd = skiff::testing::ConnectLoopback(server_->port());
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  // The library accepts no more: a fifth client waits in the kernel's backlog, unserved.
  EXPECT_EQ(Client().Post(url_ + "/", "{}", {}, 300).status, 0);
  for (int fd : idle) close(fd);
  // Once the idle ones are gone (the server notices the close), a client is served again.
  CurlResult served;
  for (int i = 0; i < 50 && served.status != 200; ++i) {
    served = Client().Post(url_ + "/", "{}");
    if (served.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(served.status, 200);
}

TEST_F(HttpServerTest, ShutdownAnswersWhatIsStillPendingWith503) {
  StartServer();
  {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  auto pending = std::async(std::launch::async, [this] { return Client().Post(url_ + "/", "{}"); });
  for (int i = 0; i < 500; ++i) {
    {
      absl::MutexLock lock(&mu_);
      if (!held_.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server_->Shutdown(absl::Milliseconds(50));
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const CurlResult result = pending.get();
  EXPECT_EQ(result.status, 503);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(held_.size(), 1u);
}

TEST_F(HttpServerTest, ServesHttpsWithACertificateAndKey) {
  char dir_template[] = "/tmp/skiff-tls-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  absl::StatusOr<skiff::testing::CommandResult> made = skiff::testing::RunCommand(
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
       "/CN=127.0.0.1", "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem"},
      absl::Seconds(60));
  ASSERT_TRUE(made.ok() && made->exit_code == 0) << (made.ok() ? made->stderr_text : "");
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  StartServer({.tls_certificate = read(dir + "/cert.pem"), .tls_key = read(dir + "/key.pem")});
  std::filesystem::remove_all(dir);
  const std::string https = absl::StrCat("https://127.0.0.1:", server_->port(), "/");
  EXPECT_EQ(Client().Post(https, "{}").status, 200);
  EXPECT_EQ(Client().Post(url_ + "/", "{}").status, 0) << "plain HTTP on the HTTPS port";
}

TEST_F(HttpServerTest, BadAddressesAndHalfTlsSettingsAreRefused) {
  EXPECT_FALSE(HttpServer::Start({.address = "127.0.0.1"}, nullptr).ok());
  EXPECT_FALSE(HttpServer::Start({.address = "no-such-host.invalid:80"}, nullptr).ok());
  EXPECT_FALSE(
      HttpServer::Start({.address = "127.0.0.1:0", .tls_certificate = "x"}, nullptr).ok());
  StartServer();
  // The port is taken now.
  EXPECT_FALSE(HttpServer::Start({.address = url_.substr(7)}, nullptr).ok());
}

}  // namespace
}  // namespace skiff::api

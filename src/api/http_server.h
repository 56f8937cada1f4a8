// HttpServer: HTTP/1.1 (and HTTPS) on one TCP address, served by libmicrohttpd (ADR 0012) from one
// thread of its own, epoll-driven. A complete request (headers and body, within the limits) goes
// to the handler on that thread; the handler answers at once or later from any thread (the
// control loop, typically) through `respond`, while the connection waits suspended, so no thread
// blocks on a pending answer and a slow client holds nothing but its connection. Keep-alive,
// timeouts and the caps are the library's. Private to the api component.
#ifndef SKIFF_SRC_API_HTTP_SERVER_H_
#define SKIFF_SRC_API_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct MHD_Daemon;  // libmicrohttpd's, which only http_server.cc includes.

namespace skiff::api {

struct HttpRequest {
  std::string method;
  std::string path;   // Raw, as on the request line, without the query.
  std::string query;  // Raw, without the '?'.
  std::vector<std::pair<std::string, std::string>> headers;  // Names as the client sent them.
  std::string body;
  std::string peer;  // The client's address.

  // The first header of that name (case-insensitive), or null.
  const std::string* Header(absl::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, makes the body on the server's thread just before it is sent, so that a
  // respond called on the control loop leaves the encoding (of a large answer) to that thread.
  std::function<std::string()> render_body;
};

// Answers a request; call it exactly once, from any thread. Calls after the server stopped, or
// for a client that is gone, do nothing.
using Respond = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, Respond)>;

struct HttpServerOptions {
  std::string address;  // HOST:PORT, [V6]:PORT; port 0 takes a free one (see port()).
  // An IPv4 TCP socket already bound and listening, served instead of binding `address` (which
  // then only names it in messages); the server owns it from Start on, even when Start fails.
  int listen_fd = -1;
  // PEM text; both or neither. With them the server speaks only HTTPS.
  std::string tls_certificate;
  std::string tls_key;
  size_t max_body_bytes = 64 * 1024;  // Larger bodies get `refusal(413, ...)` unread.
  size_t max_header_bytes = 32 * 1024;  // The request line and headers; beyond: 431.
  // More wait in the kernel's backlog (ADR 0012). libmicrohttpd 0.9.75 keeps a connection the
  // client half-closed until the idle timeout: the cap is set so that such connections cannot
  // lock others out for long, at ~34 KiB each.
  unsigned max_connections = 256;
  // Threads serving connections, each with its own epoll and share of the connections: JSON
  // and SigV4 work spreads over the cores instead of queueing behind one thread.
  unsigned threads = 2;
  absl::Duration idle_timeout = absl::Seconds(15);  // A connection silent this long is closed.
  // The answer to a request the server refuses itself (413); plain text when not set.
  std::function<HttpResponse(int status, std::string message)> refusal;
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler handler);
  ~HttpServer();  // Shutdown(absl::ZeroDuration()) when not done yet.

  uint16_t port() const { return port_; }

  // Stops accepting, waits up to `grace` for the answers still pending, then closes every
  // connection (a request still unanswered gets 503).
  void Shutdown(absl::Duration grace);

  struct Shared;  // State the pending answers share with the server (http_server.cc).

 private:
  HttpServer() = default;
  HttpResponse Refusal(int status, std::string message) const;

  HttpHandler handler_;
  std::function<HttpResponse(int, std::string)> refusal_;
  size_t max_body_bytes_ = 0;
  std::shared_ptr<Shared> shared_;
  ::MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;

  friend struct Callbacks;
};

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_HTTP_SERVER_H_

#include "api/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace skiff::api {

const std::string* HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

// One request, from its headers until the library lets go of it.
struct HttpExchange {
  MHD_Connection* connection = nullptr;
  HttpRequest request;
  bool dispatched = false;  // Handed to the handler (only the server thread reads it).
  // Guarded by Shared::mu.
  std::optional<HttpResponse> response;
  bool answered = false;  // The respond function ran.
  bool suspended = false;
  bool finished = false;  // The library is done with the connection's request.
};

// What the respond functions share with the server: they may run after it is gone.
struct HttpServer::Shared {
  std::mutex mu;
  std::condition_variable changed;
  bool stopped = false;  // Guarded by mu: no answer resumes a connection any more.
  int pending = 0;       // Guarded by mu: requests handed out and not answered yet.
  // Guarded by mu: exchanges that were suspended and are not complete yet (their answer not
  // sent). The library refuses to stop while a connection is suspended, so Shutdown resumes
  // these and waits until their answers are out.
  absl::flat_hash_set<HttpExchange*> waiting;
};

namespace {

// Per connection: the raw URI of its current request, as the client sent it.
struct ConnectionContext {
  std::string raw_uri;
};

MHD_Result Queue(MHD_Connection* connection, HttpResponse answer) {
  if (answer.render_body) {
    answer.body = answer.render_body();
    answer.render_body = nullptr;
  }
  MHD_Response* response = MHD_create_response_from_buffer(
      answer.body.size(), const_cast<char*>(answer.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  for (const auto& [name, value] : answer.headers) {
    MHD_add_response_header(response, name.c_str(), value.c_str());
  }
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(answer.status), response);
  MHD_destroy_response(response);
  return queued;
}

std::string TooLarge(size_t max) {
  return absl::StrCat("the request body is larger than ", max, " bytes");
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<HttpRequest*>(cls)->headers.emplace_back(key, value == nullptr ? "" : value);
  return MHD_YES;
}

std::string PeerOf(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return "";
  char host[NI_MAXHOST] = {0};
  const socklen_t size = info->client_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                                   : sizeof(sockaddr_in);
  if (getnameinfo(info->client_addr, size, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return host;
}

void LogFromLibrary(void*, const char* format, va_list args) {
  char line[512];
  std::vsnprintf(line, sizeof(line), format, args);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  spdlog::debug("http: {}", text);
}

}  // namespace

// The library's callbacks, with access to the server's state.
struct Callbacks {
  static void* OnUri(void*, const char* uri, MHD_Connection* connection) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info != nullptr && info->socket_context != nullptr) {
      static_cast<ConnectionContext*>(info->socket_context)->raw_uri = uri;
    }
    return nullptr;  // The access handler makes the request's state.
  }

  static void OnConnection(void*, MHD_Connection*, void** socket_context,
                           MHD_ConnectionNotificationCode code) {
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
      *socket_context = new ConnectionContext();
    } else {
      delete static_cast<ConnectionContext*>(*socket_context);
      *socket_context = nullptr;
    }
  }

  static void OnCompleted(void* cls, MHD_Connection*, void** con_cls,
                          MHD_RequestTerminationCode) {
    auto* holder = static_cast<std::shared_ptr<HttpExchange>*>(*con_cls);
    if (holder == nullptr) return;
    auto* server = static_cast<HttpServer*>(cls);
    {
      std::lock_guard<std::mutex> lock(server->shared_->mu);
      (*holder)->finished = true;
      if (server->shared_->waiting.erase(holder->get()) > 0) server->shared_->changed.notify_all();
    }
    delete holder;
    *con_cls = nullptr;
  }

  static MHD_Result OnRequest(void* cls, MHD_Connection* connection, const char* /*url*/,
                              const char* method, const char* /*version*/,
                              const char* upload_data, size_t* upload_data_size,
                              void** con_cls) {
    auto* server = static_cast<HttpServer*>(cls);
    auto* holder = static_cast<std::shared_ptr<HttpExchange>*>(*con_cls);
    if (holder == nullptr) return Begin(server, connection, method, con_cls);
    HttpExchange& exchange = **holder;
    if (*upload_data_size != 0) {
      if (exchange.request.body.size() + *upload_data_size > server->max_body_bytes_) {
        return Queue(connection, server->Refusal(413, TooLarge(server->max_body_bytes_)));
      }
      exchange.request.body.append(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (!exchange.dispatched) return Dispatch(server, *holder);
    return Answer(server, exchange);
  }

  // The headers are in: the request's state, or an answer at once when its body is too large.
  static MHD_Result Begin(HttpServer* server, MHD_Connection* connection, const char* method,
                          void** con_cls) {
    auto exchange = std::make_shared<HttpExchange>();
    exchange->connection = connection;
    HttpRequest& request = exchange->request;
    request.method = method;
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const std::string& uri = static_cast<ConnectionContext*>(info->socket_context)->raw_uri;
    const size_t question = uri.find('?');
    request.path = uri.substr(0, question);
    if (question != std::string::npos) request.query = uri.substr(question + 1);
    MHD_get_connection_values(connection, MHD_HEADER_KIND, CollectHeader, &request);
    request.peer = PeerOf(connection);
    uint64_t length = 0;
    if (const std::string* header = request.Header("Content-Length");
        header != nullptr && absl::SimpleAtoi(*header, &length) &&
        length > server->max_body_bytes_) {
      return Queue(connection, server->Refusal(413, TooLarge(server->max_body_bytes_)));
    }
    *con_cls = new std::shared_ptr<HttpExchange>(std::move(exchange));
    return MHD_YES;
  }

  // The body is in: the handler gets the request and the connection waits for the answer.
  static MHD_Result Dispatch(HttpServer* server, const std::shared_ptr<HttpExchange>& exchange) {
    exchange->dispatched = true;
    std::shared_ptr<HttpServer::Shared> shared = server->shared_;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      ++shared->pending;
    }
    server->handler_(std::move(exchange->request), [shared, exchange](HttpResponse response) {
      std::lock_guard<std::mutex> lock(shared->mu);
      if (exchange->answered) return;  // Answered twice: the first answer holds.
      exchange->answered = true;
      --shared->pending;
      shared->changed.notify_all();
      if (shared->stopped || exchange->finished) return;
      exchange->response = std::move(response);
      if (exchange->suspended) {
        exchange->suspended = false;
        MHD_resume_connection(exchange->connection);
      }
    });
    std::unique_lock<std::mutex> lock(shared->mu);
    if (exchange->response.has_value()) {
      HttpResponse answer = *std::move(exchange->response);
      lock.unlock();  // Rendering may take a while; responders must not wait for it.
      return Queue(exchange->connection, std::move(answer));
    }
    exchange->suspended = true;
    shared->waiting.insert(exchange.get());
    MHD_suspend_connection(exchange->connection);
    return MHD_YES;
  }

  // Called again once resumed: with the answer, or without one when the server is stopping.
  static MHD_Result Answer(HttpServer* server, HttpExchange& exchange) {
    HttpServer::Shared& shared = *server->shared_;
    std::optional<HttpResponse> answer;
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      answer.swap(exchange.response);
    }
    if (answer.has_value()) return Queue(exchange.connection, *std::move(answer));
    return Queue(exchange.connection, server->Refusal(503, "skiffd is shutting down"));
  }
};

namespace {

struct BindAddress {
  sockaddr_storage storage{};
  bool v6 = false;
};

absl::StatusOr<BindAddress> ResolveBindAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("http-address: \"", address, "\" is not HOST:PORT"));
  }
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (error != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("http-address: cannot use \"", address,
                                                   "\": ", gai_strerror(error)));
  }
  BindAddress out;
  std::memcpy(&out.storage, found->ai_addr, found->ai_addrlen);
  out.v6 = found->ai_family == AF_INET6;
  freeaddrinfo(found);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler handler) {
  if (options.tls_certificate.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError("http: a TLS certificate needs its key, and a key its "
                                      "certificate");
  }
  absl::StatusOr<BindAddress> bind =
      options.listen_fd >= 0 ? BindAddress{} : ResolveBindAddress(options.address);
  if (!bind.ok()) {
    if (options.listen_fd >= 0) close(options.listen_fd);
    return bind.status();
  }
  MHD_OptionItem where[] = {
      options.listen_fd >= 0
          ? MHD_OptionItem{MHD_OPTION_LISTEN_SOCKET, options.listen_fd, nullptr}
          : MHD_OptionItem{MHD_OPTION_SOCK_ADDR, 0, &bind->storage},
      {MHD_OPTION_END, 0, nullptr}};
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handler_ = std::move(handler);
  server->max_body_bytes_ = options.max_body_bytes;
  server->refusal_ = options.refusal;
  server->shared_ = std::make_shared<Shared>();
  const bool tls = !options.tls_certificate.empty();
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ERROR_LOG;
  if (bind->v6) flags |= MHD_USE_IPv6;
  if (tls) flags |= MHD_USE_TLS;
  const auto timeout = static_cast<unsigned>(absl::ToInt64Seconds(options.idle_timeout));
  // The TLS options are read only when MHD_USE_TLS is set; null pointers end the list otherwise.
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Callbacks::OnRequest, server.get(),
      MHD_OPTION_ARRAY, where,
      MHD_OPTION_CONNECTION_LIMIT, options.max_connections,
      MHD_OPTION_THREAD_POOL_SIZE, options.threads,
      MHD_OPTION_CONNECTION_TIMEOUT, timeout,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.max_header_bytes,
      MHD_OPTION_NOTIFY_COMPLETED, &Callbacks::OnCompleted, server.get(),
      MHD_OPTION_NOTIFY_CONNECTION, &Callbacks::OnConnection, nullptr,
      MHD_OPTION_URI_LOG_CALLBACK, &Callbacks::OnUri, nullptr,
      MHD_OPTION_EXTERNAL_LOGGER, &LogFromLibrary, nullptr,
      tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, options.tls_certificate.c_str(),
      MHD_OPTION_HTTPS_MEM_KEY, options.tls_key.c_str(), MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    if (options.listen_fd >= 0) close(options.listen_fd);
    return absl::UnavailableError(absl::StrCat(
        "http: cannot serve on ", options.address,
        " (address in use, not on this host, or a TLS certificate or key that does not load)"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info == nullptr ? 0 : info->port;
  return server;
}

HttpServer::~HttpServer() { Shutdown(absl::ZeroDuration()); }

HttpResponse HttpServer::Refusal(int status, std::string message) const {
  if (refusal_) return refusal_(status, std::move(message));
  return {.status = status, .headers = {{"Content-Type", "text/plain"}}, .body = message + "\n"};
}

void HttpServer::Shutdown(absl::Duration grace) {
  if (daemon_ == nullptr) return;
  const MHD_socket listener = MHD_quiesce_daemon(daemon_);
  if (listener != MHD_INVALID_SOCKET) close(listener);
  {
    std::unique_lock<std::mutex> lock(shared_->mu);
    shared_->changed.wait_for(lock, absl::ToChronoNanoseconds(grace),
                              [this] { return shared_->pending == 0; });
    shared_->stopped = true;
    // What is still unanswered gets its 503 from the library's thread, which must see every
    // suspended connection resumed before it may stop.
    for (HttpExchange* exchange : shared_->waiting) {
      if (!exchange->suspended) continue;
      exchange->suspended = false;
      MHD_resume_connection(exchange->connection);
    }
    shared_->changed.wait_for(lock, std::chrono::seconds(5),
                              [this] { return shared_->waiting.empty(); });
  }
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

}  // namespace skiff::api

// api_bench: DescribeServices over skiffd's two API transports, the AWS JSON 1.1 protocol over
// HTTP (keep-alive, SigV4) and gRPC on the Unix socket, against the same ApiServer in the same
// run. In one process, no containerd: the scheduler (fakes::SchedulerStack) on the fake runtime,
// a store in a temp dir, a real ThreadEventLoop and executor, and ApiServer with gRPC on a socket
// in the temp dir and HTTP on 127.0.0.1:0.
//
// Setup (untimed), through the gRPC API: a cluster, a task definition and N services (10) of M
// tasks (2), run until every service has M tasks running and its deployment COMPLETED. Every
// call then describes all N services, as a dashboard does, and is checked: gRPC OK (HTTP 200),
// no failures, and every service named in the answer.
//
// Timed, each phase bounded by --seconds and --max-requests, in rounds (--rounds) that alternate
// which transport goes first:
//  - closed loop: C client threads (1 and 8) each call, wait for the answer and call again, on a
//    connection of their own (a gRPC channel with its own subchannel, or a libcurl easy handle);
//  - open loop: --rate calls/s for --seconds from --senders paced threads per transport; a
//    call's latency runs from the time it was due, so a sender that falls behind shows.
// Printed: the machine header, then per transport and mode the medians over the rounds of the
// rate, p50, p99 and max, the failures summed, and the HTTP/gRPC ratio of the rates; then a
// single-thread breakdown of what the HTTP path does and gRPC does not (SigV4, JSON).
//
// Run: build/bin/api_bench [--services N] [--tasks-per-service M] [--rounds R] [--seconds S]
//                          [--max-requests K] [--rate Q] [--senders T] [--dir PARENT]
// See docs/benchmarks.md. Ctrl-C ends the current phase and cleans up.
#include <curl/curl.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "machine.h"
#include "fakes/fake_runtime.h"
#include "fakes/scheduler_stack.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "skiff/api/server.h"
#include "skiff/api/watch_hub.h"
#include "skiff/aws/sigv4.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/executor.h"
#include "skiff/scheduler/image_puller.h"
#include "skiff/v1/skiff.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace skiff::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kImage[] = "skiff.local/busybox:test";
constexpr char kCluster[] = "bench";
constexpr char kTarget[] = "AmazonEC2ContainerServiceV20141113.DescribeServices";
const aws::Credential kKey{"AKIASKIFFAPIBENCH001", "YXBpLWJlbmNoLXNlY3JldC1rZXktbm90LXJlYWwwMA"};
constexpr int kWarmUpCalls = 50;  // Per client, before a phase: connections up, caches warm.

volatile sig_atomic_t interrupted = 0;
void OnSignal(int) { interrupted = 1; }

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Options {
  int services = 10;
  int tasks_per_service = 2;
  int rounds = 3;
  int seconds = 5;
  int max_requests = 50000;
  int rate = 200;
  int senders = 2;
  std::vector<int> concurrency = {1, 8};
  std::string dir = "/tmp";
};

int Usage(std::ostream& out, int code) {
  out << "usage: api_bench [--services N] [--tasks-per-service M] [--rounds R] [--seconds S]\n"
         "                 [--max-requests K] [--rate Q] [--senders T] [--dir D]\n"
         "  --services N           services described by every call (default 10)\n"
         "  --tasks-per-service M  desired count of each (default 2)\n"
         "  --rounds R             times each measurement is taken; medians printed (default 3)\n"
         "  --seconds S            length of a phase (default 5)\n"
         "  --max-requests K       cap on a closed-loop phase's calls (default 50000)\n"
         "  --rate Q               open loop: calls per second (default 200)\n"
         "  --senders T            open loop: paced threads per transport (default 2)\n"
         "  --dir D                where the temp dir (store, socket) goes (default /tmp)\n";
  return code;
}

double Quantile(std::vector<double> v, double q) {  // Nearest rank; 0 for none.
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}
double Median(std::vector<double> v) { return Quantile(std::move(v), 0.5); }

std::vector<std::string> ServiceNames(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(absl::StrFormat("svc-%02d", i));
  return names;
}

// One connection to the server, used by one thread. Call() makes the DescribeServices call and
// says whether the answer was right.
class Client {
 public:
  virtual ~Client() = default;
  virtual bool Call() = 0;
};

class GrpcClient final : public Client {
 public:
  GrpcClient(const std::string& socket, const std::vector<std::string>& names) : names_(names) {
    grpc::ChannelArguments args;
    // A connection of its own, as each HTTP client has: channels with equal arguments would
    // otherwise share one subchannel, and so one HTTP/2 connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stub_ = v1::Ecs::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("unix:", socket), grpc::InsecureChannelCredentials(), args));
    request_.set_cluster(kCluster);
    for (const std::string& name : names) request_.add_services(name);
  }

  bool Call() override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::DescribeServicesResponse response;
    if (!stub_->DescribeServices(&context, request_, &response).ok()) return false;
    if (response.failures_size() != 0 || response.services_size() != std::ssize(names_)) {
      return false;
    }
    for (const std::string& name : names_) {
      if (std::none_of(response.services().begin(), response.services().end(),
                       [&name](const v1::Service& s) { return s.service_name() == name; })) {
        return false;
      }
    }
    return true;
  }

 private:
  const std::vector<std::string>& names_;
  std::unique_ptr<v1::Ecs::Stub> stub_;
  v1::DescribeServicesRequest request_;
};

class HttpClient final : public Client {
 public:
  HttpClient(uint16_t port, const std::vector<std::string>& names)
      : host_(absl::StrCat("127.0.0.1:", port)), curl_(curl_easy_init()) {
    std::string list;
    for (const std::string& name : names) {
      absl::StrAppend(&list, list.empty() ? "" : ",", "\"", name, "\"");
      expected_.push_back(absl::StrCat("\"serviceName\":\"", name, "\""));
    }
    body_ = absl::StrCat("{\"cluster\":\"", kCluster, "\",\"services\":[", list, "]}");
    url_ = absl::StrCat("http://", host_, "/");
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body_.c_str());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body_.size()));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpClient::Append);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer_);
  }
  ~HttpClient() override { curl_easy_cleanup(curl_); }

  bool Call() override {
    // Signed afresh, as an SDK signs each request: the signature's time is part of it.
    aws::SignedRequest request{
        .method = "POST",
        .path = "/",
        .headers = {{"Host", host_},
                    {"Content-Type", "application/x-amz-json-1.1"},
                    {"X-Amz-Target", kTarget}},
        .body = body_};
    aws::SignV4(request, kKey, "us-west-2", "ecs", absl::Now());
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    for (const auto& [name, value] : request.headers) {
      headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    answer_.clear();
    const CURLcode code = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK || status != 200) return false;
    if (answer_.find("\"failures\":[]") == std::string::npos) return false;
    for (const std::string& each : expected_) {
      if (answer_.find(each) == std::string::npos) return false;
    }
    return true;
  }

 private:
  static size_t Append(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  }

  std::string host_;
  std::string url_;
  std::string body_;
  std::vector<std::string> expected_;
  std::string answer_;
  CURL* curl_;
};

using ClientFactory = std::function<std::unique_ptr<Client>()>;

struct PhaseResult {
  double rate = 0;  // Correct answers per second.
  double p50 = 0, p99 = 0, max = 0;
  double lag_max = 0;  // Open loop: how late the latest call left its sender, ms.
  int64_t calls = 0;
  int64_t failures = 0;
};

PhaseResult Summarize(std::vector<std::vector<double>>& per_thread, int64_t failures,
                      double seconds) {
  std::vector<double> all;
  for (auto& each : per_thread) all.insert(all.end(), each.begin(), each.end());
  PhaseResult result;
  result.calls = std::ssize(all);
  result.failures = failures;
  result.rate = seconds > 0 ? static_cast<double>(result.calls - failures) / seconds : 0;
  result.p50 = Quantile(all, 0.5);
  result.p99 = Quantile(all, 0.99);
  result.max = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
  return result;
}

// Warms up one client per thread, then runs them all from one start for up to `seconds` or
// `max_requests` calls in all.
PhaseResult ClosedLoop(const ClientFactory& make, int threads, const Options& options) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int t = 0; t < threads; ++t) clients.push_back(make());
  std::atomic<int64_t> failures = 0, started = 0;
  for (auto& client : clients) {
    for (int i = 0; i < kWarmUpCalls; ++i) failures += !client->Call();
  }
  if (failures > 0) std::cerr << "api_bench: " << failures << " warm-up calls failed\n";
  failures = 0;
  std::vector<std::vector<double>> latencies(threads);
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point deadline = start + std::chrono::seconds(options.seconds);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::vector<double>& mine = latencies[t];
      mine.reserve(options.max_requests / threads + 1);
      while (!interrupted && started.fetch_add(1) < options.max_requests) {
        const SteadyClock::time_point t0 = SteadyClock::now();
        if (t0 >= deadline) break;
        failures += !clients[t]->Call();
        mine.push_back(Ms(SteadyClock::now() - t0));
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return Summarize(latencies, failures, Ms(SteadyClock::now() - start) / 1000);
}

// `options.rate` calls per second for `options.seconds`, call i due at start + i / rate, sent by
// sender i % senders. Latency is from the time a call was due.
PhaseResult OpenLoop(const ClientFactory& make, const Options& options) {
  const int senders = options.senders;
  std::vector<std::unique_ptr<Client>> clients;
  for (int t = 0; t < senders; ++t) clients.push_back(make());
  std::atomic<int64_t> failures = 0;
  for (auto& client : clients) {
    for (int i = 0; i < kWarmUpCalls; ++i) failures += !client->Call();
  }
  if (failures > 0) std::cerr << "api_bench: " << failures << " warm-up calls failed\n";
  failures = 0;
  const int64_t total = static_cast<int64_t>(options.rate) * options.seconds;
  const auto interval = std::chrono::nanoseconds(1'000'000'000LL / options.rate);
  std::vector<std::vector<double>> latencies(senders);
  std::vector<double> lag_max(senders, 0);
  const SteadyClock::time_point start = SteadyClock::now() + std::chrono::milliseconds(10);
  // A sender that falls far behind gives up: the phase ends within its length plus 5 s.
  const SteadyClock::time_point give_up = start + std::chrono::seconds(options.seconds + 5);
  std::vector<std::thread> workers;
  for (int t = 0; t < senders; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t i = t; i < total && !interrupted; i += senders) {
        const SteadyClock::time_point due = start + i * interval;
        std::this_thread::sleep_until(due);
        const SteadyClock::time_point sent = SteadyClock::now();
        if (sent >= give_up) break;
        lag_max[t] = std::max(lag_max[t], Ms(sent - due));
        failures += !clients[t]->Call();
        latencies[t].push_back(Ms(SteadyClock::now() - due));
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  PhaseResult result = Summarize(latencies, failures, Ms(SteadyClock::now() - start) / 1000);
  result.lag_max = *std::max_element(lag_max.begin(), lag_max.end());
  return result;
}

class Bench {
 public:
  explicit Bench(Options options)
      : options_(std::move(options)), scratch_(options_.dir, "skiff-api-bench"), names_(ServiceNames(options_.services)) {}
  ~Bench() { Shutdown(); }

  int Run();

 private:
  bool Start();
  bool Populate();
  void Shutdown();
  void Breakdown(const v1::DescribeServicesResponse& response);

  Options options_;
  bench::ScratchDir scratch_;
  const std::vector<std::string> names_;
  RealClock clock_;
  SystemRandom random_;
  scheduler::ThreadEventLoop loop_{&clock_};
  scheduler::ThreadPoolExecutor executor_{2};
  fakes::FakeRuntime runtime_;
  scheduler::ImagePuller puller_{&runtime_, {}};
  api::WatchHub watch_hub_;
  std::unique_ptr<fakes::SchedulerStack> stack_;
  std::unique_ptr<api::ApiServer> server_;
  bool loop_running_ = false;
  std::string socket_;
};

bool Bench::Start() {
  if (scratch_.path().empty()) {
    std::cerr << "api_bench: cannot make a temp dir under " << options_.dir << "\n";
    return false;
  }
  runtime_.AddImage(kImage);
  absl::StatusOr<std::unique_ptr<fakes::SchedulerStack>> stack = fakes::SchedulerStack::Open(
      {.loop = &loop_,
       .executor = &executor_,
       .runtime = &runtime_,
       .clock = &clock_,
       .random = &random_},
      {.state_dir = scratch_.path() + "/state"});
  if (!stack.ok()) {
    std::cerr << "api_bench: " << stack.status() << "\n";
    return false;
  }
  stack_ = *std::move(stack);
  socket_ = scratch_.path() + "/skiff.sock";
  absl::StatusOr<std::unique_ptr<api::ApiServer>> server = api::ApiServer::Start(
      {.socket_path = socket_, .http_address = "127.0.0.1:0", .aws_keys = {kKey}},
      {.loop = &loop_,
       .task_definitions = &stack_->registry(),
       .task_manager = &stack_->tasks(),
       .services = &stack_->services(),
       .clusters = &stack_->clusters(),
       .runtime = &runtime_,
       .image_puller = &puller_,
       .watch_hub = &watch_hub_,
       .scope = {},
       .upload_dir = scratch_.path() + "/uploads",
       .random = &random_,
       .log_rotation = {},
       .clock = &clock_});
  if (!server.ok()) {
    std::cerr << "api_bench: " << server.status() << "\n";
    return false;
  }
  server_ = *std::move(server);
  loop_.Start();
  loop_running_ = true;
  return true;
}

// The cluster, the task definition and the services, through the API; then waits (up to 30 s)
// until every service runs its tasks and its deployment is COMPLETED.
bool Bench::Populate() {
  auto channel = grpc::CreateChannel(absl::StrCat("unix:", socket_),
                                     grpc::InsecureChannelCredentials());
  std::unique_ptr<v1::Ecs::Stub> ecs = v1::Ecs::NewStub(channel);
  auto call = [](auto method, const auto& request, auto* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status status = method(&context, request, response);
    if (!status.ok()) std::cerr << "api_bench: setup: " << status.error_message() << "\n";
    return status.ok();
  };
  using namespace std::placeholders;
  v1::CreateClusterRequest cluster;
  cluster.set_cluster_name(kCluster);
  v1::CreateClusterResponse cluster_response;
  if (!call(std::bind(&v1::Ecs::Stub::CreateCluster, ecs.get(), _1, _2, _3), cluster,
            &cluster_response)) {
    return false;
  }
  v1::RegisterTaskDefinitionRequest definition;
  if (absl::Status decoded = model::DecodeMessageText(
          R"({"family": "bench", "networkMode": "host", "containerDefinitions": [
              {"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
               "command": ["sleep", "3600"]}]})",
          &definition);
      !decoded.ok()) {
    std::cerr << "api_bench: " << decoded << "\n";
    return false;
  }
  v1::RegisterTaskDefinitionResponse definition_response;
  if (!call(std::bind(&v1::Ecs::Stub::RegisterTaskDefinition, ecs.get(), _1, _2, _3), definition,
            &definition_response)) {
    return false;
  }
  for (const std::string& name : names_) {
    v1::CreateServiceRequest request;
    request.set_cluster(kCluster);
    request.set_service_name(name);
    request.set_task_definition("bench");
    request.set_desired_count(options_.tasks_per_service);
    v1::CreateServiceResponse response;
    if (!call(std::bind(&v1::Ecs::Stub::CreateService, ecs.get(), _1, _2, _3), request,
              &response)) {
      return false;
    }
  }
  v1::DescribeServicesRequest describe;
  describe.set_cluster(kCluster);
  for (const std::string& name : names_) describe.add_services(name);
  const SteadyClock::time_point give_up = SteadyClock::now() + std::chrono::seconds(30);
  while (!interrupted && SteadyClock::now() < give_up) {
    v1::DescribeServicesResponse response;
    if (!call(std::bind(&v1::Ecs::Stub::DescribeServices, ecs.get(), _1, _2, _3), describe,
              &response)) {
      return false;
    }
    const bool steady =
        response.services_size() == options_.services &&
        std::all_of(response.services().begin(), response.services().end(),
                    [this](const v1::Service& s) {
                      return s.running_count() == options_.tasks_per_service &&
                             s.deployments_size() == 1 &&
                             s.deployments(0).rollout_state() == "COMPLETED";
                    });
    if (steady) {
      std::cout << absl::StrFormat(
          "setup: %d services x %d tasks RUNNING, deployments COMPLETED; one answer is %d B of "
          "protobuf, %d B of JSON\n",
          options_.services, options_.tasks_per_service, response.ByteSizeLong(),
          model::EncodeMessage(response).dump().size());
      Breakdown(response);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "api_bench: the services did not settle within 30 s\n";
  return false;
}

// What the HTTP path does that gRPC does not, one thread, in-process: per call, in µs.
void Bench::Breakdown(const v1::DescribeServicesResponse& response) {
  constexpr int kIterations = 2000;
  v1::DescribeServicesRequest request_message;
  request_message.set_cluster(kCluster);
  for (const std::string& name : names_) request_message.add_services(name);
  const std::string json_body = model::EncodeMessage(request_message).dump();
  const std::string host = absl::StrCat("127.0.0.1:", server_->http_port());
  auto time_us = [](const std::function<void()>& f) {
    std::vector<double> samples;
    for (int i = 0; i < kIterations; ++i) {
      const SteadyClock::time_point t0 = SteadyClock::now();
      f();
      samples.push_back(Ms(SteadyClock::now() - t0) * 1000);
    }
    return Median(samples);
  };
  aws::SignedRequest signed_request;
  const double sign = time_us([&] {
    signed_request = {.method = "POST",
                      .path = "/",
                      .headers = {{"Host", host},
                                  {"Content-Type", "application/x-amz-json-1.1"},
                                  {"X-Amz-Target", kTarget}},
                      .body = json_body};
    aws::SignV4(signed_request, kKey, "us-west-2", "ecs", absl::Now());
  });
  bool verified = true;
  const std::vector<aws::Credential> keys = {kKey};
  const double verify = time_us([&] {
    verified &= aws::VerifySigV4(signed_request, keys, absl::Now(), {.services = {"ecs"}}).ok();
  });
  const double json_decode = time_us([&] {
    v1::DescribeServicesRequest decoded;
    absl::StatusOr<nlohmann::ordered_json> parsed = model::ParseJsonText(json_body);
    verified &= parsed.ok() && model::DecodeMessage(*parsed, &decoded).ok();
  });
  const std::string proto_request = request_message.SerializeAsString();
  const double proto_decode = time_us([&] {
    v1::DescribeServicesRequest decoded;
    verified &= decoded.ParseFromString(proto_request);
  });
  size_t sink = 0;
  // The answer's JSON as the HTTP thread writes it, and through the json tree (the CLI's way).
  const double json_encode = time_us([&] { sink += model::EncodeMessageText(response).size(); });
  const double json_tree = time_us([&] { sink += model::EncodeMessage(response).dump().size(); });
  verified &= model::EncodeMessageText(response) == model::EncodeMessage(response).dump();
  const double proto_encode = time_us([&] { sink += response.SerializeAsString().size(); });
  std::cout << absl::StrFormat(
      "per call, one thread, median of %d (us): SigV4 sign %.1f (client), verify %.1f (server);\n"
      "  request decode: JSON %.1f, protobuf %.1f; response encode: JSON %.1f (HTTP thread; "
      "through a json tree %.1f), protobuf %.1f (loop)%s\n",
      kIterations, sign, verify, json_decode, proto_decode, json_encode, json_tree, proto_encode,
      verified && sink > 0 ? "" : "  (A CHECK FAILED)");
}

void Bench::Shutdown() {
  if (server_ != nullptr) server_->Shutdown(absl::Seconds(1));
  server_.reset();
  executor_.Stop();
  if (loop_running_) loop_.Stop();
  loop_running_ = false;
  stack_.reset();
}

int Bench::Run() {
  if (!Start()) return 1;
  PrintMachineHeader(std::cout, {{"setup", "in process: fake runtime, store in " +
                                               scratch_.path()}});
  if (!Populate()) return 1;

  const uint16_t port = server_->http_port();
  const ClientFactory make_grpc = [this] {
    return std::make_unique<GrpcClient>(socket_, names_);
  };
  const ClientFactory make_http = [this, port] {
    return std::make_unique<HttpClient>(port, names_);
  };
  struct Mode {
    std::string name;
    int threads;  // 0: open loop.
  };
  std::vector<Mode> modes;
  for (int c : options_.concurrency) modes.push_back({absl::StrCat("closed, C=", c), c});
  modes.push_back({absl::StrCat("open, ", options_.rate, "/s x", options_.senders), 0});
  // results[mode][transport: 0 gRPC, 1 HTTP][round]
  std::vector<std::array<std::vector<PhaseResult>, 2>> results(modes.size());
  const char* const kTransports[] = {"gRPC", "HTTP"};
  for (int round = 0; round < options_.rounds && !interrupted; ++round) {
    for (size_t m = 0; m < modes.size() && !interrupted; ++m) {
      for (int k = 0; k < 2 && !interrupted; ++k) {
        const int transport = (round + k) % 2;  // Who goes first alternates by round.
        const ClientFactory& make = transport == 0 ? make_grpc : make_http;
        const PhaseResult r = modes[m].threads > 0 ? ClosedLoop(make, modes[m].threads, options_)
                                                   : OpenLoop(make, options_);
        std::cout << absl::StrFormat(
                         "  round %d %-18s %-4s %8.0f/s p50 %6.2f p99 %6.2f max %7.2f ms%s, %lld "
                         "calls, %lld failed, load %s\n",
                         round + 1, modes[m].name, kTransports[transport], r.rate, r.p50, r.p99,
                         r.max,
                         modes[m].threads > 0 ? ""
                                              : absl::StrFormat(" (sender late by <= %.2f ms)",
                                                                r.lag_max),
                         static_cast<long long>(r.calls),
                         static_cast<long long>(r.failures), LoadAverage())
                  << std::flush;
        results[m][transport].push_back(r);
      }
    }
  }
  if (interrupted) return 1;

  std::cout << absl::StrFormat("\nmedians of %d rounds (%d services per call; %d s per phase, "
                               "closed loop at most %d calls):\n",
                               options_.rounds, options_.services, options_.seconds,
                               options_.max_requests)
            << absl::StrFormat("%-10s %-18s %9s %8s %8s %8s %9s %10s\n", "transport", "mode",
                               "req/s", "p50 ms", "p99 ms", "max ms", "failures", "HTTP/gRPC");
  int64_t failures = 0;
  bool p99_goal = true;
  for (size_t m = 0; m < modes.size(); ++m) {
    double rates[2] = {0, 0};
    for (int t = 0; t < 2; ++t) {
      const std::vector<PhaseResult>& rs = results[m][t];
      auto median_of = [&rs](double PhaseResult::*field) {
        std::vector<double> v;
        for (const PhaseResult& r : rs) v.push_back(r.*field);
        return Median(v);
      };
      int64_t failed = 0;
      for (const PhaseResult& r : rs) failed += r.failures;
      failures += failed;
      rates[t] = median_of(&PhaseResult::rate);
      const double p99 = median_of(&PhaseResult::p99);
      if (modes[m].threads == 0 && p99 > 5) p99_goal = false;
      std::cout << absl::StrFormat(
          "%-10s %-18s %9.0f %8.2f %8.2f %8.2f %9lld %10s\n", kTransports[t], modes[m].name,
          rates[t], median_of(&PhaseResult::p50), p99, median_of(&PhaseResult::max),
          static_cast<long long>(failed),
          t == 1 && rates[0] > 0 ? absl::StrFormat("%.2f", rates[1] / rates[0]) : "");
    }
    if (modes[m].threads > 0) {
      std::cout << absl::StrFormat("  %s: HTTP at %.0f%% of gRPC's rate (goal >= 50%%: %s)\n",
                                   modes[m].name, 100 * rates[1] / rates[0],
                                   rates[1] >= 0.5 * rates[0] ? "met" : "NOT met");
    }
  }
  std::cout << absl::StrFormat("open loop at %d/s: p99 <= 5 ms on both transports: %s\n",
                               options_.rate, p99_goal ? "met" : "NOT met")
            << "load (1m) at the end: " << LoadAverage() << "\n";
  return failures == 0 ? 0 : 2;
}

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) {
  skiff::bench::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto number = [&](int& out) {
      return i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &out) && out >= 1 && (++i, true);
    };
    if (arg == "--help" || arg == "-h") return skiff::bench::Usage(std::cout, 0);
    if (arg == "--services" && number(options.services)) continue;
    if (arg == "--tasks-per-service" && number(options.tasks_per_service)) continue;
    if (arg == "--rounds" && number(options.rounds)) continue;
    if (arg == "--seconds" && number(options.seconds)) continue;
    if (arg == "--max-requests" && number(options.max_requests)) continue;
    if (arg == "--rate" && number(options.rate)) continue;
    if (arg == "--senders" && number(options.senders)) continue;
    if (arg == "--dir" && i + 1 < argc) {
      options.dir = argv[++i];
      continue;
    }
    std::cerr << "api_bench: bad argument " << arg << "\n";
    return skiff::bench::Usage(std::cerr, 2);
  }
  spdlog::set_level(spdlog::level::warn);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct sigaction action {};
  action.sa_handler = skiff::bench::OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  int code = 0;
  {
    skiff::bench::Bench bench(std::move(options));
    code = bench.Run();
  }
  curl_global_cleanup();
  return code;
}

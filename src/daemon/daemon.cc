#include "skiff/daemon/daemon.h"

#include <arpa/inet.h>
#include <signal.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "skiff/api/server.h"
#include "skiff/base/clock.h"
#include "skiff/aws/credentials.h"
#include "skiff/base/random.h"
#include "skiff/daemon/dns_records_publisher.h"
#include "skiff/daemon/service_connect_publisher.h"
#include "skiff/discovery/resolver_process.h"
#include "skiff/elb/haproxy_data_plane.h"
#include "skiff/elb/load_balancer_manager.h"
#include "skiff/metrics/metrics.h"
#include "skiff/network/cni_network.h"
#include "skiff/registry/auth.h"
#include "skiff/scaling/auto_scaling_manager.h"
#include "skiff/scaling/request_rate.h"
#include "skiff/scaling/scaling_controller.h"
#include "skiff/scaling/stats_reporter.h"
#include "skiff/scaling/stats_sampler.h"
#include "skiff/scaling/stats_store.h"
#include "daemon/task_metadata_state.h"
#include "skiff/containerd/containerd_runtime.h"
#include "skiff/api/watch_hub.h"
#include "skiff/scheduler/cluster_registry.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/executor.h"
#include "skiff/scheduler/health_monitor.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/scheduler/image_puller.h"
#include "skiff/scheduler/runtime_monitor.h"
#include "skiff/scheduler/task_definition_collector.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/secrets/node_secret_source.h"
#include "skiff/secrets/parameter_store.h"
#include "skiff/secrets/secrets_manager.h"
#include "skiff/store/store.h"
#include "spdlog/spdlog.h"

namespace skiff::daemon {
namespace {

// How long the first probe waits for a containerd whose socket exists (it may be starting).
constexpr absl::Duration kFirstContact = absl::Seconds(5);
constexpr absl::Duration kShutdownGrace = absl::Seconds(10);
constexpr int kRuntimeThreads = 4;
// Health checks run on threads of their own, so that a slow check never holds up a launch or a
// stop; two bound how many check processes run at once, whatever the number of containers.
constexpr int kHealthCheckThreads = 2;

// The node's resources as ECS registers a container instance's: 1024 CPU units per core and
// the memory the kernel reports, in MiB.
scheduler::Resources NodeCapacity() {
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  return {.cpu = 1024 * std::max(1L, cores),
          .memory = static_cast<int64_t>(pages) * page_size / (1024 * 1024)};
}

int WaitForSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  while (true) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0) continue;
    if (signal == SIGHUP) {
      spdlog::info("SIGHUP: nothing to reload yet; restart skiffd to apply new settings");
      continue;
    }
    return signal;
  }
}

// The AWS JSON API's part of the server options: the TLS files' text and the keys (the
// credentials file, created on first start).
absl::Status LoadHttpSettings(const Options& options, api::ServerOptions* server) {
  server->http_address = options.http_address;
  if (options.http_address.empty()) return absl::OkStatus();
  for (auto [path, text] : {std::pair{&options.http_tls_cert, &server->tls_certificate},
                            {&options.http_tls_key, &server->tls_key}}) {
    if (path->empty()) continue;
    std::ifstream in(*path);
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", *path));
    text->assign(std::istreambuf_iterator<char>(in), {});
  }
  aws::CryptoRandom random;  // A secret key, not an id: SystemRandom is guessable.
  absl::StatusOr<aws::CredentialsFile> credentials =
      aws::LoadOrCreateCredentials(options.aws_credentials, random);
  if (!credentials.ok()) return credentials.status();
  spdlog::info("{} the AWS API's credentials file {} (profile [skiff])",
               credentials->created ? "created" : "using", options.aws_credentials);
  server->aws_keys = std::move(credentials->keys);
  return absl::OkStatus();
}

// Load balancing (issue 18): ELBv2's objects on the loop, the HAProxy that serves them driven
// off it by the data plane's own thread.
struct LoadBalancing {
  std::unique_ptr<elb::HaproxyDataPlane> data_plane;
  std::unique_ptr<elb::LoadBalancerManager> manager;
};

std::string GatewayOf(const std::string& subnet);

std::unique_ptr<LoadBalancing> MakeLoadBalancing(const Options& options, store::Store* store,
                                                 scheduler::EventLoop* loop, const Clock* clock,
                                                 RandomSource* random) {
  auto lb = std::make_unique<LoadBalancing>();
  const std::string dir = options.state_dir + "/lb";  // HAProxy's config, pid file, sockets.
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  LoadBalancing* raw = lb.get();
  // Reports come from the data plane's thread; the manager reads them on the loop, which runs
  // only once `manager` is set.
  lb->data_plane = std::make_unique<elb::HaproxyDataPlane>(
      lb::DataPlaneSyncOptions{.paths = {.binary = options.haproxy_binary, .dir = dir}},
      [loop, raw](elb::DataPlaneView view) {
        loop->Post([raw, view = std::move(view)]() mutable {
          raw->manager->OnReport(std::move(view));
        });
      });
  char host[256] = {};
  const bool any = options.lb_address == "0.0.0.0";
  const std::string dns_name =
      !any ? options.lb_address : (gethostname(host, sizeof(host) - 1) == 0 ? host : "localhost");
  lb->manager = std::make_unique<elb::LoadBalancerManager>(
      elb::LoadBalancerManagerOptions{.listen_address = options.lb_address,
                                      .dns_name = dns_name,
                                      .scope = options.arn_scope,
                                      // Service Connect's aliases listen where skiff-dns does.
                                      .service_connect_address = GatewayOf(options.subnet)},
      store, loop, clock, random, lb->data_plane.get(), elb::ProbePort);
  return lb;
}

// The first address of `subnet` ("10.213.0.0/16" -> "10.213.0.1"): the bridge's, which CNI's
// bridge plugin gives the gateway (isGateway). The subnet was checked by ValidateCniConfig.
std::string GatewayOf(const std::string& subnet) {
  in_addr network{};
  if (inet_pton(AF_INET, subnet.substr(0, subnet.find('/')).c_str(), &network) != 1) return "";
  in_addr gateway{.s_addr = htonl(ntohl(network.s_addr) + 1)};
  char text[INET_ADDRSTRLEN] = {};
  return inet_ntop(AF_INET, &gateway, text, sizeof(text)) != nullptr ? text : "";
}

// Service discovery (issue 19): skiff-dns on the bridge's gateway, port 53, answers from the
// records the publisher writes. It is a process of its own that outlives skiffd.
struct Discovery {
  std::unique_ptr<discovery::ResolverSupervisor> resolver;
  std::unique_ptr<DnsRecordsPublisher> publisher;
};

// Null when the resolver cannot start (no binary, the address taken): skiffd goes on without
// discovery and tasks keep the host's resolvers, as it goes on without a missing HAProxy.
std::unique_ptr<Discovery> StartDiscovery(const Options& options, scheduler::EventLoop* loop,
                                          scheduler::Executor* executor) {
  const std::string dir = options.state_dir + "/dns";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string gateway = GatewayOf(options.subnet);
  absl::StatusOr<std::unique_ptr<discovery::ResolverSupervisor>> resolver =
      discovery::ResolverSupervisor::Create({.binary = options.skiff_dns_binary,
                                             .dir = dir,
                                             .listen = {gateway + ":53"},
                                             .upstreams = options.dns_upstreams});
  if (!resolver.ok()) {
    spdlog::error("service discovery is off: cannot start {} on {}:53: {}",
                  options.skiff_dns_binary, gateway, resolver.status().ToString());
    return nullptr;
  }
  spdlog::info("service discovery: {} answers *.{} on {}:53", options.skiff_dns_binary,
               options.dns_zone, gateway);
  auto out = std::make_unique<Discovery>();
  out->resolver = *std::move(resolver);
  out->publisher = std::make_unique<DnsRecordsPublisher>(
      loop, executor,
      DnsRecordsPublisherOptions{.zone = options.dns_zone, .path = discovery::RecordsPath(dir)});
  return out;
}

// Container stats (issue 20): the loop-owned samples, the sampler that takes them on the
// executor every --stats-interval, and the reports the API and /metrics read.
struct Stats {
  scaling::StatsStore store;
  std::unique_ptr<scaling::StatsSampler> sampler;
  std::unique_ptr<scaling::StatsReporter> reporter;
};

std::unique_ptr<Stats> MakeStats(const Options& options, scheduler::EventLoop* loop,
                                 scheduler::Executor* executor, runtime::ContainerRuntime* runtime,
                                 const Clock* clock, const scheduler::TaskInventory* tasks) {
  auto stats = std::make_unique<Stats>();
  stats->sampler = std::make_unique<scaling::StatsSampler>(
      loop, executor, runtime, clock, &stats->store, options.stats_interval);
  stats->reporter = std::make_unique<scaling::StatsReporter>(
      tasks, &stats->store, options.arn_scope, options.stats_interval);
  return stats;
}

// Application Auto Scaling's API: its objects in the store, ECS services through the service
// manager, target groups' load balancers from ELBv2 (ALBRequestCountPerTarget's label).
std::unique_ptr<scaling::AutoScalingManager> MakeAutoScaling(
    const Options& options, store::Store* store, scheduler::ServiceManager* services,
    const elb::LoadBalancerManager* load_balancers, const Clock* clock, RandomSource* random) {
  auto lbs_of = [load_balancers](const std::string& group_arn) {
    std::vector<std::string> out;
    for (const std::string& arn : load_balancers->state().LoadBalancersOf(group_arn)) {
      const size_t at = arn.find(":loadbalancer/");
      if (at != std::string::npos) out.push_back(arn.substr(at + 14));
    }
    return out;
  };
  return std::make_unique<scaling::AutoScalingManager>(
      scaling::AutoScalingManagerOptions{.scope = options.arn_scope, .load_balancers_of = lbs_of},
      store, services, clock, random);
}

// What autoscaling samples of a service: its utilization from the stats, its requests per
// target from the load balancer's counters (so that scaling does not link elb).
class ServiceScalingMetrics final : public scaling::ScalingMetrics {
 public:
  ServiceScalingMetrics(const scaling::StatsReporter* stats,
                        const elb::LoadBalancerManager* load_balancers, const Clock* clock)
      : stats_(stats), load_balancers_(load_balancers), clock_(clock) {}

  scaling::ServiceUtilization UtilizationOf(const std::string& cluster,
                                            const std::string& service) override {
    return stats_->UtilizationOfService(cluster, service);
  }
  std::optional<double> RequestsPerTarget(const std::vector<std::string>& groups) override {
    int64_t total = 0;
    int healthy = 0;
    for (const std::string& arn : groups) {
      absl::StatusOr<elb::LoadBalancerManager::GroupTraffic> t = load_balancers_->TrafficOf(arn);
      if (!t.ok()) continue;
      total += t->total_requests;
      healthy += t->healthy_targets;
    }
    return rates_[absl::StrJoin(groups, ",")].Observe(clock_->Now(), total, healthy);
  }

 private:
  const scaling::StatsReporter* const stats_;
  const elb::LoadBalancerManager* const load_balancers_;
  const Clock* const clock_;
  std::map<std::string, scaling::RequestRate> rates_;  // By the groups, joined.
};

// Secrets Manager and SSM Parameter Store (ADR 0018): files in STATE_DIR/secrets, served by the
// API and read by task launches through the scheduler's SecretSource.
struct Secrets {
  std::unique_ptr<secrets::SecretsManager> manager;
  std::unique_ptr<secrets::ParameterStore> parameters;
  std::unique_ptr<secrets::NodeSecretSource> source;
};

absl::StatusOr<Secrets> MakeSecrets(const Options& options, const Clock* clock,
                                    RandomSource* random) {
  const std::string dir = options.state_dir + "/secrets";
  Secrets out;
  absl::StatusOr<std::unique_ptr<secrets::SecretsManager>> manager =
      secrets::SecretsManager::Create(
          {.dir = dir, .scope = options.arn_scope, .clock = clock, .random = random});
  if (!manager.ok()) return manager.status();
  absl::StatusOr<std::unique_ptr<secrets::ParameterStore>> parameters =
      secrets::ParameterStore::Create({.dir = dir, .scope = options.arn_scope, .clock = clock});
  if (!parameters.ok()) return parameters.status();
  out.manager = *std::move(manager);
  out.parameters = *std::move(parameters);
  out.source =
      std::make_unique<secrets::NodeSecretSource>(out.manager.get(), out.parameters.get());
  return out;
}

}  // namespace

int Run(const Options& options) {
  RealClock clock;
  // Made first: the store, the runtime, the services and the API record into it.
  metrics::Metrics metrics;
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::Store::Open(options.state_dir);
  if (!store.ok()) {
    spdlog::error("cannot open the store: {}", std::string(store.status().message()));
    return 1;
  }
  (*store)->SetWriteObserver([&metrics](absl::Duration d) { metrics.RecordStoreWrite(d); });
  spdlog::info("store {}/skiff.db open (schema version {})", options.state_dir,
               (*store)->schema_version());

  // The one source of ids (tasks, deployments, events, leases, uploads): unpredictable, and
  // shared by all threads.
  SystemRandom random;
  runtime::ContainerdRuntime runtime(
      {.address = options.containerd_address,
       .ns = options.ns,
       .work_dir = options.state_dir + "/runtime",
       .runc_root = options.runc_root,
       .registry = {.insecure_registries = options.insecure_registries},
       .random = &random,
       .rpc_observer = [&metrics](absl::string_view method, absl::string_view code,
                                  absl::Duration took) {
         metrics.RecordContainerdCall(method, code, took);
       }});
  registry::CredentialsFile credentials;
  if (!options.registry_credentials.empty()) {
    absl::StatusOr<registry::CredentialsFile> loaded =
        registry::CredentialsFile::Load(options.registry_credentials);
    if (!loaded.ok()) {
      spdlog::error("{}", std::string(loaded.status().message()));
      return 1;
    }
    credentials = *std::move(loaded);
  }
  scheduler::ImagePuller image_puller(
      &runtime, {.behavior = options.image_pull_behavior, .credentials = std::move(credentials)});
  // Before any container call: a skiffd killed while reading an image's users left its mount.
  absl::StatusOr<int> cleared = runtime.ClearWorkDir();
  if (!cleared.ok()) {
    spdlog::warn("{}/runtime: {}", options.state_dir, cleared.status().ToString());
  } else if (*cleared > 0) {
    spdlog::info("removed {} leftovers of an earlier skiffd from {}/runtime", *cleared,
                 options.state_dir);
  }
  // bridge and awsvpc: a bad subnet, missing plugins or another skiffd on the bridge stop skiffd
  // here, with the flag named.
  const network::CniConfig cni{.bridge = options.bridge,
                               .subnet = options.subnet,
                               .plugin_dir = options.cni_plugin_dir,
                               .state_dir = options.state_dir + "/network",
                               .netns_dir = options.state_dir + "/netns"};
  absl::StatusOr<std::unique_ptr<network::BridgeClaim>> bridge_claim = network::ClaimBridge(cni);
  absl::StatusOr<std::unique_ptr<network::TaskNetwork>> task_network =
      bridge_claim.ok() ? network::NewCniNetwork(cni) : bridge_claim.status();
  if (!task_network.ok()) {
    spdlog::error("networking: {}", std::string(task_network.status().message()));
    return 1;
  }
  // Before the tasks, whose containers' environment names it.
  absl::StatusOr<std::unique_ptr<api::TaskMetadataEndpoint>> metadata = BindTaskMetadataEndpoint(
      options.state_dir, options.metadata_port, GatewayOf(options.subnet), random);
  if (!metadata.ok()) {
    spdlog::error("{}", std::string(metadata.status().message()));
    return 1;
  }
  std::vector<int> reserved_ports = options.reserved_ports;
  reserved_ports.push_back((*metadata)->port());
  scheduler::ThreadEventLoop loop(&clock);
  // Runtime calls block; a few threads keep one slow call from holding up every task.
  scheduler::ThreadPoolExecutor executor(kRuntimeThreads);
  scheduler::ThreadPoolExecutor health_executor(kHealthCheckThreads);
  // The containerd probe has a thread of its own: it never waits behind a slow runtime call.
  scheduler::ThreadPoolExecutor probe_executor(1);

  // SPEC: ready means store open, containerd reachable, state reconciled with what runs, API
  // serving. containerd answering (the monitor) and the first resync of the tasks with it,
  // followed by a pass over every service, may come in either order, now or later on the loop;
  // when both have, systemd hears READY=1.
  bool reachable = false;
  bool reconciled = false;
  bool ready = false;
  std::string http_url;  // " and http://HOST:PORT" once the AWS API serves.
  auto maybe_ready = [&] {
    if (ready || !reachable || !reconciled) return;
    ready = true;
    spdlog::info("skiffd ready: API on unix:{}{}", options.socket, http_url);
    sd_notify(0, "READY=1\nSTATUS=serving");
  };
  // The one source of truth for "containerd is up": launches and agentConnected read it.
  scheduler::RuntimeMonitor runtime_monitor(
      &loop, &probe_executor, &runtime, options.containerd_address, [&] {
        reachable = true;
        maybe_ready();
        // A skiffd killed while creating a container left its snapshot under a creation lease;
        // dropping those leases lets containerd collect such snapshots now. Off the loop: it
        // waits for containerd's garbage collection.
        executor.Run([&runtime] {
          absl::StatusOr<int> dropped = runtime.DropLeasesOfEarlierRuns();
          if (!dropped.ok()) {
            spdlog::warn("leases of earlier runs: {}", dropped.status().ToString());
          } else if (*dropped > 0) {
            spdlog::info("dropped {} container-creation leases of earlier runs", *dropped);
          }
        });
      });
  scheduler::HealthMonitor health(&loop, &health_executor, &runtime, &clock);
  // Before the tasks and services, whose targets it keeps. The loop thread has not started, so
  // main may act for it.
  std::unique_ptr<LoadBalancing> load_balancing =
      MakeLoadBalancing(options, store->get(), &loop, &clock, &random);
  if (absl::Status started = load_balancing->manager->Start(); !started.ok()) {
    spdlog::error("cannot load the load balancers: {}", started.ToString());
    return 1;
  }
  std::unique_ptr<Discovery> discovery = StartDiscovery(options, &loop, &executor);
  DnsRecordsPublisher* dns = discovery != nullptr ? discovery->publisher.get() : nullptr;
  // Service Connect needs both: the aliases' names (skiff-dns) and their proxy (HAProxy).
  std::unique_ptr<ServiceConnectPublisher> service_connect;
  std::function<std::string(const std::string&)> dns_search;
  if (dns != nullptr) {
    service_connect = std::make_unique<ServiceConnectPublisher>(
        load_balancing->manager.get(), dns, GatewayOf(options.subnet));
    dns_search = [dns](const std::string& cluster) { return dns->SearchDomainOf(cluster); };
  }
  absl::StatusOr<Secrets> secrets = MakeSecrets(options, &clock, &random);
  if (!secrets.ok()) {
    spdlog::error("cannot load the secrets: {}", secrets.status().ToString());
    return 1;
  }
  scheduler::TaskDefinitionRegistry task_definitions(store->get(), &clock, options.arn_scope,
                                                     &loop);
  scheduler::ClusterDirectory cluster_directory(store->get(), &clock, options.arn_scope, &loop);
  const logs::RotationPolicy log_rotation{.max_bytes = options.log_max_bytes, .keep = 1};
  scheduler::TaskManager tasks(&loop, &executor, &runtime, store->get(), &task_definitions,
                               &cluster_directory, &clock, options.arn_scope,
                               {.state_dir = options.state_dir,
                                .retention = options.task_retention,
                                .log_rotation = log_rotation,
                                .capacity = NodeCapacity(),
                                .ports = {.dynamic_low = options.dynamic_port_low,
                                          .dynamic_high = options.dynamic_port_high,
                                          .reserved = std::move(reserved_ports)},
                                .image_puller = &image_puller,
                                .random = &random,
                                .runtime_health = &runtime_monitor,
                                .network = task_network->get(),
                                .targets = load_balancing->manager.get(),
                                .dns_search = std::move(dns_search),
                                .secrets = secrets->source.get(),
                                .environment_files_dir = options.environment_files_dir,
                                .metadata_uris = metadata->get()},
                               &health);
  scheduler::ServiceManager services(
      &loop, &tasks, &task_definitions, &cluster_directory, store->get(), &clock, &random,
      options.arn_scope,
      {.planner = {.progress_deadline = options.deployment_progress_deadline},
       .pass_observer = [&metrics](absl::Duration pass) { metrics.RecordPass(pass); },
       .targets = load_balancing->manager.get(),
       .endpoints = dns,
       .connect = service_connect.get()});
  scheduler::ClusterRegistry clusters(
      &cluster_directory, &tasks, &services, &task_definitions, &clock, options.arn_scope,
      {.agent_version = SKIFF_VERSION,
       .runtime_version =
           [&runtime_monitor] {
             // Empty until containerd has answered once, so no bare "containerd " shows.
             if (runtime_monitor.version().version.empty()) return std::string();
             return "containerd " + runtime_monitor.version().version;
           },
       .runtime_health = &runtime_monitor},
      &loop);
  // Deletes DELETE_IN_PROGRESS revisions once no task or service uses them; started below,
  // once the tasks and services are loaded.
  scheduler::TaskDefinitionCollector task_definition_collector(&loop, &task_definitions, &tasks,
                                                               &services);
  load_balancing->manager->SetGroupInUse([&services](const std::string& arn) {
    bool used = false;
    services.ForEachService([&](const v1::Service& service) {
      for (const v1::LoadBalancer& lb : service.load_balancers()) {
        used = used || (lb.target_group_arn() == arn && service.status() != "INACTIVE");
      }
    });
    return used;
  });
  std::unique_ptr<Stats> stats = MakeStats(options, &loop, &executor, &runtime, &clock, &tasks);
  if (absl::Status serving = (*metadata)->Serve({&loop, &tasks, &stats->store});
      !serving.ok()) {
    spdlog::error("{}", std::string(serving.message()));
    return 1;
  }
  // The listeners, all here. Services register theirs (task changes, resyncs) in Load.
  api::WatchHub watch_hub;
  tasks.AddListener([&watch_hub](const store::StoredTask& task) { watch_hub.Publish(task.task); });
  services.AddListener(
      [&watch_hub](const store::StoredService& service) { watch_hub.Publish(service.service); });
  // The loop thread has not started, so main may act for it. Clusters first (requests name
  // them), then tasks (services index them).
  std::unique_ptr<scaling::AutoScalingManager> auto_scaling = MakeAutoScaling(
      options, store->get(), &services, load_balancing->manager.get(), &clock, &random);
  for (auto [what, loaded] : {std::pair{"clusters", cluster_directory.Load()},
                              {"tasks", tasks.Load()}, {"services", services.Load()},
                              {"scalable targets", auto_scaling->Load()}}) {
    if (!loaded.ok()) {
      spdlog::error("cannot load {}: {}", what, loaded.ToString());
      return 1;
    }
  }
  task_definition_collector.Start();  // Main acts for the loop.
  // Autoscaling decides after every stats round; its scheduled actions run on a timer.
  ServiceScalingMetrics scaling_metrics(stats->reporter.get(), load_balancing->manager.get(),
                                        &clock);
  scaling::ScalingController scaling_controller({.stats_interval = options.stats_interval},
                                                &loop, auto_scaling.get(), &services,
                                                &scaling_metrics, &clock);
  stats->sampler->AddRoundListener([&scaling_controller] { scaling_controller.OnStatsRound(); });
  scaling_controller.Start();  // Main acts for the loop.
  // After the services' own resync listener: the first resync has then been reconciled, and
  // with discovery its records are on their way to the resolver; ready once they are there, so
  // that no answer from before the restart outlives "ready".
  tasks.AddResyncListener([&] {
    if (dns == nullptr) {
      reconciled = true;
      maybe_ready();
      return;
    }
    dns->WhenWritten([&] {
      reconciled = true;
      maybe_ready();
    });
  });
  // Subscribed before any container starts, so no exit is missed; the stream resubscribes by
  // itself and the task manager resyncs whenever it comes (back) up.
  runtime.StartEvents([&loop, &runtime_monitor, &tasks, &services](
                          const runtime::RuntimeEvent& event) {
    loop.Post([&runtime_monitor, &tasks, &services, event] {
      runtime_monitor.OnRuntimeEvent(event);  // First: the resync below may launch.
      tasks.OnRuntimeEvent(event);
      if (event.kind == runtime::RuntimeEvent::Kind::kStreamUp) services.MarkAllDirty();
    });
  });

  // The API serves from here on; calls queue on the loop until it starts below.
  api::ServerOptions server_options{.socket_path = options.socket,
                                    .socket_group = options.socket_group};
  if (absl::Status http = LoadHttpSettings(options, &server_options); !http.ok()) {
    spdlog::error("cannot serve the AWS API: {}", std::string(http.message()));
    return 1;
  }
  absl::StatusOr<std::unique_ptr<api::ApiServer>> server = api::ApiServer::Start(
      server_options,
      {.loop = &loop,
       .task_definitions = &task_definitions,
       .task_manager = &tasks,
       .services = &services,
       .clusters = &clusters,
       .runtime = &runtime,
       .image_puller = &image_puller,
       .watch_hub = &watch_hub,
       .scope = options.arn_scope,
       .upload_dir = options.state_dir + "/uploads",
       .random = &random,
       .log_rotation = log_rotation,
       .clock = &clock,
       .metrics = &metrics,
       .load_balancers = load_balancing->manager.get(),
       .stats = stats->reporter.get(),
       .auto_scaling = auto_scaling.get(),
       .secrets_manager = secrets->manager.get(),
       .parameters = secrets->parameters.get()});
  if (!server.ok()) {
    spdlog::error("cannot serve the API: {}", std::string(server.status().message()));
    return 1;
  }
  if ((*server)->http_port() != 0) {
    const std::string host = options.http_address.substr(0, options.http_address.rfind(':'));
    const std::string url =
        absl::StrCat(server_options.tls_certificate.empty() ? "http" : "https", "://", host, ":",
                     (*server)->http_port());
    spdlog::info("serving the AWS API on {} (keys in {})", url, options.aws_credentials);
    http_url = " and " + url;
  }

  // The loop thread has not started, so main may act for it. Wait for a containerd that is
  // starting (its socket exists), not for one that is absent.
  runtime_monitor.Start(std::filesystem::exists(options.containerd_address)
                            ? kFirstContact
                            : scheduler::RuntimeMonitor::kProbeTimeout);
  if (!reachable) {
    spdlog::info("serving the API on unix:{} without containerd; ready once it answers",
                 options.socket);
    sd_notify(0, "STATUS=waiting for containerd");
  }
  // With WatchdogSec= in the unit, the loop itself pets the watchdog: a stuck loop gets skiffd
  // restarted (its containers keep running and are adopted). The timer chain calls `pet` by
  // reference from the loop thread, so it lives in this scope, destroyed only after loop.Stop()
  // has joined that thread.
  std::function<void()> pet;
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    pet = [&loop, &pet, interval = absl::Microseconds(watchdog_usec) / 2] {
      sd_notify(0, "WATCHDOG=1");
      loop.PostAfter(interval, [&pet] { pet(); });
    };
    loop.Post([&pet] { pet(); });
    spdlog::info("systemd watchdog: every {} ms", watchdog_usec / 2000);
  }
  tasks.StartLogRotation();
  stats->sampler->Start();  // Main acts for the loop: its first round is queued now.
  loop.Start();

  const int signal = WaitForSignal();
  spdlog::info("{}: shutting down; containers keep running", strsignal(signal));
  sd_notify(0, "STOPPING=1");
  // Order matters: the server waits for in-flight calls, whose work runs on the loop; the loop
  // then finishes whatever was posted; the store closes last.
  (*server)->Shutdown(kShutdownGrace);
  (*metadata)->Shutdown(absl::Seconds(1));
  runtime.StopEvents();
  health_executor.Stop(/*finish_queued=*/false);  // Checks not started yet are moot now.
  probe_executor.Stop(/*finish_queued=*/false);
  executor.Stop();  // Finishes runtime calls in flight; their results still reach the loop.
  // HAProxy serves on while skiffd is down; only the thread that drives it stops.
  if (absl::Status s = load_balancing->data_plane->Shutdown(false); !s.ok()) {
    spdlog::warn("load balancing: {}", s.ToString());
  }
  // skiff-dns answers on while skiffd is down, from the records it has.
  if (discovery != nullptr) discovery->resolver->Shutdown(/*stop_resolver=*/false);
  loop.Stop();
  spdlog::info("skiffd stopped");
  return 0;
}

}  // namespace skiff::daemon

// skiff-dns: the node's DNS resolver (ADR 0014). Answers the discovery zone from the records
// file skiffd publishes and forwards other names upstream. Started and adopted by skiffd's
// ResolverSupervisor; SIGTERM or SIGINT stop it (exit 0).
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "skiff/base/logging.h"
#include "skiff/discovery/resolver.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  skiff::discovery::ResolverOptions options;
  std::string log_level = "info";
  CLI::App app{"skiff-dns: the node's resolver for the service discovery zone"};
  app.add_option("--listen", options.listen, "ADDR:PORT to answer on (UDP and TCP), repeatable")
      ->required();
  app.add_option("--records", options.records_path, "The records file skiffd publishes")
      ->required();
  app.add_option("--upstream", options.upstreams,
                 "ADDR[:PORT] for names outside the zone, repeatable, at most 3 "
                 "(default: the nameservers of /etc/resolv.conf)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  app.set_version_flag("--version", SKIFF_VERSION);
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<spdlog::level::level_enum> level = skiff::ParseLogLevel(log_level);
  if (!level.ok()) {
    std::fprintf(stderr, "skiff-dns: %s\n", std::string(level.status().message()).c_str());
    return 2;
  }
  skiff::InitLogging(*level);

  // Taken by the thread below with sigwait; blocked before any other thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<skiff::discovery::Resolver>> resolver =
      skiff::discovery::Resolver::Create(options);
  if (!resolver.ok()) {
    spdlog::error("skiff-dns: {}", std::string(resolver.status().message()));
    return 1;
  }
  skiff::discovery::Resolver* r = resolver->get();
  std::thread([set, r] {
    int signal_number = 0;
    sigwait(&set, &signal_number);
    spdlog::info("skiff-dns: signal {}, stopping", signal_number);
    r->Stop();
  }).detach();
  // ResolverSupervisor waits for this line when it cannot ask (resolver_process.cc).
  spdlog::info("skiff-dns: ready");
  const absl::Status status = (*resolver)->Run();
  if (!status.ok()) {
    spdlog::error("skiff-dns: {}", status.ToString());
    return 1;
  }
  return 0;
}

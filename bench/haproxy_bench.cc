// The HAProxy data plane's two numbers from issue 18, measured through Skiff's own adapters
// (HaproxyAdmin, HaproxyProcess) against a private HAProxy on loopback:
//   1. `add server` + `enable health` + `enable server` over the admin socket: the latency of
//      registering one target, over 100 targets (median, p90, max);
//   2. requests failed while HAProxy reloads 10 times (SIGUSR2, `expose-fd listeners`) under a
//      closed-loop load of one connection per request, and how long each reload took until the
//      new worker answered.
// Usage: haproxy_bench [--haproxy /usr/sbin/haproxy]. Prints a table; not a test.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "skiff/lb/haproxy_admin.h"
#include "skiff/lb/haproxy_process.h"
#include "support/host_state.h"
#include "support/http_backend.h"

namespace {

using skiff::lb::HaproxyAdmin;
using skiff::lb::HaproxyPaths;
using skiff::lb::HaproxyProcess;
using skiff::lb::ServerAdminState;
using skiff::lb::ServerSpec;

constexpr int kTargets = 100;
constexpr int kReloads = 10;

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// The value at quantile q of sorted `v`.
double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

std::string Config(const HaproxyPaths& paths, int port, const std::vector<int>& backends,
                   int second_port) {
  std::string config = absl::StrCat(
      "global\n  master-worker\n  stats socket ", paths.admin_socket(),
      " mode 600 level admin expose-fd listeners\n  pidfile ", paths.pid_file(),
      "\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n"
      "  timeout server 10s\nfrontend web\n  bind 127.0.0.1:", port,
      "\n  default_backend app\nbackend app\n  balance roundrobin\n  option httpchk GET /health\n");
  for (size_t i = 0; i < backends.size(); ++i) {
    absl::StrAppend(&config, "  server b", i, " 127.0.0.1:", backends[i],
                    " check inter 1s rise 1 fall 2\n");
  }
  if (second_port != 0) {
    absl::StrAppend(&config, "frontend second\n  bind 127.0.0.1:", second_port,
                    "\n  default_backend app\n");
  }
  return config;
}

int Fail(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "haproxy_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

int Run(const std::string& binary) {
  char dir[] = "/tmp/skiff-lb-bench.XXXXXX";
  if (mkdtemp(dir) == nullptr) return Fail("mkdtemp", absl::ErrnoToStatus(errno, "mkdtemp"));
  HaproxyPaths paths;
  paths.binary = binary;
  paths.dir = dir;
  HaproxyProcess process(paths);
  HaproxyAdmin admin(paths.admin_socket());
  struct Cleanup {
    HaproxyProcess& process;
    std::string dir;
    ~Cleanup() {
      process.Stop().IgnoreError();
      skiff::testing::RemoveTree(dir).IgnoreError();
    }
  } cleanup{process, dir};

  auto b0 = skiff::testing::HttpBackend::Start("b0");
  auto b1 = skiff::testing::HttpBackend::Start("b1");
  absl::StatusOr<int> port = skiff::testing::PickFreeLoopbackPort();
  absl::StatusOr<int> second_port = skiff::testing::PickFreeLoopbackPort();
  if (!b0.ok() || !b1.ok() || !port.ok() || !second_port.ok()) {
    return Fail("backends and ports", absl::InternalError("could not start"));
  }
  const std::vector<int> backends = {(*b0)->port(), (*b1)->port()};
  const std::string configs[2] = {Config(paths, *port, backends, 0),
                                  Config(paths, *port, backends, *second_port)};
  if (absl::Status s = process.Apply(configs[0]); !s.ok()) return Fail("start", s);

  // 1. Registering targets: add at weight 0 with checks, enable health and server.
  std::vector<double> add_enable;
  for (int i = 0; i < kTargets; ++i) {
    ServerSpec spec;
    spec.backend = "app";
    spec.name = absl::StrCat("t", i);
    spec.address = "127.0.0.1";
    spec.port = (*b0)->port();
    spec.weight = 0;
    spec.interval = absl::Seconds(1);
    spec.rise = 1;
    const absl::Time start = absl::Now();
    absl::Status s = admin.AddServer(spec);
    if (s.ok()) s = admin.EnableServer("app", spec.name);
    if (!s.ok()) return Fail("add+enable", s);
    add_enable.push_back(Ms(absl::Now() - start));
  }
  std::vector<double> remove;
  for (int i = 0; i < kTargets; ++i) {
    const std::string name = absl::StrCat("t", i);
    const absl::Time start = absl::Now();
    absl::Status s = admin.SetState("app", name, ServerAdminState::kMaint);
    if (s.ok()) s = admin.DeleteServer("app", name);
    if (!s.ok()) return Fail("maint+del", s);
    remove.push_back(Ms(absl::Now() - start));
  }

  // 2. Reloads under load: one client, one connection per request, until the reloads are done
  // (bounded: 60 s and 100,000 requests).
  std::atomic<bool> stop{false};
  std::atomic<int> requests{0};
  std::atomic<int> failed{0};
  std::thread client([&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!stop && requests < 100000 && absl::Now() < deadline) {
      absl::StatusOr<skiff::testing::HttpResponse> r = skiff::testing::HttpGet(*port, "/");
      if (!r.ok() || r->status != 200) ++failed;
      ++requests;
    }
  });
  std::vector<double> reload;
  absl::Status reload_status;
  for (int i = 0; i < kReloads && reload_status.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(200));  // Load between reloads.
    const absl::Time start = absl::Now();
    reload_status = process.Apply(configs[(i + 1) % 2]);
    reload.push_back(Ms(absl::Now() - start));
  }
  absl::SleepFor(absl::Milliseconds(200));
  stop = true;
  client.join();
  if (!reload_status.ok()) return Fail("reload", reload_status);

  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  std::printf("HAProxy data plane (%s, %u CPUs, loopback, %s)\n", host,
              std::thread::hardware_concurrency(), binary.c_str());
  std::printf("%-52s %10s %10s %10s\n", "measurement", "median", "p90", "max");
  std::printf("%-52s %10.3f %10.3f %10.3f\n",
              absl::StrFormat("add server + enable health/server, ms (n=%d)", kTargets).c_str(),
              Quantile(add_enable, 0.5), Quantile(add_enable, 0.9), Quantile(add_enable, 1.0));
  std::printf("%-52s %10.3f %10.3f %10.3f\n",
              absl::StrFormat("state maint + del server, ms (n=%d)", kTargets).c_str(),
              Quantile(remove, 0.5), Quantile(remove, 0.9), Quantile(remove, 1.0));
  std::printf("%-52s %10.1f %10.1f %10.1f\n",
              absl::StrFormat("Apply (validate, write, SIGUSR2, new worker), ms (n=%d)", kReloads)
                  .c_str(),
              Quantile(reload, 0.5), Quantile(reload, 0.9), Quantile(reload, 1.0));
  std::printf("requests failed across %d reloads under load: %d of %d\n", kReloads,
              failed.load(), requests.load());
  return failed == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = skiff::testing::kHaproxyBinary;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--haproxy") == 0 && i + 1 < argc) {
      binary = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--haproxy PATH]\n", argv[0]);
      return 64;
    }
  }
  return Run(binary);
}

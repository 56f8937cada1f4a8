// skiffd's settings: the flags of SPEC.md, optionally read from a JSON config file with the same
// keys as the long flags (flags win). Parsed once by main, before any thread starts.
#ifndef SKIFF_DAEMON_OPTIONS_H_
#define SKIFF_DAEMON_OPTIONS_H_

#include <optional>
#include <string>
#include <vector>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/image_puller.h"

namespace skiff::daemon {

struct Options {
  std::string containerd_address = "/run/containerd/containerd.sock";
  std::string ns = "skiff";
  std::string state_dir = "/var/lib/skiff";
  std::string socket = "/run/skiff/skiffd.sock";
  std::optional<std::string> socket_group;
  std::string log_level = "info";
  model::ArnScope arn_scope;
  // runc's state root (runc's own default when empty); tests point it into their temp dir.
  std::string runc_root;
  // How long stopped tasks stay visible before their containers, snapshots and logs go.
  absl::Duration task_retention = absl::Hours(1);
  // A service deployment still IN_PROGRESS this long after it was created fails; 0: never.
  absl::Duration deployment_progress_deadline = absl::ZeroDuration();
  // Container log files are rotated past this size (one rotated file is kept).
  int64_t log_max_bytes = 10 << 20;
  // bridge and awsvpc networking (network/cni_network.h, network/port_allocator.h).
  std::string bridge = "skiff0";
  std::string subnet = "10.213.0.0/16";
  std::string cni_plugin_dir = "/usr/lib/cni";
  int dynamic_port_low = 49153;   // hostPort 0 or absent in bridge mode takes one of these.
  int dynamic_port_high = 65535;
  std::vector<int> reserved_ports = {22, 2375, 2376, 51678, 51679, 51680};
  // Registries: when task images are pulled, which registries are plain HTTP (loopback ones
  // always may be), and the credentials file (auth.h documents its format).
  scheduler::PullBehavior image_pull_behavior = scheduler::PullBehavior::kDefault;
  std::vector<std::string> insecure_registries;
  std::string registry_credentials;
  // environmentFiles of type s3 come from DIR/BUCKET/KEY; "": such tasks fail to start.
  std::string environment_files_dir;
  // The AWS JSON API over HTTP (empty: not served), its TLS files and the credentials file of
  // the keys its requests are signed with (STATE_DIR/aws-credentials when not given).
  std::string http_address = "127.0.0.1:7557";
  std::string http_tls_cert;
  std::string http_tls_key;
  std::string aws_credentials;
  // Load balancing: the address listeners bind and the HAProxy that serves them.
  std::string lb_address = "0.0.0.0";
  std::string haproxy_binary = "/usr/sbin/haproxy";
  // Service discovery: the zone (lower case, no trailing dot), the resolvers that names outside
  // it go to ("ADDR" or "ADDR:PORT"; empty: the host's resolv.conf), and the skiff-dns binary
  // (default: beside skiffd's own executable).
  std::string dns_zone = "skiff.internal";
  std::vector<std::string> dns_upstreams;
  std::string skiff_dns_binary;
  // How often every running container's CPU and memory is sampled (skiff stats, metrics).
  absl::Duration stats_interval = absl::Seconds(10);
  // The task metadata endpoint's port, at the bridge's gateway and 127.0.0.1 (the ECS agent's
  // own, reserved for it among the host ports). 0: the one an earlier start kept in the state
  // dir, else one free at both (tests).
  int metadata_port = 51679;
};

// What main should do: run with Options, or exit with a code after printing (help, version or a
// usage error, already written to stdout/stderr).
using ParseResult = std::variant<Options, int>;

ParseResult ParseOptions(int argc, char** argv);

}  // namespace skiff::daemon

#endif  // SKIFF_DAEMON_OPTIONS_H_

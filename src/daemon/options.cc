#include "skiff/daemon/options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <istream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace skiff::daemon {
namespace {

// Reads the config file as a flat JSON object whose keys are long flag names.
class JsonConfig final : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override {
    return "";  // Writing a config back is not a skiffd feature.
  }

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    const std::string text{std::istreambuf_iterator<char>(input), {}};
    nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) {
      throw CLI::ConversionError("config: not a JSON object");
    }
    std::vector<CLI::ConfigItem> items;
    for (const auto& [key, value] : json.items()) {
      CLI::ConfigItem item;
      item.name = key;
      if (value.is_string()) {
        item.inputs = {value.get<std::string>()};
      } else if (value.is_number() || value.is_boolean()) {
        item.inputs = {value.dump()};
      } else if (value.is_array()) {  // A repeatable flag (--dns-upstream).
        for (const nlohmann::json& v : value) {
          if (!v.is_string()) {
            throw CLI::ConversionError("config: \"" + key + "\" must be a list of strings");
          }
          item.inputs.push_back(v.get<std::string>());
        }
      } else {
        throw CLI::ConversionError("config: \"" + key +
                                   "\" must be a string, number, boolean or list of strings");
      }
      items.push_back(std::move(item));
    }
    return items;
  }
};

// The machine id (machine-id(5): 32 lower-case hex digits and a newline), or "" when the file
// is missing or holds anything else. It is this node's container-instance id, so the ARN stays
// the same across restarts and reinstalls of skiffd.
std::string ReadMachineId(const std::string& path) {
  std::ifstream in(path);
  std::string id;
  if (!std::getline(in, id)) return "";
  const bool valid =
      id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  return valid ? id : "";
}

bool ParsePortRange(const std::string& text, int* low, int* high) {
  std::vector<std::string> parts = absl::StrSplit(text, '-');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], low) &&
         absl::SimpleAtoi(parts[1], high) && *low >= 1 && *low <= *high && *high <= 65535;
}

std::optional<std::vector<int>> ParsePortList(const std::string& text) {
  std::vector<int> ports;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int port = 0;
    if (!absl::SimpleAtoi(part, &port) || port < 1 || port > 65535) return std::nullopt;
    ports.push_back(port);
  }
  return ports;
}

// The AWS JSON API's flags (SPEC.md).
void AddHttpFlags(CLI::App& app, Options& o) {
  app.add_option("--http-address", o.http_address,
                 "the AWS JSON API (aws ecs, the AWS SDKs) and GET /metrics, HOST:PORT; empty "
                 "disables it; an address that is not loopback needs --http-tls-cert and "
                 "--http-tls-key")
      ->capture_default_str();
  app.add_option("--http-tls-cert", o.http_tls_cert, "PEM certificate: serve HTTPS");
  app.add_option("--http-tls-key", o.http_tls_key, "PEM private key of --http-tls-cert");
  app.add_option("--aws-credentials", o.aws_credentials,
                 "INI file of the keys that HTTP requests are signed with (SigV4, profile "
                 "[skiff]); created 0600 with a random key when missing (default: "
                 "STATE_DIR/aws-credentials)");
}

// The load balancers' data plane (SPEC.md's --lb-address; --haproxy for another build of it).
void AddLoadBalancerFlags(CLI::App& app, Options& o) {
  app.add_option("--lb-address", o.lb_address,
                 "IPv4 address that load-balancer listeners bind (skiff elbv2 create-listener)")
      ->check([](const std::string& v) {
        in_addr addr{};
        return inet_pton(AF_INET, v.c_str(), &addr) == 1 ? std::string()
                                                         : std::string("must be an IPv4 address");
      })
      ->capture_default_str();
  app.add_option("--haproxy", o.haproxy_binary,
                 "the HAProxy binary that serves the listeners (Debian's haproxy 2.6)")
      ->capture_default_str();
}

// Why `zone` is not a DNS name (labels of letters, digits and '-', 1 to 63 characters, not
// beginning or ending with '-'; 253 in all), or "".
std::string CheckDnsZone(const std::string& zone) {
  if (zone.empty() || zone.size() > 253) return "must be a DNS name of 1 to 253 characters";
  for (absl::string_view label : absl::StrSplit(zone, '.')) {
    if (label.empty() || label.size() > 63) {
      return absl::StrCat("\"", zone, "\" is not a DNS name: each label has 1 to 63 characters");
    }
    const bool chars = std::all_of(label.begin(), label.end(), [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-';
    });
    if (!chars || label.front() == '-' || label.back() == '-') {
      return absl::StrCat("\"", zone, "\" is not a DNS name: a label holds letters, digits and "
                          "'-', not at either end");
    }
  }
  return "";
}

// "ADDR" or "ADDR:PORT", IPv4.
std::string CheckUpstream(const std::string& v) {
  const size_t colon = v.find(':');
  in_addr addr{};
  int port = 53;
  const bool ok = inet_pton(AF_INET, v.substr(0, colon).c_str(), &addr) == 1 &&
                  (colon == std::string::npos ||
                   (absl::SimpleAtoi(v.substr(colon + 1), &port) && port >= 1 && port <= 65535));
  return ok ? std::string() : std::string("must be an IPv4 address with an optional :PORT");
}

// Service discovery (SPEC.md's --dns-zone; --dns-upstream and --skiff-dns for tests and hosts
// whose resolv.conf names a loopback stub).
void AddDiscoveryFlags(CLI::App& app, Options& o) {
  app.add_option("--dns-zone", o.dns_zone,
                 "the zone that service discovery answers: tasks find SERVICE.CLUSTER.ZONE")
      ->check(CheckDnsZone)
      ->capture_default_str();
  app.add_option("--dns-upstream", o.dns_upstreams,
                 "resolver (ADDR[:PORT]) that names outside the zone go to; repeatable, at most "
                 "3 (default: the host's /etc/resolv.conf)")
      ->check(CheckUpstream);
  app.add_option("--skiff-dns", o.skiff_dns_binary,
                 "the resolver binary (default: skiff-dns beside skiffd)");
}

// Container stats (SPEC.md's --stats-interval): whole seconds, more than 0.
void AddStatsFlags(CLI::App& app, int* seconds) {
  app.add_option("--stats-interval", *seconds,
                 "how often container CPU and memory are sampled, in seconds (skiff stats, "
                 "/metrics, autoscaling)")
      ->check([](const std::string& v) {
        int n = 0;
        return absl::SimpleAtoi(v, &n) && n > 0
                   ? std::string()
                   : std::string("must be a whole number of seconds above 0");
      })
      ->capture_default_str();
}

// True for 127.0.0.0/8, ::1 (also v4-mapped) and "localhost".
bool IsLoopbackHost(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

// Why the HTTP flags cannot serve, or "". Plain HTTP leaves the loopback interface only over
// TLS: the signatures keep requests from being forged, not from being read.
std::string CheckHttpFlags(const Options& o) {
  if (o.http_tls_cert.empty() != o.http_tls_key.empty()) {
    return "--http-tls-cert and --http-tls-key go together";
  }
  if (o.http_address.empty()) return "";
  const size_t colon = o.http_address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(o.http_address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::StrCat("--http-address: \"", o.http_address, "\" is not HOST:PORT");
  }
  if (!IsLoopbackHost(o.http_address.substr(0, colon)) && o.http_tls_cert.empty()) {
    return absl::StrCat("--http-address ", o.http_address,
                        " is not a loopback address: serving it needs TLS (--http-tls-cert "
                        "and --http-tls-key), or use 127.0.0.1:PORT");
  }
  return "";
}

}  // namespace

ParseResult ParseOptions(int argc, char** argv) {
  Options o;
  CLI::App app{"skiffd: a single-node container orchestrator in the style of Amazon ECS"};
  app.config_formatter(std::make_shared<JsonConfig>());
  app.set_config("--config", "/etc/skiff/skiffd.json",
                 "JSON file with the same keys as the long flags; flags win");
  app.allow_config_extras(false);
  app.add_option("--containerd-address", o.containerd_address, "containerd's gRPC socket")
      ->capture_default_str();
  app.add_option("--namespace", o.ns, "containerd namespace; skiffd touches nothing outside it")
      ->capture_default_str();
  app.add_option("--state-dir", o.state_dir, "the store, task logs and volumes (created 0700)")
      ->capture_default_str();
  app.add_option("--socket", o.socket, "the gRPC API's Unix socket (0660)")->capture_default_str();
  app.add_option("--socket-group", o.socket_group, "group that owns the socket");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  // ARN components: lower-case letters, digits and hyphens, as AWS's own.
  auto arn_part = [](const std::string& v) {
    return !v.empty() && v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                             std::string::npos
               ? std::string()
               : std::string("must be lower-case letters, digits and hyphens");
  };
  app.add_option("--region", o.arn_scope.region, "region in ARNs")
      ->check(arn_part)
      ->capture_default_str();
  app.add_option("--account-id", o.arn_scope.account, "account in ARNs")
      ->check([](const std::string& v) {
        return v.size() == 12 && v.find_first_not_of("0123456789") == std::string::npos
                   ? std::string()
                   : std::string("must be 12 digits");
      })
      ->capture_default_str();
  app.add_option("--partition", o.arn_scope.partition, "partition in ARNs")
      ->check(arn_part)
      ->capture_default_str();
  app.add_option("--runc-root", o.runc_root, "runc's state directory (runc's default when unset)");
  std::string retention = "1h";
  app.add_option("--task-retention", retention,
                 "how long stopped tasks stay visible, e.g. 1h, 30m (at least 1m)")
      ->check([](const std::string& v) {
        absl::Duration d;
        return absl::ParseDuration(v, &d) && d >= absl::Minutes(1)
                   ? std::string()
                   : std::string("must be a duration of at least 1m, such as 1h or 90m");
      })
      ->capture_default_str();
  std::string deadline = "0";
  app.add_option("--deployment-progress-deadline", deadline,
                 "fail a service deployment still in progress this long after it started, "
                 "e.g. 30m (0: never, as on ECS)")
      ->check([](const std::string& v) {
        absl::Duration d;
        return absl::ParseDuration(v, &d) && (d == absl::ZeroDuration() || d >= absl::Minutes(1))
                   ? std::string()
                   : std::string("must be 0 or a duration of at least 1m, such as 30m");
      })
      ->capture_default_str();
  app.add_option("--log-max-bytes", o.log_max_bytes,
                 "rotate a container's log file past this many bytes (at least 4096)")
      ->check(CLI::Range(int64_t{4096}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--bridge", o.bridge,
                 "the Linux bridge of bridge and awsvpc tasks (created on first use)")
      ->capture_default_str();
  app.add_option("--subnet", o.subnet,
                 "IPv4 subnet of the bridge; tasks get addresses from it")
      ->capture_default_str();
  app.add_option("--cni-plugin-dir", o.cni_plugin_dir,
                 "where the CNI plugins are (Debian's containernetworking-plugins)")
      ->capture_default_str();
  // As ECS: the kernel's ephemeral range, else 49153-65535.
  std::string dynamic_ports = absl::StrCat(o.dynamic_port_low, "-", o.dynamic_port_high);
  {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0, high = 0;
    if (range >> low >> high && low >= 1 && low <= high && high <= 65535) {
      dynamic_ports = absl::StrCat(low, "-", high);
    }
  }
  app.add_option("--dynamic-host-ports", dynamic_ports,
                 "range of host ports for portMappings without a hostPort (bridge mode)")
      ->check([](const std::string& v) {
        int low = 0, high = 0;
        return ParsePortRange(v, &low, &high) ? std::string()
                                              : std::string("must be LOW-HIGH within 1-65535");
      })
      ->capture_default_str();
  std::string reserved = absl::StrJoin(o.reserved_ports, ",");
  app.add_option("--reserved-ports", reserved,
                 "host ports no task may use, comma-separated (ECS's defaults)")
      ->check([](const std::string& v) {
        return ParsePortList(v).has_value() ? std::string()
                                            : std::string("must be ports 1-65535, comma-separated");
      })
      ->capture_default_str();
  std::string pull_behavior = "default";
  app.add_option("--image-pull-behavior", pull_behavior,
                 "when task images are pulled: default (latest tags and missing images), "
                 "always, once (first use after start) or prefer-cached")
      ->check(CLI::IsMember({"default", "always", "once", "prefer-cached"}))
      ->capture_default_str();
  std::string insecure;
  app.add_option("--insecure-registries", insecure,
                 "comma-separated registries (host[:port]) reached over plain HTTP; loopback "
                 "ones always are");
  app.add_option("--registry-credentials", o.registry_credentials,
                 "JSON file of registry credentials (repositoryCredentials secrets and "
                 "per-registry logins); see the README");
  app.add_option("--environment-files-dir", o.environment_files_dir,
                 "directory that stands in for S3 for environmentFiles of type s3: "
                 "arn:aws:s3:::BUCKET/KEY is read from DIR/BUCKET/KEY");
  AddHttpFlags(app, o);
  AddLoadBalancerFlags(app, o);
  AddDiscoveryFlags(app, o);
  int stats_seconds = static_cast<int>(absl::ToInt64Seconds(o.stats_interval));
  AddStatsFlags(app, &stats_seconds);
  app.add_option("--metadata-port", o.metadata_port,
                 "port of the task metadata endpoint (ECS_CONTAINER_METADATA_URI_V4) at the "
                 "bridge's gateway and 127.0.0.1; 0: the one kept from an earlier start, else a "
                 "free one")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.set_version_flag("--version", SKIFF_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  absl::ParseDuration(retention, &o.task_retention);
  o.stats_interval = absl::Seconds(stats_seconds);
  ParsePortRange(dynamic_ports, &o.dynamic_port_low, &o.dynamic_port_high);
  o.reserved_ports = *ParsePortList(reserved);
  absl::ParseDuration(deadline, &o.deployment_progress_deadline);
  o.image_pull_behavior = *scheduler::ParsePullBehavior(pull_behavior);  // Checked above.
  for (absl::string_view host : absl::StrSplit(insecure, ',', absl::SkipWhitespace())) {
    o.insecure_registries.emplace_back(absl::StripAsciiWhitespace(host));
  }
  if (std::string id = ReadMachineId("/etc/machine-id"); !id.empty()) {
    o.arn_scope.instance_id = std::move(id);
  }
  if (o.ns.empty()) {
    std::cerr << "skiffd: --namespace must not be empty\n";
    return 2;
  }
  if (std::string error = CheckHttpFlags(o); !error.empty()) {
    std::cerr << "skiffd: " << error << "\n";
    return 2;
  }
  if (o.aws_credentials.empty()) o.aws_credentials = o.state_dir + "/aws-credentials";
  if (o.dns_upstreams.size() > 3) {
    std::cerr << "skiffd: --dns-upstream: at most 3 resolvers\n";
    return 2;
  }
  o.dns_zone = absl::AsciiStrToLower(o.dns_zone);
  if (o.skiff_dns_binary.empty()) {
    std::error_code ec;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    o.skiff_dns_binary = ec ? "skiff-dns" : (self.parent_path() / "skiff-dns").string();
  }
  return o;
}

}  // namespace skiff::daemon

#include "skiff/network/cni_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "network/cni_result.h"
#include "network/netns.h"
#include "network/plugin_exec.h"
#include "nlohmann/json.hpp"
#include "skiff/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace skiff::network {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kCniVersion[] = "1.0.0";
constexpr char kIfName[] = "eth0";
// The chain after loopback, in ADD order.
constexpr const char* kChain[] = {"bridge", "portmap", "firewall"};

struct Subnet {
  uint32_t base = 0;  // Host order.
  int prefix = 0;
  uint32_t Mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
};

absl::StatusOr<Subnet> ParseSubnet(const std::string& text) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("subnet: ", why, "; got \"", text, "\" (an IPv4 CIDR such as ",
                     kDefaultSubnet, ")"));
  };
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  in_addr address{};
  int prefix = 0;
  if (parts.size() != 2 || inet_pton(AF_INET, parts[0].c_str(), &address) != 1 ||
      !absl::SimpleAtoi(parts[1], &prefix)) {
    return invalid("not an IPv4 CIDR");
  }
  if (prefix < 8 || prefix > 30) return invalid("the prefix length must be between 8 and 30");
  Subnet s{.base = ntohl(address.s_addr), .prefix = prefix};
  if ((s.base & ~s.Mask()) != 0) return invalid("host bits are set; give the network address");
  return s;
}

std::string Ipv4(uint32_t host_order) {
  in_addr a{.s_addr = htonl(host_order)};
  char buffer[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buffer, sizeof(buffer));
  return buffer;
}

// An interface's route (from /proc/net/route) that overlaps the subnet, as "dev 10.0.0.0/8".
std::optional<std::string> OverlappingRoute(const Subnet& subnet, const std::string& bridge) {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // Header.
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask)) {
      continue;
    }
    if (iface == bridge) continue;  // Our own, from an earlier run.
    uint32_t dest = 0, m = 0;
    if (!absl::SimpleHexAtoi(destination, &dest) || !absl::SimpleHexAtoi(mask, &m)) continue;
    dest = ntohl(dest);
    m = ntohl(m);
    if (m == 0) continue;  // The default route overlaps everything and matters for nothing.
    const uint32_t common = m & subnet.Mask();
    if ((dest & common) == (subnet.base & common)) {
      return absl::StrCat(iface, " ", Ipv4(dest), "/", __builtin_popcount(m));
    }
  }
  return std::nullopt;
}

class CniNetwork final : public TaskNetwork {
 public:
  explicit CniNetwork(CniConfig config) : config_(std::move(config)) {
    name_ = absl::StrCat("skiff-", config_.bridge);
  }

  absl::StatusOr<Attachment> Attach(const std::string& id,
                                    const std::vector<PortBinding>& ports) override {
    const std::string netns = NetnsPath(id);
    SKIFF_RETURN_IF_ERROR(CreateNetns(netns));
    // Recorded before the plugins run, so that a crash halfway is undone at the next start.
    AttachmentRecord record{.netns = netns, .ports = ports};
    absl::Status status = WriteRecord(id, record);
    if (status.ok()) {
      status = RunPlugin({.plugin_dir = config_.plugin_dir, .type = "loopback", .command = "ADD",
                          .container_id = id, .netns = netns, .ifname = "lo",
                          .config = PluginConfig(json{{"type", "loopback"}}, json()).dump()})
                   .status();
    }
    Attachment attachment;
    for (const char* type : kChain) {
      if (!status.ok()) break;
      status = AddPlugin(id, netns, type, ports, record, attachment);
    }
    if (status.ok()) status = WriteRecord(id, record);
    if (!status.ok()) {
      WriteRecord(id, record).IgnoreError();
      if (absl::Status undone = Detach(id); !undone.ok()) {
        spdlog::warn("network {}: undoing a failed attach: {}", id, undone.ToString());
      }
      return status;
    }
    attachment.id = id;
    attachment.netns_path = netns;
    return attachment;
  }

  absl::Status Detach(const std::string& id) override {
    const std::string netns = NetnsPath(id);
    const AttachmentRecord record = ReadRecord(id);
    // After a reboot the file is there but no longer a namespace: nothing is inside to undo.
    const std::string live_netns = IsNetns(netns) ? netns : "";
    absl::Status first;
    const bool known = fs::exists(RecordPath(id)) || fs::exists(netns);
    if (known) {
      for (auto it = std::rbegin(kChain); it != std::rend(kChain); ++it) {
        absl::StatusOr<std::string> out =
            RunPlugin(Call(id, live_netns, "DEL", *it, record.ports, record.result));
        if (!out.ok() && first.ok()) first = out.status();
      }
    }
    if (!first.ok()) return first;  // Kept, so that the next Detach tries again.
    SKIFF_RETURN_IF_ERROR(RemoveNetns(netns));
    std::error_code ec;
    fs::remove(RecordPath(id), ec);
    if (ec) return absl::InternalError(absl::StrCat("remove ", RecordPath(id), ": ", ec.message()));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List() override {
    std::set<std::string> ids;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(config_.netns_dir, ec)) {
      ids.insert(e.path().filename().string());
    }
    for (const auto& e : fs::directory_iterator(ResultsDir(), ec)) {
      if (e.path().extension() == ".json") ids.insert(e.path().stem().string());
    }
    return std::vector<std::string>(ids.begin(), ids.end());
  }

 private:
  std::string NetnsPath(const std::string& id) const { return config_.netns_dir + "/" + id; }
  std::string ResultsDir() const { return config_.state_dir + "/results"; }
  std::string RecordPath(const std::string& id) const { return ResultsDir() + "/" + id + ".json"; }

  // A plugin's configuration as libcni hands it over: the plugin's own keys, the network's
  // name and version, and the previous plugin's result.
  json PluginConfig(json plugin, const json& prev_result) const {
    plugin["cniVersion"] = kCniVersion;
    plugin["name"] = name_;
    if (!prev_result.is_null()) plugin["prevResult"] = prev_result;
    return plugin;
  }

  json PluginJson(const std::string& type, const std::vector<PortBinding>& ports) const {
    if (type == "bridge") {
      return {{"type", "bridge"},
              {"bridge", config_.bridge},
              {"isGateway", true},
              {"ipMasq", true},
              {"hairpinMode", true},
              {"ipam",
               {{"type", "host-local"},
                {"ranges", json::array({json::array({{{"subnet", config_.subnet}}})})},
                {"routes", json::array({{{"dst", "0.0.0.0/0"}}})},
                {"dataDir", config_.state_dir + "/ipam"}}}};
    }
    if (type == "portmap") {
      return {{"type", "portmap"},
              {"capabilities", {{"portMappings", true}}},
              {"snat", true},
              {"runtimeConfig", {{"portMappings", PortsJson(ports)}}}};
    }
    return {{"type", "firewall"}, {"backend", "iptables"}};
  }

  PluginCall Call(const std::string& id, const std::string& netns, const std::string& command,
                  const std::string& type, const std::vector<PortBinding>& ports,
                  const json& prev_result) const {
    return {.plugin_dir = config_.plugin_dir,
            .type = type,
            .command = command,
            .container_id = id,
            .netns = netns,
            .ifname = kIfName,
            .config = PluginConfig(PluginJson(type, ports), prev_result).dump()};
  }

  // ADD of one plugin of the chain, its result recorded for DEL. The bridge's result carries the
  // address and the others pass it on as prevResult, so every result must have one. A result
  // that does not is not recorded: the plugins' DEL fails on a prevResult it cannot parse, and
  // the namespace would be kept for ever; the last good one (or none) undoes as much.
  absl::Status AddPlugin(const std::string& id, const std::string& netns, const char* type,
                         const std::vector<PortBinding>& ports, AttachmentRecord& record,
                         Attachment& attachment) const {
    SKIFF_ASSIGN_OR_RETURN(std::string out,
                           RunPlugin(Call(id, netns, "ADD", type, ports, record.result)));
    const std::string what = absl::StrCat("CNI ", type, " ADD");
    SKIFF_ASSIGN_OR_RETURN(json result, ParsePluginResult(what, out));
    SKIFF_ASSIGN_OR_RETURN(Attachment address, AddressFromResult(what, result));
    record.result = std::move(result);
    if (std::string_view(type) == "bridge") attachment = std::move(address);
    return absl::OkStatus();
  }

  absl::Status WriteRecord(const std::string& id, const AttachmentRecord& record) const {
    const std::string path = RecordPath(id);
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << RecordJson(record).dump();
      if (!out.flush()) return absl::InternalError(absl::StrCat("write ", tmp));
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) return absl::InternalError(absl::StrCat("rename ", tmp, ": ", ec.message()));
    return absl::OkStatus();
  }

  // The record of `id`; empty when there is none. A damaged one is logged and read as empty:
  // DEL without the ports and the previous result still removes what the plugins find by the
  // container id, which beats keeping the namespace forever.
  AttachmentRecord ReadRecord(const std::string& id) const {
    std::ifstream in(RecordPath(id));
    if (!in) return {};
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    absl::StatusOr<AttachmentRecord> record = ParseAttachmentRecord(text);
    if (!record.ok()) {
      spdlog::warn("network {}: {}: {}", id, RecordPath(id), record.status().ToString());
      return {};
    }
    return *std::move(record);
  }

  CniConfig config_;
  std::string name_;
};

}  // namespace

absl::Status ValidateCniConfig(const CniConfig& config) {
  SKIFF_ASSIGN_OR_RETURN(Subnet subnet, ParseSubnet(config.subnet));
  const std::string& b = config.bridge;
  if (b.empty() || b.size() > 15 ||
      b.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bridge: must be 1 to 15 letters, digits, '_', '.' or '-'; got \"", b, "\""));
  }
  for (const char* plugin : {"loopback", "bridge", "host-local", "portmap", "firewall"}) {
    const std::string path = absl::StrCat(config.plugin_dir, "/", plugin);
    if (access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cni-plugin-dir: ", path, " is missing; install Debian's containernetworking-plugins"));
    }
  }
  if (auto route = OverlappingRoute(subnet, config.bridge)) {
    return absl::InvalidArgumentError(
        absl::StrCat("subnet: ", config.subnet, " overlaps the route ", *route,
                     " of this host; choose a subnet no interface uses (--subnet)"));
  }
  return absl::OkStatus();
}

BridgeClaim::~BridgeClaim() { close(fd_); }

absl::StatusOr<std::unique_ptr<BridgeClaim>> ClaimBridge(const CniConfig& config,
                                                         const std::string& lock_dir) {
  std::error_code ec;
  fs::create_directories(lock_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", lock_dir, ": ", ec.message()));
  const std::string path = absl::StrCat(lock_dir, "/", config.bridge, ".lock");
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", strerror(errno)));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::string holder(256, '\0');
    const ssize_t n = pread(fd, holder.data(), holder.size(), 0);
    holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
    close(fd);
    if (error != EWOULDBLOCK) {
      return absl::InternalError(absl::StrCat("lock ", path, ": ", strerror(error)));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "bridge: ", config.bridge, " is in use by another skiffd (",
        absl::StripAsciiWhitespace(holder), "), which gives out addresses of its subnet; two on ",
        "one bridge would give tasks the same addresses. Give this one a bridge and a subnet of "
        "its own (--bridge and --subnet, e.g. --bridge skiff1 --subnet 10.214.0.0/16; this one ",
        "asked for --bridge ", config.bridge, " --subnet ", config.subnet, ")"));
  }
  const std::string holder = absl::StrCat("pid ", getpid(), ", subnet ", config.subnet,
                                          ", state dir ", config.state_dir, "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, holder.data(), holder.size(), 0) < 0) {
    spdlog::warn("{}: {}", path, strerror(errno));  // The lock holds; only the message suffers.
  }
  return std::unique_ptr<BridgeClaim>(new BridgeClaim(fd));
}

absl::StatusOr<std::unique_ptr<TaskNetwork>> NewCniNetwork(CniConfig config) {
  SKIFF_RETURN_IF_ERROR(ValidateCniConfig(config));
  for (const std::string& dir :
       {config.state_dir + "/results", config.state_dir + "/ipam", config.netns_dir}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  }
  return std::unique_ptr<TaskNetwork>(new CniNetwork(std::move(config)));
}

}  // namespace skiff::network

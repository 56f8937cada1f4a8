#include "skiff/network/port_allocator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/wait.h>

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "network/plugin_exec.h"
#include "spdlog/spdlog.h"

namespace skiff::network {

bool HostPortInUse(int port, const std::string& protocol) {
  const int fd = socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;  // Cannot tell; the publish itself does not need the bind.
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool taken = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 &&
                     errno == EADDRINUSE;
  close(fd);
  return taken;
}

namespace {

// "80", "8000:8010" or "80,443,8000:8010" into `out`, with `protocol`.
void AddPorts(std::string_view spec, const std::string& protocol,
              std::set<std::pair<std::string, int>>& out) {
  for (absl::string_view item : absl::StrSplit(absl::string_view(spec.data(), spec.size()), ',')) {
    std::pair<absl::string_view, absl::string_view> range = absl::StrSplit(item, ':');
    int low = 0, high = 0;
    if (!absl::SimpleAtoi(range.first, &low)) continue;
    if (range.second.empty()) high = low;
    else if (!absl::SimpleAtoi(range.second, &high)) continue;
    for (int port = std::max(low, 1); port <= std::min(high, 65535); ++port) {
      out.emplace(protocol, port);
    }
  }
}

}  // namespace

std::set<std::pair<std::string, int>> ParseRedirectedPorts(std::string_view iptables_save) {
  std::set<std::pair<std::string, int>> out;
  bool nat = false;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(iptables_save.data(), iptables_save.size()), '\n')) {
    if (absl::StartsWith(line, "*")) nat = line == "*nat";
    if (!nat || !absl::StartsWith(line, "-A ")) continue;
    const std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    std::string protocol, target;
    std::vector<std::string_view> ports;
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      const bool negated = i > 0 && words[i - 1] == "!";
      const absl::string_view value = words[i + 1];
      if (words[i] == "-p" && !negated) protocol = std::string(value);
      if (words[i] == "-j") target = std::string(value);
      if ((words[i] == "--dport" || words[i] == "--dports") && !negated) {
        ports.emplace_back(value.data(), value.size());
      }
    }
    if (target != "DNAT" && target != "REDIRECT") continue;
    if (protocol != "tcp" && protocol != "udp") continue;
    for (std::string_view spec : ports) AddPorts(spec, protocol, out);
  }
  return out;
}

std::set<std::pair<std::string, int>> RedirectedHostPorts() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::Time read_at = absl::InfinitePast();
  static auto* last = new std::set<std::pair<std::string, int>>();
  absl::MutexLock lock(&mu);
  if (absl::Now() - read_at < absl::Seconds(1)) return *last;
  read_at = absl::Now();
  for (const char* path : {"/usr/sbin/iptables-save", "/sbin/iptables-save"}) {
    if (access(path, X_OK) != 0) continue;
    absl::StatusOr<ExecResult> result = Execute(
        {.path = path, .argv = {path, "-t", "nat"}, .timeout = absl::Seconds(5)});
    if (result.ok() && !result->timed_out && WIFEXITED(result->status) &&
        WEXITSTATUS(result->status) == 0) {
      *last = ParseRedirectedPorts(result->out);
    } else {
      spdlog::debug("iptables-save -t nat: {}", result.ok() ? result->err
                                                            : result.status().ToString());
    }
    break;
  }
  return *last;
}

PortAllocator::PortAllocator(PortAllocatorOptions options)
    : options_(std::move(options)), reserved_(options_.reserved.begin(), options_.reserved.end()) {
  if (!options_.in_use) options_.in_use = HostPortInUse;
  if (!options_.redirected) options_.redirected = RedirectedHostPorts;
}

std::string PortAllocator::Reason(const std::string& protocol) {
  return protocol == "udp" ? "RESOURCE:PORTS_UDP" : "RESOURCE:PORTS";
}

bool PortAllocator::Free(const Key& key, const std::set<Key>& redirected) const {
  return !held_.contains(key) && !reserved_.contains(key.second) &&
         !redirected.contains(key) && !options_.in_use(key.second, key.first);
}

std::optional<int> PortAllocator::FindDynamic(const std::string& protocol, int count, int start,
                                              const std::set<Key>& redirected,
                                              const std::set<Key>& taken) const {
  const int low = options_.dynamic_low;
  const int high = options_.dynamic_high;
  if (start < low || start > high) start = low;
  // One walk over the range, start..high then low..start - 1 (a run does not wrap): each port is
  // checked once, however long the run wanted.
  int run = 0;
  for (int i = 0; i < high - low + 1; ++i) {
    const int port = low + (start - low + i) % (high - low + 1);
    if (port == low) run = 0;
    const Key key{protocol, port};
    run = !taken.contains(key) && Free(key, redirected) ? run + 1 : 0;
    if (run == count) return port - count + 1;
  }
  return std::nullopt;
}

std::string PortAllocator::Check(const std::vector<PortRequest>& requests) const {
  const std::optional<std::string> protocol = Conflict(requests);
  return protocol ? Reason(*protocol) : "";
}

std::optional<std::string> PortAllocator::Conflict(const std::vector<PortRequest>& requests) const {
  if (requests.empty()) return std::nullopt;
  const std::set<Key> redirected = options_.redirected();
  std::set<Key> wanted;
  std::map<std::string, int> dynamic;  // Per protocol.
  for (const PortRequest& r : requests) {
    if (r.host_port == 0) {
      if (r.count == 1) ++dynamic[r.protocol];
      continue;
    }
    const Key key{r.protocol, r.host_port};
    if (!wanted.insert(key).second || !Free(key, redirected)) return r.protocol;
  }
  // Runs before single ports, which fit anywhere.
  for (const PortRequest& r : requests) {
    if (r.host_port != 0 || r.count == 1) continue;
    const std::optional<int> first =
        FindDynamic(r.protocol, r.count, options_.dynamic_low, redirected, wanted);
    if (!first) return r.protocol;
    for (int port = *first; port < *first + r.count; ++port) wanted.insert({r.protocol, port});
  }
  for (const auto& [protocol, count] : dynamic) {
    int found = 0;
    for (int port = options_.dynamic_low; port <= options_.dynamic_high && found < count; ++port) {
      const Key key{protocol, port};
      if (!wanted.contains(key) && Free(key, redirected)) ++found;
    }
    if (found < count) return protocol;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<PortBinding>> PortAllocator::Allocate(
    const std::string& owner, const std::vector<PortRequest>& requests) {
  std::vector<PortBinding> out;
  if (requests.empty()) return out;
  const std::set<Key> redirected = options_.redirected();
  std::vector<Key> taken;
  auto fail = [&](const std::string& protocol) {
    for (const Key& key : taken) held_.erase(key);
    return absl::ResourceExhaustedError(Reason(protocol));
  };
  // Fixed ports first, so that a dynamic pick never takes one the same task names.
  for (const PortRequest& r : requests) {
    if (r.host_port == 0) continue;
    const Key key{r.protocol, r.host_port};
    if (!Free(key, redirected)) return fail(r.protocol);
    held_[key] = owner;
    taken.push_back(key);
  }
  for (const PortRequest& r : requests) {
    PortBinding binding{.container_port = r.container_port, .host_port = r.host_port,
                        .protocol = r.protocol};
    if (r.host_port == 0) {
      // Round robin from the last pick, so a port just released is not handed out again at
      // once (a client may still talk to the old task).
      int& next = next_dynamic_.try_emplace(r.protocol, options_.dynamic_low).first->second;
      const std::optional<int> first = FindDynamic(r.protocol, r.count, next, redirected, {});
      if (!first) return fail(r.protocol);
      for (int port = *first; port < *first + r.count; ++port) {
        held_[{r.protocol, port}] = owner;
        taken.push_back({r.protocol, port});
      }
      binding.host_port = *first;
      next = *first + r.count > options_.dynamic_high ? options_.dynamic_low : *first + r.count;
    }
    out.push_back(binding);
  }
  auto& mine = by_owner_[owner];
  mine.insert(mine.end(), taken.begin(), taken.end());
  return out;
}

void PortAllocator::Hold(const std::string& owner, const std::vector<PortBinding>& bindings) {
  for (const PortBinding& b : bindings) {
    const Key key{b.protocol, b.host_port};
    auto [it, inserted] = held_.emplace(key, owner);
    if (!inserted && it->second != owner) {
      spdlog::warn("host port {}/{} of task {} is also held by task {}", b.host_port, b.protocol,
                   owner, it->second);
      continue;
    }
    if (inserted) by_owner_[owner].push_back(key);
  }
}

void PortAllocator::Release(const std::string& owner) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  for (const Key& key : it->second) {
    if (auto h = held_.find(key); h != held_.end() && h->second == owner) held_.erase(h);
  }
  by_owner_.erase(it);
}

}  // namespace skiff::network

#include "skiff/network/port_allocator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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

PortAllocator::PortAllocator(PortAllocatorOptions options)
    : options_(std::move(options)), reserved_(options_.reserved.begin(), options_.reserved.end()) {
  if (!options_.in_use) options_.in_use = HostPortInUse;
}

std::string PortAllocator::Reason(const std::string& protocol) {
  return protocol == "udp" ? "RESOURCE:PORTS_UDP" : "RESOURCE:PORTS";
}

bool PortAllocator::Free(const Key& key) const {
  return !held_.contains(key) && !reserved_.contains(key.second) &&
         !options_.in_use(key.second, key.first);
}

std::string PortAllocator::Check(const std::vector<PortRequest>& requests) const {
  const std::optional<std::string> protocol = Conflict(requests);
  return protocol ? Reason(*protocol) : "";
}

std::optional<std::string> PortAllocator::Conflict(const std::vector<PortRequest>& requests) const {
  std::set<Key> wanted;
  std::map<std::string, int> dynamic;  // Per protocol.
  for (const PortRequest& r : requests) {
    if (r.host_port == 0) {
      ++dynamic[r.protocol];
      continue;
    }
    const Key key{r.protocol, r.host_port};
    if (!wanted.insert(key).second || !Free(key)) return r.protocol;
  }
  for (const auto& [protocol, count] : dynamic) {
    int found = 0;
    for (int port = options_.dynamic_low; port <= options_.dynamic_high && found < count; ++port) {
      const Key key{protocol, port};
      if (!wanted.contains(key) && Free(key)) ++found;
    }
    if (found < count) return protocol;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<PortBinding>> PortAllocator::Allocate(
    const std::string& owner, const std::vector<PortRequest>& requests) {
  std::vector<PortBinding> out;
  std::vector<Key> taken;
  auto fail = [&](const std::string& protocol) {
    for (const Key& key : taken) held_.erase(key);
    return absl::ResourceExhaustedError(Reason(protocol));
  };
  // Fixed ports first, so that a dynamic pick never takes one the same task names.
  for (const PortRequest& r : requests) {
    if (r.host_port == 0) continue;
    const Key key{r.protocol, r.host_port};
    if (!Free(key)) return fail(r.protocol);
    held_[key] = owner;
    taken.push_back(key);
  }
  const int span = options_.dynamic_high - options_.dynamic_low + 1;
  for (const PortRequest& r : requests) {
    PortBinding binding = r;
    if (r.host_port == 0) {
      // Round robin from the last pick, so a port just released is not handed out again at
      // once (a client may still talk to the old task).
      int& next = next_dynamic_.try_emplace(r.protocol, options_.dynamic_low).first->second;
      bool found = false;
      for (int i = 0; i < span && !found; ++i) {
        const int port = options_.dynamic_low + (next - options_.dynamic_low + i) % span;
        const Key key{r.protocol, port};
        if (!Free(key)) continue;
        held_[key] = owner;
        taken.push_back(key);
        binding.host_port = port;
        next = port + 1 > options_.dynamic_high ? options_.dynamic_low : port + 1;
        found = true;
      }
      if (!found) return fail(r.protocol);
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

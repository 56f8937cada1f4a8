// ContainerSpec: everything the runtime needs to create one container, already resolved from the
// task definition, its overrides and the task (scheduler/container_spec_builder.h does that).
// Plain value; no ECS types. The OCI runtime spec is built from it, the image config and the
// image's /etc/passwd and /etc/group (oci_spec.h).
#ifndef SKIFF_RUNTIME_CONTAINER_SPEC_H_
#define SKIFF_RUNTIME_CONTAINER_SPEC_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace skiff::runtime {

struct MountSpec {
  std::string type;         // "bind" or "tmpfs".
  std::string source;       // Host path for bind; "tmpfs" for tmpfs.
  std::string destination;  // Absolute path in the container.
  std::vector<std::string> options;  // e.g. "ro", "rbind", "nosuid", "size=65536k", "mode=1777".
};

struct UlimitSpec {
  std::string name;  // ECS name: "nofile", "nproc", "core", ... (RLIMIT_ + upper-case).
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// kHost: the host's namespace. kNone: a namespace of its own with only lo. kJoin: the namespace
// bound at ContainerSpec::netns_path (bridge and awsvpc tasks; skiff's network component made it).
enum class NetworkMode { kHost, kNone, kJoin };

struct ContainerSpec {
  std::string id;     // containerd container id: "<task-id>-<container-name>".
  std::string image;  // Normalized image reference (image.h).
  std::map<std::string, std::string> labels;  // skiff.* labels and the dockerLabels.

  // Process. Unset optionals take the image config's value, as Docker and ECS do: an entryPoint
  // replaces the image's Entrypoint and drops its Cmd unless command is also given.
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> command;
  std::vector<std::string> env;  // "KEY=value", applied over the image's Env (later wins).
  std::string working_dir;       // "" for the image's (or "/").
  std::string user;              // "" for the image's; name, uid, uid:gid, name:group, uid:group...
  std::string hostname;          // "" for none set (the runtime's default).

  // Resources. 0 means "not set".
  uint64_t cpu_shares = 0;         // From container cpu units (min 2), as Docker/ECS do.
  int64_t cpu_quota_us = 0;        // With cpu_period_us: the task-level cpu limit.
  uint64_t cpu_period_us = 0;
  int64_t memory_limit_bytes = 0;        // Hard limit (container `memory`).
  int64_t memory_reservation_bytes = 0;  // Soft limit (`memoryReservation`).
  std::optional<int64_t> memory_swap_bytes;  // Limit + maxSwap, as Docker's --memory-swap.
  std::optional<uint64_t> swappiness;
  std::vector<UlimitSpec> ulimits;
  int64_t shm_size_bytes = 0;  // Size of /dev/shm; 0 for the 64 MiB default.

  // Security.
  bool readonly_rootfs = false;
  bool privileged = false;                // All capabilities and host devices.
  std::vector<std::string> cap_add;       // "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" allowed.
  std::vector<std::string> cap_drop;
  // Run an init as pid 1, as Docker's --init: the host's /usr/bin/tini-static (Debian package
  // tini) bound read-only at /sbin/docker-init, running "/sbin/docker-init -- <args>".
  bool init = false;

  std::vector<MountSpec> mounts;  // Volumes, tmpfs; in this order, after the defaults.
  NetworkMode network = NetworkMode::kHost;
  std::string netns_path;  // For kJoin.

  std::string log_path;  // Absolute host file that receives stdout and stderr.
  // The container's cgroup, linux.cgroupsPath; "" lets the runtime choose. The containerd
  // adapter sets "/<namespace>/<id>", as containerd's own clients do.
  std::string cgroups_path;
};

}  // namespace skiff::runtime

#endif  // SKIFF_RUNTIME_CONTAINER_SPEC_H_

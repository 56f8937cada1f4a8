#include "oci_defaults.h"

#include <array>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace skiff::runtime::oci {
namespace {

using nlohmann::json;

// Linux's capabilities by number (include/uapi/linux/capability.h), up to the newest one runc 1.1
// knows. Privileged containers get all of them.
constexpr std::array<const char*, 41> kAllCapabilities = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};

// containerd's defaultUnixCaps, in its order (the same set Docker grants).
constexpr std::array<const char*, 14> kDefaultCapabilities = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",           "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",     "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",           "CAP_SYS_CHROOT", "CAP_KILL",             "CAP_AUDIT_WRITE"};

constexpr std::array<const char*, 16> kRlimits = {
    "as",     "core",   "cpu",   "data",   "fsize",  "locks",   "memlock",    "msgqueue",
    "nice",   "nofile", "nproc", "rss",    "rtprio", "rttime",  "sigpending", "stack"};

json Mount(const char* destination, const char* type, const char* source,
           std::initializer_list<const char*> options) {
  return json{{"destination", destination},
              {"type", type},
              {"source", source},
              {"options", json(std::vector<std::string>(options.begin(), options.end()))}};
}

json AllowCharDevice(int64_t major, std::optional<int64_t> minor) {
  json d = {{"allow", true}, {"type", "c"}, {"major", major}, {"access", "rwm"}};
  if (minor) d["minor"] = *minor;  // No minor: every minor of the major (the pts devices).
  return d;
}

json DefaultMounts() {
  // containerd's defaultMounts without its /run tmpfs: Docker (hence ECS) leaves the image's /run
  // alone, and images ship files there. The cgroup mount is Docker's; containerd's clients add it.
  return json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  });
}

json DefaultDevices() {
  return json::array({
      {{"allow", false}, {"access", "rwm"}},  // Deny everything, then allow the basics.
      AllowCharDevice(1, 3),                  // /dev/null
      AllowCharDevice(1, 8),                  // /dev/random
      AllowCharDevice(1, 7),                  // /dev/full
      AllowCharDevice(5, 0),                  // /dev/tty
      AllowCharDevice(1, 5),                  // /dev/zero
      AllowCharDevice(1, 9),                  // /dev/urandom
      AllowCharDevice(5, 1),                  // /dev/console
      AllowCharDevice(136, std::nullopt),     // /dev/pts/*
      AllowCharDevice(5, 2),                  // /dev/ptmx
  });
}

}  // namespace

std::vector<std::string> DefaultCapabilities() {
  return {kDefaultCapabilities.begin(), kDefaultCapabilities.end()};
}

std::vector<std::string> AllCapabilities(uint64_t available) {
  std::vector<std::string> out;
  for (size_t bit = 0; bit < kAllCapabilities.size(); ++bit) {
    if ((available >> bit) & 1) out.emplace_back(kAllCapabilities[bit]);
  }
  return out;
}

std::optional<std::string> CanonicalCapability(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  if (upper == "ALL") return upper;
  if (!absl::StartsWith(upper, "CAP_")) upper = absl::StrCat("CAP_", upper);
  for (const char* known : kAllCapabilities) {
    if (upper == known) return upper;
  }
  return std::nullopt;
}

std::optional<std::string> RlimitType(absl::string_view ecs_name) {
  for (const char* known : kRlimits) {
    if (ecs_name == known) return absl::StrCat("RLIMIT_", absl::AsciiStrToUpper(known));
  }
  return std::nullopt;
}

nlohmann::json DefaultSpec() {
  const std::vector<std::string> caps = DefaultCapabilities();
  return json{
      {"ociVersion", kSpecVersion},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"cwd", "/"},
        // Inheritable and ambient stay empty, as containerd leaves them: a non-root process
        // then keeps no capabilities across exec, which is what images expect.
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}}},
      {"mounts", DefaultMounts()},
      {"linux",
       {{"resources", {{"devices", DefaultDevices()}}},
        {"namespaces", json::array({{{"type", "pid"}},
                                    {{"type", "ipc"}},
                                    {{"type", "uts"}},
                                    {{"type", "mount"}},
                                    {{"type", "network"}}})},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}},
  };
}

}  // namespace skiff::runtime::oci

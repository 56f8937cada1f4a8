#include "skiff/runtime/oci_spec.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::runtime {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Strings = std::vector<std::string>;

ImageConfig BusyboxImage() {
  ImageConfig image;
  image.cmd = {"sh"};
  image.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  return image;
}

ContainerSpec MinimalSpec() {
  ContainerSpec spec;
  spec.id = "0123456789abcdef0123456789abcdef-app";
  spec.image = "docker.io/library/busybox:latest";
  return spec;
}

json Build(const ContainerSpec& spec, const ImageConfig& image = BusyboxImage(),
           const ResolvedUser& user = {}) {
  absl::StatusOr<std::string> text = BuildOciSpec(spec, image, user);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return json::object();
  return json::parse(*text);
}

absl::Status BuildError(const ContainerSpec& spec, const ImageConfig& image = BusyboxImage()) {
  absl::StatusOr<std::string> text = BuildOciSpec(spec, image, ResolvedUser{});
  EXPECT_FALSE(text.ok());
  return text.status();
}

const json* MountAt(const json& spec, const std::string& destination) {
  for (const json& m : spec["mounts"]) {
    if (m["destination"] == destination) return &m;
  }
  return nullptr;
}

Strings MountDestinations(const json& spec) {
  Strings out;
  for (const json& m : spec["mounts"]) out.push_back(m["destination"]);
  return out;
}

Strings NamespaceTypes(const json& spec) {
  Strings out;
  for (const json& ns : spec["linux"]["namespaces"]) out.push_back(ns["type"]);
  return out;
}

const Strings kDefaultCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",  "CAP_FOWNER",          "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",       "CAP_SETUID",  "CAP_SETFCAP",         "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",            "CAP_SYS_CHROOT", "CAP_KILL",         "CAP_AUDIT_WRITE"};

// --- containerd's defaults ---------------------------------------------------------------------

TEST(OciSpecDefaultsTest, ProcessDefaults) {
  json s = Build(MinimalSpec());
  EXPECT_EQ(s["ociVersion"], "1.0.2-dev");
  EXPECT_EQ(s["root"], (json{{"path", "rootfs"}}));
  const json& p = s["process"];
  EXPECT_EQ(p["terminal"], false);
  EXPECT_EQ(p["cwd"], "/");
  EXPECT_EQ(p["noNewPrivileges"], true);
  EXPECT_EQ(p["user"], (json{{"uid", 0}, {"gid", 0}}));
  EXPECT_EQ(p["capabilities"]["bounding"].get<Strings>(), kDefaultCaps);
  EXPECT_EQ(p["capabilities"]["effective"].get<Strings>(), kDefaultCaps);
  EXPECT_EQ(p["capabilities"]["permitted"].get<Strings>(), kDefaultCaps);
  EXPECT_FALSE(p["capabilities"].contains("inheritable"));
  EXPECT_FALSE(p["capabilities"].contains("ambient"));
  EXPECT_EQ(p["rlimits"],
            json::parse(R"([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])"));
  EXPECT_FALSE(s.contains("hostname"));
}

TEST(OciSpecDefaultsTest, LinuxDefaults) {
  json s = Build(MinimalSpec());
  const json& linux = s["linux"];
  EXPECT_EQ(linux["maskedPaths"].get<Strings>(),
            (Strings{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                     "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                     "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}));
  EXPECT_EQ(linux["readonlyPaths"].get<Strings>(),
            (Strings{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
  const json& devices = linux["resources"]["devices"];
  ASSERT_EQ(devices.size(), 10u);
  EXPECT_EQ(devices[0], json::parse(R"({"allow": false, "access": "rwm"})"));
  EXPECT_EQ(devices[1], json::parse(R"({"allow": true, "type": "c", "major": 1, "minor": 3,
                                        "access": "rwm"})"));
  EXPECT_EQ(devices[8], json::parse(R"({"allow": true, "type": "c", "major": 136,
                                        "access": "rwm"})"));
  EXPECT_EQ(devices[9], json::parse(R"({"allow": true, "type": "c", "major": 5, "minor": 2,
                                        "access": "rwm"})"));
  EXPECT_FALSE(linux.contains("cgroupsPath"));
  EXPECT_FALSE(linux["resources"].contains("cpu"));
  EXPECT_FALSE(linux["resources"].contains("memory"));
}

TEST(OciSpecDefaultsTest, DefaultMounts) {
  ContainerSpec spec = MinimalSpec();
  spec.network = NetworkMode::kNone;  // No resolv.conf/hosts binds.
  json s = Build(spec);
  EXPECT_EQ(MountDestinations(s), (Strings{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                           "/sys", "/sys/fs/cgroup"}));
  EXPECT_EQ(*MountAt(s, "/proc"), json::parse(R"({"destination": "/proc", "type": "proc",
      "source": "proc", "options": ["nosuid", "noexec", "nodev"]})"));
  EXPECT_EQ(*MountAt(s, "/dev"), json::parse(R"({"destination": "/dev", "type": "tmpfs",
      "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]})"));
  EXPECT_EQ((*MountAt(s, "/dev/shm"))["options"].get<Strings>(),
            (Strings{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  EXPECT_THAT((*MountAt(s, "/sys"))["options"].get<Strings>(), Contains("ro"));
  EXPECT_EQ((*MountAt(s, "/sys/fs/cgroup"))["type"], "cgroup");
  EXPECT_THAT((*MountAt(s, "/sys/fs/cgroup"))["options"].get<Strings>(), Contains("ro"));
}

TEST(OciSpecDefaultsTest, NamespacesAndNetworkModes) {
  ContainerSpec spec = MinimalSpec();
  spec.network = NetworkMode::kNone;
  json none = Build(spec);
  EXPECT_EQ(NamespaceTypes(none), (Strings{"pid", "ipc", "uts", "mount", "network"}));
  EXPECT_EQ(MountAt(none, "/etc/resolv.conf"), nullptr);

  spec.network = NetworkMode::kHost;
  json host = Build(spec);
  EXPECT_EQ(NamespaceTypes(host), (Strings{"pid", "ipc", "uts", "mount"}));
  EXPECT_EQ(*MountAt(host, "/etc/resolv.conf"), json::parse(R"({"destination": "/etc/resolv.conf",
      "type": "bind", "source": "/etc/resolv.conf", "options": ["rbind", "ro"]})"));
  EXPECT_EQ(*MountAt(host, "/etc/hosts"), json::parse(R"({"destination": "/etc/hosts",
      "type": "bind", "source": "/etc/hosts", "options": ["rbind", "ro"]})"));
}

TEST(OciSpecDefaultsTest, JoinModeJoinsTheNamedNamespace) {
  ContainerSpec spec = MinimalSpec();
  spec.network = NetworkMode::kJoin;
  spec.netns_path = "/var/lib/skiff/netns/abc-web";
  json s = Build(spec);
  EXPECT_EQ(NamespaceTypes(s), (Strings{"pid", "ipc", "uts", "mount", "network"}));
  for (const json& ns : s["linux"]["namespaces"]) {
    if (ns["type"] == "network") {
      EXPECT_EQ(ns["path"], "/var/lib/skiff/netns/abc-web");
    }
  }
  // The scheduler writes the task's own hosts and resolv.conf; the host's are not bound.
  EXPECT_EQ(MountAt(s, "/etc/resolv.conf"), nullptr);

  spec.netns_path.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(BuildError(spec)));
}

TEST(OciSpecDefaultsTest, HostNetworkLeavesAMountOfTheDefinitionAlone) {
  ContainerSpec spec = MinimalSpec();
  spec.mounts = {{"bind", "/srv/hosts", "/etc/hosts", {"ro"}}};
  json s = Build(spec);
  EXPECT_EQ((*MountAt(s, "/etc/hosts"))["source"], "/srv/hosts");
  const Strings dests = MountDestinations(s);
  EXPECT_EQ(std::count(dests.begin(), dests.end(), "/etc/hosts"), 1);
}

TEST(OciSpecDefaultsTest, CgroupsPathIsCopied) {
  ContainerSpec spec = MinimalSpec();
  spec.cgroups_path = "/skiff/" + spec.id;
  EXPECT_EQ(Build(spec)["linux"]["cgroupsPath"], "/skiff/" + spec.id);
}

// --- process -----------------------------------------------------------------------------------

ImageConfig ImageWithEntrypoint() {
  ImageConfig image;
  image.entrypoint = {"/docker-entrypoint.sh"};
  image.cmd = {"nginx", "-g", "daemon off;"};
  return image;
}

Strings Args(const ContainerSpec& spec, const ImageConfig& image) {
  return Build(spec, image)["process"]["args"].get<Strings>();
}

TEST(OciSpecProcessTest, ArgsCombineLikeDocker) {
  ContainerSpec spec = MinimalSpec();
  ImageConfig image = ImageWithEntrypoint();
  EXPECT_EQ(Args(spec, image), (Strings{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}));

  spec.command = Strings{"nginx", "-T"};  // Command alone: image entrypoint + command.
  EXPECT_EQ(Args(spec, image), (Strings{"/docker-entrypoint.sh", "nginx", "-T"}));

  spec.entrypoint = Strings{"/bin/sh", "-c"};  // Both: ours, nothing of the image's.
  spec.command = Strings{"echo hi"};
  EXPECT_EQ(Args(spec, image), (Strings{"/bin/sh", "-c", "echo hi"}));

  spec.command.reset();  // Entrypoint alone drops the image's Cmd.
  EXPECT_EQ(Args(spec, image), (Strings{"/bin/sh", "-c"}));
}

TEST(OciSpecProcessTest, NothingToRunIsInvalid) {
  ContainerSpec spec = MinimalSpec();
  absl::Status s = BuildError(spec, ImageConfig{});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("command: nothing to run"));
  spec.entrypoint = Strings{};
  EXPECT_EQ(BuildError(spec).code(), absl::StatusCode::kInvalidArgument);
}

TEST(OciSpecProcessTest, InitWrapsTheArgsAndBindsTini) {
  ContainerSpec spec = MinimalSpec();
  spec.init = true;
  spec.command = Strings{"sleep", "1"};
  json s = Build(spec);
  EXPECT_EQ(s["process"]["args"].get<Strings>(),
            (Strings{"/sbin/docker-init", "--", "sleep", "1"}));
  EXPECT_EQ(*MountAt(s, "/sbin/docker-init"), json::parse(R"({"destination": "/sbin/docker-init",
      "type": "bind", "source": "/usr/bin/tini-static", "options": ["rbind", "ro"]})"));
  EXPECT_EQ(MountAt(Build(MinimalSpec()), "/sbin/docker-init"), nullptr);
}

TEST(OciSpecProcessTest, EnvLayersImageThenSpec) {
  ContainerSpec spec = MinimalSpec();
  ImageConfig image;
  image.cmd = {"app"};
  image.env = {"A=image", "B=image"};
  spec.env = {"B=spec", "C=spec"};
  EXPECT_EQ(Build(spec, image)["process"]["env"].get<Strings>(),
            (Strings{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "A=image", "B=spec", "C=spec"}));

  image.env = {"PATH=/opt/bin", "A=image"};
  spec.env = {"A", "PATH=/spec/bin"};  // No '=': unset, as containerd does.
  spec.hostname = "web-1";
  EXPECT_EQ(Build(spec, image)["process"]["env"].get<Strings>(),
            (Strings{"PATH=/spec/bin", "HOSTNAME=web-1"}));
}

TEST(OciSpecProcessTest, WorkingDirectory) {
  ContainerSpec spec = MinimalSpec();
  ImageConfig image = BusyboxImage();
  image.working_dir = "/srv";
  EXPECT_EQ(Build(spec, image)["process"]["cwd"], "/srv");
  spec.working_dir = "/app/./x/../y";
  EXPECT_EQ(Build(spec, image)["process"]["cwd"], "/app/y");

  spec.working_dir = "app";
  absl::Status s = BuildError(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "working_dir: \"app\" must be an absolute path");
  for (const char* bad : {"/proc", "/proc/1/root", "/x/../proc/self"}) {
    spec.working_dir = bad;
    s = BuildError(spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("must not be /proc or under it")) << bad;
  }
  spec.working_dir = "";
  image.working_dir = "/proc/sys";
  EXPECT_THAT(BuildError(spec, image).message(), HasSubstr("image WorkingDir"));
}

TEST(OciSpecProcessTest, User) {
  ResolvedUser user{.uid = 1000, .gid = 50, .additional_gids = {4, 27}};
  json s = Build(MinimalSpec(), BusyboxImage(), user);
  EXPECT_EQ(s["process"]["user"],
            json::parse(R"({"uid": 1000, "gid": 50, "additionalGids": [4, 27]})"));
}

TEST(OciSpecProcessTest, Hostname) {
  ContainerSpec spec = MinimalSpec();
  spec.hostname = "web-1";
  EXPECT_EQ(Build(spec)["hostname"], "web-1");
}

// --- resources ---------------------------------------------------------------------------------

TEST(OciSpecResourcesTest, CpuAndMemory) {
  ContainerSpec spec = MinimalSpec();
  spec.cpu_shares = 512;
  spec.cpu_quota_us = 25000;
  spec.cpu_period_us = 100000;
  spec.memory_limit_bytes = 256 << 20;
  spec.memory_reservation_bytes = 128 << 20;
  spec.memory_swap_bytes = 384 << 20;
  spec.swappiness = 10;
  const json r = Build(spec)["linux"]["resources"];
  EXPECT_EQ(r["cpu"], json::parse(R"({"shares": 512, "quota": 25000, "period": 100000})"));
  EXPECT_EQ(r["memory"], json::parse(R"({"limit": 268435456, "reservation": 134217728,
      "swap": 402653184, "swappiness": 10})"));
}

TEST(OciSpecResourcesTest, SwapNeedsALimitItCovers) {
  ContainerSpec spec = MinimalSpec();
  spec.memory_swap_bytes = 1 << 20;
  EXPECT_THAT(BuildError(spec).message(), HasSubstr("memory_swap_bytes"));
  spec.memory_limit_bytes = 2 << 20;
  EXPECT_EQ(BuildError(spec).code(), absl::StatusCode::kInvalidArgument);
  spec.swappiness = 101;
  spec.memory_swap_bytes = 2 << 20;  // Equal to the limit: no swap at all.
  EXPECT_THAT(BuildError(spec).message(), HasSubstr("swappiness"));
  spec.swappiness = 0;
  EXPECT_EQ(Build(spec)["linux"]["resources"]["memory"]["swap"], 2 << 20);
}

TEST(OciSpecResourcesTest, Ulimits) {
  ContainerSpec spec = MinimalSpec();
  spec.ulimits = {{"nofile", 4096, 8192}, {"nproc", 100, 200}, {"core", 0, 0},
                  {"memlock", 1, 2}, {"stack", 3, 4}};
  EXPECT_EQ(Build(spec)["process"]["rlimits"], json::parse(R"([
      {"type": "RLIMIT_NOFILE", "hard": 8192, "soft": 4096},
      {"type": "RLIMIT_NPROC", "hard": 200, "soft": 100},
      {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
      {"type": "RLIMIT_MEMLOCK", "hard": 2, "soft": 1},
      {"type": "RLIMIT_STACK", "hard": 4, "soft": 3}])"));

  spec.ulimits = {{"nofile", 1, 1}, {"bogus", 1, 1}};
  EXPECT_EQ(BuildError(spec).message(), "ulimits[1].name: unknown ulimit \"bogus\"");
  spec.ulimits = {{"nofile", 2, 1}};
  EXPECT_EQ(BuildError(spec).code(), absl::StatusCode::kInvalidArgument);
}

TEST(OciSpecResourcesTest, ShmSize) {
  ContainerSpec spec = MinimalSpec();
  spec.shm_size_bytes = int64_t{256} << 20;
  EXPECT_EQ((*MountAt(Build(spec), "/dev/shm"))["options"].get<Strings>(),
            (Strings{"nosuid", "noexec", "nodev", "mode=1777", "size=262144k"}));
}

// --- security ----------------------------------------------------------------------------------

TEST(OciSpecSecurityTest, ReadonlyRootfs) {
  ContainerSpec spec = MinimalSpec();
  spec.readonly_rootfs = true;
  EXPECT_EQ(Build(spec)["root"], json::parse(R"({"path": "rootfs", "readonly": true})"));
}

Strings Caps(const ContainerSpec& spec) {
  json s = Build(spec);
  const json& caps = s["process"]["capabilities"];
  EXPECT_EQ(caps["bounding"], caps["effective"]);
  EXPECT_EQ(caps["bounding"], caps["permitted"]);
  return caps["bounding"].get<Strings>();
}

TEST(OciSpecSecurityTest, CapAddAndDrop) {
  ContainerSpec spec = MinimalSpec();
  spec.cap_add = {"NET_ADMIN", "CAP_SYS_TIME", "net_admin"};
  spec.cap_drop = {"MKNOD", "CAP_NET_RAW"};
  Strings caps = Caps(spec);
  EXPECT_THAT(caps, Contains("CAP_NET_ADMIN"));
  EXPECT_THAT(caps, Contains("CAP_SYS_TIME"));
  EXPECT_THAT(caps, Not(Contains("CAP_MKNOD")));
  EXPECT_THAT(caps, Not(Contains("CAP_NET_RAW")));
  EXPECT_EQ(caps.size(), kDefaultCaps.size());  // +2 -2, the duplicate added once.

  spec.cap_add = {"NET_ADMIN"};
  spec.cap_drop = {"ALL"};
  EXPECT_THAT(Caps(spec), ElementsAre("CAP_NET_ADMIN"));

  spec.cap_add = {"ALL"};
  spec.cap_drop = {"SYS_ADMIN"};
  caps = Caps(spec);
  EXPECT_EQ(caps.size(), 40u);
  EXPECT_THAT(caps, Not(Contains("CAP_SYS_ADMIN")));
  EXPECT_THAT(caps, Contains("CAP_CHECKPOINT_RESTORE"));
}

TEST(OciSpecSecurityTest, UnknownCapabilityIsNamed) {
  ContainerSpec spec = MinimalSpec();
  spec.cap_add = {"NET_ADMIN", "FLY"};
  absl::Status s = BuildError(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "cap_add[1]: unknown capability \"FLY\"");
  spec.cap_add.clear();
  spec.cap_drop = {"CAP_NOPE"};
  EXPECT_EQ(BuildError(spec).message(), "cap_drop[0]: unknown capability \"CAP_NOPE\"");
}

TEST(OciSpecSecurityTest, Privileged) {
  ContainerSpec spec = MinimalSpec();
  spec.privileged = true;
  spec.cap_drop = {"CHOWN"};  // Ignored under privileged, as Docker does.
  json s = Build(spec);
  Strings caps = s["process"]["capabilities"]["bounding"].get<Strings>();
  EXPECT_EQ(caps.size(), 41u);
  EXPECT_EQ(caps.front(), "CAP_CHOWN");
  EXPECT_EQ(caps.back(), "CAP_CHECKPOINT_RESTORE");
  EXPECT_EQ(s["process"]["capabilities"]["effective"].size(), 41u);
  EXPECT_EQ(s["process"]["noNewPrivileges"], false);
  EXPECT_FALSE(s["linux"].contains("maskedPaths"));
  EXPECT_FALSE(s["linux"].contains("readonlyPaths"));
  EXPECT_EQ(s["linux"]["resources"]["devices"],
            json::parse(R"([{"allow": true, "access": "rwm"}])"));
  EXPECT_EQ(*MountAt(s, "/dev"), json::parse(R"({"destination": "/dev", "type": "bind",
      "source": "/dev", "options": ["rbind", "rw"]})"));
  EXPECT_THAT((*MountAt(s, "/sys"))["options"].get<Strings>(), Contains("rw"));
  EXPECT_THAT((*MountAt(s, "/sys"))["options"].get<Strings>(), Not(Contains("ro")));
  EXPECT_THAT((*MountAt(s, "/sys/fs/cgroup"))["options"].get<Strings>(), Not(Contains("ro")));
}

// A host whose bounding set lacks CAP_SYS_RESOURCE (24), as some sandboxes: runc could not
// grant it and the start failed with "unable to apply caps". "All" means all the host holds.
TEST(OciSpecSecurityTest, PrivilegedAndAddAllGetOnlyTheHostsCapabilities) {
  const uint64_t host = ((uint64_t{1} << 41) - 1) & ~(uint64_t{1} << 24);
  ContainerSpec spec = MinimalSpec();
  spec.privileged = true;
  absl::StatusOr<std::string> text = BuildOciSpec(spec, BusyboxImage(), {}, host);
  ASSERT_TRUE(text.ok()) << text.status();
  json s = json::parse(*text);
  for (const char* set : {"bounding", "effective", "permitted"}) {
    Strings caps = s["process"]["capabilities"][set].get<Strings>();
    EXPECT_EQ(caps.size(), 40u) << set;
    EXPECT_THAT(caps, Not(Contains("CAP_SYS_RESOURCE"))) << set;
    EXPECT_THAT(caps, Contains("CAP_SYS_ADMIN")) << set;
  }
  spec.privileged = false;
  spec.cap_add = {"ALL"};
  spec.cap_drop = {"NET_RAW"};
  text = BuildOciSpec(spec, BusyboxImage(), {}, host);
  ASSERT_TRUE(text.ok()) << text.status();
  Strings caps = json::parse(*text)["process"]["capabilities"]["effective"].get<Strings>();
  EXPECT_EQ(caps.size(), 39u);
  EXPECT_THAT(caps, Not(Contains("CAP_SYS_RESOURCE")));
  EXPECT_THAT(caps, Not(Contains("CAP_NET_RAW")));
  // What the definition names explicitly is not filtered: runc's error then names the problem.
  spec.cap_add = {"SYS_RESOURCE"};
  spec.cap_drop.clear();
  text = BuildOciSpec(spec, BusyboxImage(), {}, host);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(json::parse(*text)["process"]["capabilities"]["effective"].get<Strings>(),
              Contains("CAP_SYS_RESOURCE"));
}

// --- mounts ------------------------------------------------------------------------------------

TEST(OciSpecMountsTest, AppendedInOrder) {
  ContainerSpec spec = MinimalSpec();
  spec.network = NetworkMode::kNone;
  spec.mounts = {{"bind", "/var/lib/skiff/volumes/data", "/data", {"ro"}},
                 {"tmpfs", "tmpfs", "/scratch", {"size=65536k", "noexec"}},
                 {"bind", "/srv/www", "/usr/share/nginx/html", {}}};
  json s = Build(spec);
  Strings dests = MountDestinations(s);
  EXPECT_THAT(Strings(dests.end() - 3, dests.end()),
              ElementsAre("/data", "/scratch", "/usr/share/nginx/html"));
  EXPECT_EQ(*MountAt(s, "/data"), json::parse(R"({"destination": "/data", "type": "bind",
      "source": "/var/lib/skiff/volumes/data", "options": ["rbind", "ro"]})"));
  EXPECT_EQ(*MountAt(s, "/scratch"), json::parse(R"({"destination": "/scratch", "type": "tmpfs",
      "source": "tmpfs", "options": ["size=65536k", "noexec"]})"));
  EXPECT_EQ((*MountAt(s, "/usr/share/nginx/html"))["options"].get<Strings>(),
            (Strings{"rbind", "rw"}));
}

TEST(OciSpecMountsTest, UnsafeDestinationsAreNamed) {
  for (const char* bad : {"/proc", "/proc/sys", "//proc/", "/data/../proc/x"}) {
    ContainerSpec spec = MinimalSpec();
    spec.mounts = {{"bind", "/srv", "/ok", {}}, {"tmpfs", "tmpfs", bad, {}}};
    absl::Status s = BuildError(spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("mounts[1].destination: \"")) << bad;
  }
  ContainerSpec spec = MinimalSpec();
  spec.mounts = {{"bind", "/srv", "data", {}}};
  EXPECT_EQ(BuildError(spec).message(),
            "mounts[0].destination: \"data\" must be an absolute path");
  spec.mounts = {{"bind", "/srv", "/", {}}};
  EXPECT_EQ(BuildError(spec).code(), absl::StatusCode::kInvalidArgument);
  spec.mounts = {{"bind", "srv", "/data", {}}};
  EXPECT_EQ(BuildError(spec).message(),
            "mounts[0].source: \"srv\" must be an absolute host path");
  spec.mounts = {{"nfs", "x", "/data", {}}};
  EXPECT_THAT(BuildError(spec).message(), HasSubstr("mounts[0].type"));
  // A destination that only looks like one of them is fine.
  spec.mounts = {{"bind", "/srv", "/procedures", {}}};
  EXPECT_NE(MountAt(Build(spec), "/procedures"), nullptr);
  // /sys and /dev take mounts, as on Docker and ECS (AWS's CloudWatch agent, the ECS agent's
  // tmpfs test); they come after the runtime's own, so they are what the container sees.
  spec.mounts = {{"bind", "/sys/fs/cgroup", "/sys/fs/cgroup", {"ro"}},
                 {"tmpfs", "tmpfs", "/dev/tmpfs", {}}};
  const Strings dests = MountDestinations(Build(spec));
  const auto cgroup = std::find(dests.begin(), dests.end(), "/sys/fs/cgroup");
  ASSERT_NE(cgroup, dests.end());
  // The runtime's cgroup mount, then the task's bind over it, then the tmpfs.
  EXPECT_THAT(Strings(cgroup, dests.end()),
              ::testing::IsSupersetOf({"/sys/fs/cgroup", "/dev/tmpfs"}));
  EXPECT_EQ(std::count(dests.begin(), dests.end(), "/sys/fs/cgroup"), 2);
}

TEST(OciSpecMountsTest, ImageConfigNeverMountsTheHost) {
  ImageConfig image = BusyboxImage();
  image.labels["com.example.volume"] = "/var/lib/data";  // Volumes are not even in ImageConfig.
  ContainerSpec spec = MinimalSpec();
  spec.network = NetworkMode::kNone;
  const json oci = Build(spec, image);  // Iterating a member of a temporary would dangle.
  for (const json& m : oci["mounts"]) {
    EXPECT_NE(m["type"], "bind") << m.dump();
  }
}

// --- exec --------------------------------------------------------------------------------------

TEST(ExecProcessSpecTest, TakesTheContainersProcess) {
  ContainerSpec spec = MinimalSpec();
  spec.working_dir = "/srv";
  spec.env = {"A=1"};
  spec.ulimits = {{"nofile", 10, 20}};
  spec.cap_add = {"NET_ADMIN"};
  spec.init = true;
  const json container = Build(spec, BusyboxImage(), ResolvedUser{.uid = 7, .gid = 8});
  absl::StatusOr<std::string> text = BuildExecProcessSpec(container.dump(), {"ls", "-l"});
  ASSERT_TRUE(text.ok()) << text.status();
  json p = json::parse(*text);
  EXPECT_EQ(p["args"].get<Strings>(), (Strings{"ls", "-l"}));
  EXPECT_EQ(p["terminal"], false);
  EXPECT_EQ(p["cwd"], "/srv");
  EXPECT_EQ(p["user"], container["process"]["user"]);
  EXPECT_EQ(p["env"], container["process"]["env"]);
  EXPECT_EQ(p["capabilities"], container["process"]["capabilities"]);
  EXPECT_EQ(p["rlimits"], container["process"]["rlimits"]);
  EXPECT_EQ(p["noNewPrivileges"], true);
}

TEST(ExecProcessSpecTest, ATerminalHasItsSizeAndATerm) {
  const std::string container =
      R"({"process": {"env": ["PATH=/bin"], "cwd": "/", "args": ["sleep", "9"]}})";
  absl::StatusOr<std::string> text = BuildExecProcessSpec(
      container, {"sh"}, {.tty = true, .window = {.columns = 132, .rows = 43}});
  ASSERT_TRUE(text.ok()) << text.status();
  json p = json::parse(*text);
  EXPECT_EQ(p["terminal"], true);
  EXPECT_EQ(p["consoleSize"], json::parse(R"({"width": 132, "height": 43})"));
  EXPECT_EQ(p["env"].get<Strings>(), (Strings{"PATH=/bin", "TERM=xterm"}));

  // The container's own TERM stays; an unknown size is left to the runtime.
  text = BuildExecProcessSpec(R"({"process": {"env": ["TERM=vt100"]}})", {"sh"}, {.tty = true});
  ASSERT_TRUE(text.ok()) << text.status();
  p = json::parse(*text);
  EXPECT_EQ(p["env"].get<Strings>(), (Strings{"TERM=vt100"}));
  EXPECT_FALSE(p.contains("consoleSize"));
  // Without a terminal nothing is added.
  text = BuildExecProcessSpec(container, {"sh"}, {.tty = false});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(json::parse(*text)["env"].get<Strings>(), (Strings{"PATH=/bin"}));
}

TEST(ExecProcessSpecTest, RejectsBadInput) {
  EXPECT_EQ(BuildExecProcessSpec("{}", {"ls"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildExecProcessSpec("not json", {"ls"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildExecProcessSpec(R"({"process": {}})", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::runtime

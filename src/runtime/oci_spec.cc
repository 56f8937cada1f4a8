// BuildOciSpec: containerd's default spec (oci_defaults.h), then the image config, then the
// ContainerSpec, in the order Docker applies them. Each Apply* function owns one part of the spec.
#include "skiff/runtime/oci_spec.h"

#include <algorithm>
#include <string>
#include <vector>

#include "skiff/base/paths.h"
#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "oci_defaults.h"
#include "skiff/base/status_macros.h"

namespace skiff::runtime {
namespace {

using nlohmann::json;

// Where the host's tini (Debian package tini) is, and where Docker puts its init in a container.
constexpr char kHostInit[] = "/usr/bin/tini-static";
constexpr char kContainerInit[] = "/sbin/docker-init";

absl::Status Invalid(absl::string_view setting, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(setting, ": ", message));
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

// Mount destinations: /proc is the container's own procfs, which runc refuses to mount over (a
// bind of the host's /proc onto /proc/sys would expose the host). /sys and /dev take mounts as
// on Docker and ECS (model::ContainerMountPathProblem says why); the masked paths there stay
// masked, since runc masks them after the mounts.
absl::StatusOr<std::string> CheckedDestination(absl::string_view setting, absl::string_view path) {
  if (!absl::StartsWith(path, "/")) {
    return Invalid(setting, absl::StrCat(Quote(path), " must be an absolute path"));
  }
  std::string clean = CleanAbsolutePath(path);
  if (clean == "/") return Invalid(setting, "must not be the container's root directory");
  if (IsAtOrUnder(clean, "/proc")) {
    return Invalid(setting, absl::StrCat(Quote(path), " must not be /proc or under it"));
  }
  return clean;
}

absl::StatusOr<std::string> CheckedWorkingDir(absl::string_view setting, absl::string_view dir) {
  if (!absl::StartsWith(dir, "/")) {
    return Invalid(setting, absl::StrCat(Quote(dir), " must be an absolute path"));
  }
  std::string clean = CleanAbsolutePath(dir);
  if (IsAtOrUnder(clean, "/proc")) {
    return Invalid(setting, absl::StrCat(Quote(dir), " must not be /proc or under it"));
  }
  return clean;
}

absl::string_view EnvKey(absl::string_view entry) {
  return entry.substr(0, entry.find('='));
}

// containerd's replaceOrAppendEnvValues: an override replaces the entry with its key in place
// (so the image's order stays), or is appended; an override without '=' unsets the key.
void MergeEnv(const std::vector<std::string>& overrides, std::vector<std::string>* env) {
  for (const std::string& entry : overrides) {
    auto same_key = [&](const std::string& have) { return EnvKey(have) == EnvKey(entry); };
    auto it = std::find_if(env->begin(), env->end(), same_key);
    if (!absl::StrContains(entry, '=')) {
      if (it != env->end()) env->erase(it);
    } else if (it != env->end()) {
      *it = entry;
    } else {
      env->push_back(entry);
    }
  }
}

// Docker's and ECS's rule: an entryPoint replaces the image's Entrypoint and drops its Cmd; a
// command alone replaces only the Cmd.
absl::StatusOr<std::vector<std::string>> ProcessArgs(const ContainerSpec& spec,
                                                     const ImageConfig& image) {
  std::vector<std::string> args;
  if (spec.entrypoint) {
    args = *spec.entrypoint;
    if (spec.command) args.insert(args.end(), spec.command->begin(), spec.command->end());
  } else if (spec.command) {
    args = image.entrypoint;
    args.insert(args.end(), spec.command->begin(), spec.command->end());
  } else {
    args = image.entrypoint;
    args.insert(args.end(), image.cmd.begin(), image.cmd.end());
  }
  if (args.empty()) {
    return Invalid("command", "nothing to run: no entryPoint or command is set and the image "
                              "has no Entrypoint or Cmd");
  }
  if (spec.init) args.insert(args.begin(), {kContainerInit, "--"});
  return args;
}

absl::Status ApplyProcess(const ContainerSpec& spec, const ImageConfig& image,
                          const ResolvedUser& user, json* process) {
  SKIFF_ASSIGN_OR_RETURN((*process)["args"], ProcessArgs(spec, image));
  // Docker's order: default PATH, HOSTNAME, the image's env, then the container's.
  std::vector<std::string> env = {oci::kDefaultPath};
  if (!spec.hostname.empty()) env.push_back(absl::StrCat("HOSTNAME=", spec.hostname));
  MergeEnv(image.env, &env);
  MergeEnv(spec.env, &env);
  (*process)["env"] = env;

  std::string cwd = "/";
  if (!spec.working_dir.empty()) {
    SKIFF_ASSIGN_OR_RETURN(cwd, CheckedWorkingDir("working_dir", spec.working_dir));
  } else if (!image.working_dir.empty()) {
    SKIFF_ASSIGN_OR_RETURN(cwd, CheckedWorkingDir("image WorkingDir", image.working_dir));
  }
  (*process)["cwd"] = cwd;

  json& u = (*process)["user"];
  u = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) u["additionalGids"] = user.additional_gids;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> CanonicalCapabilities(
    absl::string_view setting, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (size_t i = 0; i < names.size(); ++i) {
    std::optional<std::string> cap = oci::CanonicalCapability(names[i]);
    if (!cap) {
      return Invalid(absl::StrCat(setting, "[", i, "]"),
                     absl::StrCat("unknown capability ", Quote(names[i])));
    }
    out.push_back(*std::move(cap));
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, absl::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Docker's TweakCapabilities: privileged gets everything; add ALL means all but the dropped ones;
// drop ALL means only the added ones; otherwise the defaults minus drops plus adds.
absl::Status ApplyCapabilities(const ContainerSpec& spec, uint64_t host_capabilities,
                               json* process) {
  SKIFF_ASSIGN_OR_RETURN(auto add, CanonicalCapabilities("cap_add", spec.cap_add));
  SKIFF_ASSIGN_OR_RETURN(auto drop, CanonicalCapabilities("cap_drop", spec.cap_drop));
  std::vector<std::string> caps;
  if (spec.privileged) {
    caps = oci::AllCapabilities(host_capabilities);
  } else if (Contains(add, "ALL")) {
    for (std::string& cap : oci::AllCapabilities(host_capabilities)) {
      if (!Contains(drop, cap)) caps.push_back(std::move(cap));
    }
  } else {
    if (!Contains(drop, "ALL")) {
      for (std::string& cap : oci::DefaultCapabilities()) {
        if (!Contains(drop, cap)) caps.push_back(std::move(cap));
      }
    }
    for (std::string& cap : add) {
      if (!Contains(caps, cap)) caps.push_back(std::move(cap));
    }
  }
  (*process)["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  return absl::OkStatus();
}

absl::Status ApplyRlimits(const std::vector<UlimitSpec>& ulimits, json* process) {
  json& rlimits = (*process)["rlimits"];
  for (size_t i = 0; i < ulimits.size(); ++i) {
    const UlimitSpec& u = ulimits[i];
    std::optional<std::string> type = oci::RlimitType(u.name);
    if (!type) {
      return Invalid(absl::StrCat("ulimits[", i, "].name"),
                     absl::StrCat("unknown ulimit ", Quote(u.name)));
    }
    if (u.soft > u.hard) {
      return Invalid(absl::StrCat("ulimits[", i, "]"), "soft limit exceeds hard limit");
    }
    json limit = {{"type", *type}, {"hard", u.hard}, {"soft", u.soft}};
    auto same = std::find_if(rlimits.begin(), rlimits.end(),
                             [&](const json& r) { return r["type"] == *type; });
    if (same != rlimits.end()) {
      *same = std::move(limit);  // nofile replaces containerd's default of 1024.
    } else {
      rlimits.push_back(std::move(limit));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyResources(const ContainerSpec& spec, json* resources) {
  if (spec.cpu_shares > 0) (*resources)["cpu"]["shares"] = spec.cpu_shares;
  if (spec.cpu_quota_us > 0 && spec.cpu_period_us > 0) {
    (*resources)["cpu"]["quota"] = spec.cpu_quota_us;
    (*resources)["cpu"]["period"] = spec.cpu_period_us;
  }
  if (spec.memory_limit_bytes < 0 || spec.memory_reservation_bytes < 0) {
    return Invalid("memory", "limits must not be negative");
  }
  if (spec.memory_limit_bytes > 0) (*resources)["memory"]["limit"] = spec.memory_limit_bytes;
  if (spec.memory_reservation_bytes > 0) {
    (*resources)["memory"]["reservation"] = spec.memory_reservation_bytes;
  }
  if (spec.memory_swap_bytes) {
    // The cgroup's memsw limit counts memory plus swap, so it needs and must cover the limit.
    if (spec.memory_limit_bytes <= 0 || *spec.memory_swap_bytes < spec.memory_limit_bytes) {
      return Invalid("memory_swap_bytes", "needs a memory limit and must be at least that limit");
    }
    (*resources)["memory"]["swap"] = *spec.memory_swap_bytes;
  }
  if (spec.swappiness) {
    if (*spec.swappiness > 100) return Invalid("swappiness", "must be between 0 and 100");
    (*resources)["memory"]["swappiness"] = *spec.swappiness;
  }
  return absl::OkStatus();
}

json* FindMount(json* mounts, absl::string_view destination) {
  for (json& m : *mounts) {
    if (m["destination"] == std::string(destination)) return &m;
  }
  return nullptr;
}

void ReplaceOption(json* mount, absl::string_view prefix, const std::string& option) {
  json& options = (*mount)["options"];
  json kept = json::array();
  for (const json& o : options) {
    if (!absl::StartsWith(o.get<std::string>(), prefix)) kept.push_back(o);
  }
  kept.push_back(option);
  options = std::move(kept);
}

// Privileged is Docker's --privileged: every capability, every device, no masking, writable /sys
// and cgroupfs, and the host's /dev instead of the minimal tmpfs one.
void ApplyPrivileged(json* spec) {
  json& linux = (*spec)["linux"];
  linux.erase("maskedPaths");
  linux.erase("readonlyPaths");
  linux["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
  json& mounts = (*spec)["mounts"];
  for (const char* dest : {"/sys", "/sys/fs/cgroup"}) {
    for (json& option : (*FindMount(&mounts, dest))["options"]) {
      if (option == "ro") option = "rw";
    }
  }
  *FindMount(&mounts, "/dev") = {
      {"destination", "/dev"}, {"type", "bind"}, {"source", "/dev"}, {"options", {"rbind", "rw"}}};
  (*spec)["process"]["noNewPrivileges"] = false;
}

json Bind(const std::string& source, const std::string& destination, const std::string& mode) {
  return {{"destination", destination},
          {"type", "bind"},
          {"source", source},
          {"options", {"rbind", mode}}};
}

absl::Status AppendMounts(const ContainerSpec& spec, json* mounts) {
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const MountSpec& m = spec.mounts[i];
    const std::string setting = absl::StrCat("mounts[", i, "]");
    SKIFF_ASSIGN_OR_RETURN(std::string destination,
                           CheckedDestination(setting + ".destination", m.destination));
    std::vector<std::string> options = m.options;
    if (m.type == "bind") {
      if (!absl::StartsWith(m.source, "/")) {
        return Invalid(setting + ".source", absl::StrCat(Quote(m.source),
                                                         " must be an absolute host path"));
      }
      // Recursive by default, as Docker binds volumes; writable unless asked otherwise.
      if (!Contains(options, "bind") && !Contains(options, "rbind")) {
        options.insert(options.begin(), "rbind");
      }
      if (!Contains(options, "ro") && !Contains(options, "rw")) options.push_back("rw");
      mounts->push_back({{"destination", destination},
                         {"type", "bind"},
                         {"source", m.source},
                         {"options", options}});
    } else if (m.type == "tmpfs") {
      mounts->push_back({{"destination", destination},
                         {"type", "tmpfs"},
                         {"source", "tmpfs"},
                         {"options", options}});
    } else {
      return Invalid(setting + ".type", absl::StrCat("unknown mount type ", Quote(m.type),
                                                     "; use bind or tmpfs"));
    }
  }
  if (spec.init) mounts->push_back(Bind(kHostInit, kContainerInit, "ro"));
  if (spec.network == NetworkMode::kHost) {
    // docker --network host: the container resolves names as the host does. A mount the
    // definition puts there wins, as in Docker.
    for (const char* file : {"/etc/resolv.conf", "/etc/hosts"}) {
      if (FindMount(mounts, file) == nullptr) mounts->push_back(Bind(file, file, "ro"));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyNetwork(const ContainerSpec& spec, json* linux) {
  if (spec.network == NetworkMode::kNone) return absl::OkStatus();  // A new namespace: only lo.
  if (spec.network == NetworkMode::kJoin && spec.netns_path.empty()) {
    return Invalid("netns_path", "required to join a network namespace");
  }
  json& namespaces = (*linux)["namespaces"];
  json kept = json::array();
  for (const json& ns : namespaces) {
    if (ns["type"] != "network") kept.push_back(ns);
  }
  if (spec.network == NetworkMode::kJoin) {
    kept.push_back({{"type", "network"}, {"path", spec.netns_path}});
  }
  namespaces = std::move(kept);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BuildOciSpec(const ContainerSpec& spec, const ImageConfig& image,
                                         const ResolvedUser& user, uint64_t host_capabilities) {
  json s = oci::DefaultSpec();
  json& process = s["process"];
  SKIFF_RETURN_IF_ERROR(ApplyProcess(spec, image, user, &process));
  SKIFF_RETURN_IF_ERROR(ApplyCapabilities(spec, host_capabilities, &process));
  SKIFF_RETURN_IF_ERROR(ApplyRlimits(spec.ulimits, &process));
  if (!spec.hostname.empty()) s["hostname"] = spec.hostname;
  if (spec.readonly_rootfs) s["root"]["readonly"] = true;
  SKIFF_RETURN_IF_ERROR(ApplyResources(spec, &s["linux"]["resources"]));
  if (spec.shm_size_bytes < 0) return Invalid("shm_size_bytes", "must not be negative");
  if (spec.shm_size_bytes > 0) {
    // Whole KiB when possible, as containerd writes it; tmpfs takes bytes too.
    ReplaceOption(FindMount(&s["mounts"], "/dev/shm"), "size=",
                  spec.shm_size_bytes % 1024 == 0
                      ? absl::StrCat("size=", spec.shm_size_bytes / 1024, "k")
                      : absl::StrCat("size=", spec.shm_size_bytes));
  }
  if (spec.privileged) ApplyPrivileged(&s);
  SKIFF_RETURN_IF_ERROR(AppendMounts(spec, &s["mounts"]));
  SKIFF_RETURN_IF_ERROR(ApplyNetwork(spec, &s["linux"]));
  if (!spec.cgroups_path.empty()) s["linux"]["cgroupsPath"] = spec.cgroups_path;
  return s.dump();
}

absl::StatusOr<std::string> BuildExecProcessSpec(const std::string& container_spec_json,
                                                 const std::vector<std::string>& argv,
                                                 const ExecSessionOptions& options) {
  if (argv.empty()) return Invalid("command", "must not be empty");
  json spec = json::parse(container_spec_json, nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded() || !spec.is_object() || !spec.contains("process") ||
      !spec["process"].is_object()) {
    return absl::InvalidArgumentError("container spec: not an OCI runtime spec with a process");
  }
  const json& from = spec["process"];
  // The exec runs as the container's process does, with the same limits and privileges; only
  // what to run and the terminal differ.
  json process = {{"terminal", false}, {"args", argv}};
  for (const char* key : {"user", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges",
                          "apparmorProfile", "selinuxLabel", "oomScoreAdj"}) {
    if (from.contains(key)) process[key] = from[key];
  }
  if (!process.contains("cwd")) process["cwd"] = "/";
  if (options.tty) {
    process["terminal"] = true;
    if (options.window.columns > 0 && options.window.rows > 0) {
      process["consoleSize"] = {{"width", options.window.columns},
                                {"height", options.window.rows}};
    }
    if (!process.contains("env") || !process["env"].is_array()) process["env"] = json::array();
    const bool has_term = absl::c_any_of(process["env"], [](const json& e) {
      return e.is_string() && absl::StartsWith(e.get<std::string>(), "TERM=");
    });
    if (!has_term) process["env"].push_back("TERM=xterm");
  }
  return process.dump();
}

}  // namespace skiff::runtime

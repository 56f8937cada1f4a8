// User and group resolution against the image's /etc/passwd and /etc/group, with the semantics of
// runc's libcontainer/user.GetExecUser, which Docker (and so ECS) uses:
//   - "" means root (uid 0), looked up in passwd like any other uid;
//   - a numeric user is always a uid, never a name; with a passwd entry it takes that entry's
//     primary gid and name, without one it keeps gid 0;
//   - a name must have a passwd entry;
//   - an explicit group (":gid" or ":name") sets the primary gid and then no supplementary groups
//     are added; without one, the supplementary groups are the /etc/group entries that list the
//     matched user's name.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "skiff/runtime/oci_spec.h"

namespace skiff::runtime {
namespace {

constexpr uint64_t kMaxId = (uint64_t{1} << 31) - 1;  // runc's maxID.

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// A decimal id; nullopt for anything else (names, signs, spaces). Ranges are checked apart.
std::optional<uint64_t> ParseDecimal(absl::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return std::nullopt;
  return value;
}

// The entries of an /etc/passwd or /etc/group file: colon-separated lines, blank lines and
// comments skipped, malformed lines (too few fields, non-numeric ids) ignored as libc does.
std::vector<std::vector<absl::string_view>> Records(absl::string_view text, size_t min_fields) {
  std::vector<std::vector<absl::string_view>> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() >= min_fields) out.push_back(std::move(fields));
  }
  return out;
}

std::vector<PasswdEntry> ParsePasswd(absl::string_view text) {
  std::vector<PasswdEntry> out;
  for (const auto& f : Records(text, 4)) {  // name:password:uid:gid[:gecos:home:shell]
    std::optional<uint64_t> uid = ParseDecimal(f[2]);
    std::optional<uint64_t> gid = ParseDecimal(f[3]);
    if (!uid || !gid || *uid > UINT32_MAX || *gid > UINT32_MAX) continue;
    out.push_back({std::string(f[0]), static_cast<uint32_t>(*uid), static_cast<uint32_t>(*gid)});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(absl::string_view text) {
  std::vector<GroupEntry> out;
  for (const auto& f : Records(text, 3)) {  // name:password:gid[:member,member]
    std::optional<uint64_t> gid = ParseDecimal(f[2]);
    if (!gid || *gid > UINT32_MAX) continue;
    GroupEntry g{std::string(f[0]), static_cast<uint32_t>(*gid), {}};
    if (f.size() > 3) {
      for (absl::string_view m : absl::StrSplit(f[3], ',', absl::SkipWhitespace())) {
        g.members.emplace_back(absl::StripAsciiWhitespace(m));
      }
    }
    out.push_back(std::move(g));
  }
  return out;
}

absl::Status BadUser(absl::string_view user, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("user \"", user, "\": ", why));
}

}  // namespace

bool UserNeedsAccounts(const std::string& user) {
  // Only "uid:gid" resolves the same whatever the image holds: every other form takes a primary
  // gid, a name or supplementary groups from the files ("" and a bare uid included, since their
  // passwd entry gives the gid and the group memberships, as with Docker).
  std::vector<absl::string_view> parts = absl::StrSplit(user, absl::MaxSplits(':', 1));
  return !(parts.size() == 2 && ParseDecimal(parts[0]) && ParseDecimal(parts[1]));
}

absl::StatusOr<ResolvedUser> ResolveUser(const std::string& user, const ImageAccounts& accounts) {
  std::vector<absl::string_view> parts = absl::StrSplit(user, ':');
  if (parts.size() > 2) return BadUser(user, "must be user, user:group or empty");
  const absl::string_view user_arg = parts[0];
  const absl::string_view group_arg = parts.size() == 2 ? parts[1] : absl::string_view();
  const std::optional<uint64_t> uid_arg = ParseDecimal(user_arg);
  const std::optional<uint64_t> gid_arg = ParseDecimal(group_arg);
  if (uid_arg && *uid_arg > kMaxId) {
    return BadUser(user, absl::StrCat("uid ", user_arg, " is outside 0..", kMaxId));
  }
  if (gid_arg && *gid_arg > kMaxId) {
    return BadUser(user, absl::StrCat("gid ", group_arg, " is outside 0..", kMaxId));
  }

  ResolvedUser out;
  std::optional<std::string> matched_name;
  for (const PasswdEntry& e : ParsePasswd(accounts.passwd)) {
    const bool match = user_arg.empty() ? e.uid == 0
                       : uid_arg        ? e.uid == *uid_arg
                                        : e.name == user_arg;
    if (!match) continue;
    matched_name = e.name;  // First match wins, as with runc.
    out.uid = e.uid;
    out.gid = e.gid;
    break;
  }
  if (!matched_name && !user_arg.empty()) {
    if (!uid_arg) return BadUser(user, "no such user in the image's /etc/passwd");
    out.uid = static_cast<uint32_t>(*uid_arg);  // A uid without an entry keeps gid 0.
  }

  const std::vector<GroupEntry> groups = ParseGroup(accounts.group);
  if (!group_arg.empty()) {
    bool found = false;
    for (const GroupEntry& g : groups) {
      if (gid_arg ? g.gid == *gid_arg : g.name == group_arg) {
        out.gid = g.gid;
        found = true;
        break;
      }
    }
    if (!found) {
      if (!gid_arg) return BadUser(user, "no such group in the image's /etc/group");
      out.gid = static_cast<uint32_t>(*gid_arg);
    }
    return out;  // An explicit group means no supplementary groups (runc).
  }
  if (matched_name) {
    for (const GroupEntry& g : groups) {
      for (const std::string& member : g.members) {
        if (member != *matched_name) continue;
        bool seen = false;
        for (uint32_t have : out.additional_gids) seen |= have == g.gid;
        if (!seen) out.additional_gids.push_back(g.gid);
        break;
      }
    }
  }
  return out;
}

}  // namespace skiff::runtime

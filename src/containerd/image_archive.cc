#include "containerd/image_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace skiff::runtime {
namespace {

constexpr int64_t kBlockSize = 512;
// Links are followed at most this many times in Find(); more is a loop or an attack.
constexpr int kMaxLinkHops = 8;

// Offsets of the ustar header fields we read.
constexpr size_t kNameOffset = 0, kNameSize = 100;
constexpr size_t kSizeOffset = 124, kSizeSize = 12;
constexpr size_t kChecksumOffset = 148, kChecksumSize = 8;
constexpr size_t kTypeOffset = 156;
constexpr size_t kLinkOffset = 157, kLinkSize = 100;
constexpr size_t kMagicOffset = 257;
constexpr size_t kPrefixOffset = 345, kPrefixSize = 155;

using Block = std::array<char, kBlockSize>;

int64_t RoundUpToBlock(int64_t n) { return (n + kBlockSize - 1) / kBlockSize * kBlockSize; }

// A NUL-terminated (or full-width) string field.
std::string Field(const Block& block, size_t offset, size_t size) {
  const char* begin = block.data() + offset;
  return std::string(begin, strnlen(begin, size));
}

// A numeric field: octal digits padded by spaces or NULs, or GNU base-256 when the top bit of
// the first byte is set.
bool ParseNumber(const Block& block, size_t offset, size_t size, int64_t* out) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(block.data() + offset);
  if (bytes[0] & 0x80) {
    if (bytes[0] == 0xff) return false;  // Negative.
    uint64_t value = bytes[0] & 0x7f;
    for (size_t i = 1; i < size; ++i) {
      if (value >> 55) return false;  // Would overflow int64.
      value = (value << 8) | bytes[i];
    }
    *out = static_cast<int64_t>(value);
    return true;
  }
  size_t i = 0;
  while (i < size && (bytes[i] == ' ' || bytes[i] == 0)) ++i;
  uint64_t value = 0;
  bool any = false;
  for (; i < size && bytes[i] >= '0' && bytes[i] <= '7'; ++i) {
    if (value >> 60) return false;
    value = value * 8 + (bytes[i] - '0');
    any = true;
  }
  for (; i < size; ++i) {
    if (bytes[i] != ' ' && bytes[i] != 0) return false;
  }
  *out = static_cast<int64_t>(value);
  return any || size == 0;
}

bool ChecksumMatches(const Block& block) {
  int64_t stored = 0;
  if (!ParseNumber(block, kChecksumOffset, kChecksumSize, &stored)) return false;
  // The checksum is computed with its own field as spaces; historic writers summed signed
  // chars, so accept either.
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kBlockSize; ++i) {
    const bool in_field = i >= kChecksumOffset && i < kChecksumOffset + kChecksumSize;
    const char c = in_field ? ' ' : block[i];
    unsigned_sum += static_cast<unsigned char>(c);
    signed_sum += static_cast<signed char>(c);
  }
  return stored == unsigned_sum || stored == signed_sum;
}

bool IsZeroBlock(const Block& block) {
  for (char c : block) {
    if (c != 0) return false;
  }
  return true;
}

// Pax extended header records: "LEN key=value\n", LEN counting the whole record.
absl::Status ParsePax(absl::string_view data, absl::string_view entry_name,
                      std::map<std::string, std::string>* records) {
  while (!data.empty()) {
    const size_t space = data.find(' ');
    int64_t length = 0;
    if (space == absl::string_view::npos ||
        !absl::SimpleAtoi(data.substr(0, space), &length) || length <= 0 ||
        static_cast<uint64_t>(length) > data.size() || data[length - 1] != '\n') {
      return absl::InvalidArgumentError(
          absl::StrCat("tar entry \"", entry_name, "\": malformed pax header record"));
    }
    absl::string_view record = data.substr(space + 1, length - space - 2);
    const size_t equals = record.find('=');
    if (equals == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("tar entry \"", entry_name, "\": pax record without '='"));
    }
    (*records)[std::string(record.substr(0, equals))] = std::string(record.substr(equals + 1));
    data.remove_prefix(length);
  }
  return absl::OkStatus();
}

TarEntry::Type EntryType(char flag) {
  switch (flag) {
    case '0': case '\0': case '7': return TarEntry::Type::kRegular;
    case '5': return TarEntry::Type::kDirectory;
    case '2': return TarEntry::Type::kSymlink;
    case '1': return TarEntry::Type::kHardLink;
    default: return TarEntry::Type::kOther;
  }
}

// Resolves a link target against the directory of the link (symlinks) or the archive root
// (hard links); ".." may climb within the archive but not above it.
absl::StatusOr<std::string> ResolveLink(absl::string_view link_path, absl::string_view target,
                                        bool relative_to_link) {
  if (absl::StartsWith(target, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("tar entry \"", link_path, "\": link target \"",
                                                   target, "\" is an absolute path"));
  }
  std::vector<std::string> parts;
  if (relative_to_link) {
    parts = absl::StrSplit(link_path, '/', absl::SkipEmpty());
    if (!parts.empty()) parts.pop_back();
  }
  for (absl::string_view part : absl::StrSplit(target, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tar entry \"", link_path, "\": link target \"", target, "\" escapes the root"));
      }
      parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  return absl::StrJoin(parts, "/");
}

}  // namespace

absl::StatusOr<std::string> CleanArchivePath(absl::string_view path) {
  if (absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("tar entry \"", path, "\" is an absolute path"));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("tar entry \"", path, "\" escapes the root"));
    }
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<std::unique_ptr<TarArchive>> TarArchive::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    return absl::ErrnoToStatus(error, absl::StrCat("image tarball ", path));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat("image tarball ", path,
                                                   " is not a regular file"));
  }
  std::unique_ptr<TarArchive> archive(new TarArchive(path, fd, st.st_size));
  if (absl::Status status = archive->Scan(); !status.ok()) {
    return absl::Status(status.code(), absl::StrCat("image tarball ", path, ": ",
                                                    status.message()));
  }
  return archive;
}

TarArchive::~TarArchive() { close(fd_); }

absl::Status TarArchive::ReadRaw(int64_t offset, char* buffer, size_t size) const {
  while (size > 0) {
    const ssize_t n = pread(fd_, buffer, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("reading ", path_));
    }
    if (n == 0) {
      return absl::InvalidArgumentError(absl::StrCat(path_, " shrank while being read"));
    }
    buffer += n;
    size -= static_cast<size_t>(n);
    offset += n;
  }
  return absl::OkStatus();
}

absl::Status TarArchive::Scan() {
  int64_t offset = 0;
  std::string long_name, long_link;
  std::map<std::string, std::string> pax, global_pax;
  Block block;
  while (true) {
    if (offset + kBlockSize > file_size_) {
      return absl::InvalidArgumentError(
          offset == file_size_
              ? "truncated archive: no end-of-archive marker"
              : absl::StrCat("truncated archive: ends inside the header at offset ", offset));
    }
    if (absl::Status status = ReadRaw(offset, block.data(), kBlockSize); !status.ok()) {
      return status;
    }
    // One zero block ends the archive; tar writes two, but nothing after the first matters.
    if (IsZeroBlock(block)) return absl::OkStatus();

    const char flag = block[kTypeOffset];
    std::string name = Field(block, kNameOffset, kNameSize);
    if (std::memcmp(block.data() + kMagicOffset, "ustar\0" "00", 8) == 0) {
      // POSIX ustar splits long names into prefix/name; GNU uses that space for other fields.
      const std::string prefix = Field(block, kPrefixOffset, kPrefixSize);
      if (!prefix.empty()) name = absl::StrCat(prefix, "/", name);
    }
    if (!long_name.empty()) name = long_name;
    const std::string shown = name.empty() ? absl::StrCat("at offset ", offset) : name;
    if (!ChecksumMatches(block)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tar entry \"", shown, "\": bad header checksum at offset ", offset));
    }
    int64_t size = 0;
    if (!ParseNumber(block, kSizeOffset, kSizeSize, &size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tar entry \"", shown, "\": malformed size field"));
    }
    auto pax_value = [&](const char* key) -> const std::string* {
      if (auto it = pax.find(key); it != pax.end()) return &it->second;
      if (auto it = global_pax.find(key); it != global_pax.end()) return &it->second;
      return nullptr;
    };
    const bool extended = flag == 'L' || flag == 'K' || flag == 'x' || flag == 'g';
    if (!extended) {
      if (const std::string* value = pax_value("size");
          value != nullptr && (!absl::SimpleAtoi(*value, &size) || size < 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tar entry \"", shown, "\": malformed pax size \"", *value, "\""));
      }
      if (const std::string* value = pax_value("path")) name = *value;
    }
    const int64_t data_offset = offset + kBlockSize;
    if (size > file_size_ - data_offset) {
      return absl::InvalidArgumentError(absl::StrCat(
          "truncated archive: data of tar entry \"", name.empty() ? shown : name, "\" (",
          size, " bytes at offset ", data_offset, ") extends past the end of the file (",
          file_size_, " bytes)"));
    }
    offset = data_offset + RoundUpToBlock(size);

    if (extended) {
      if (size > kMaxExtendedHeaderSize) {
        return absl::InvalidArgumentError(absl::StrCat("tar entry \"", shown,
                                                       "\": extended header of ", size,
                                                       " bytes is too large"));
      }
      std::string data(static_cast<size_t>(size), '\0');
      if (absl::Status status = ReadRaw(data_offset, data.data(), data.size()); !status.ok()) {
        return status;
      }
      if (flag == 'L' || flag == 'K') {
        data.resize(strnlen(data.data(), data.size()));
        (flag == 'L' ? long_name : long_link) = std::move(data);
      } else if (absl::Status status = ParsePax(data, shown, flag == 'x' ? &pax : &global_pax);
                 !status.ok()) {
        return status;
      }
      continue;
    }

    TarEntry entry;
    auto cleaned = CleanArchivePath(name);
    if (!cleaned.ok()) return cleaned.status();
    entry.path = *std::move(cleaned);
    entry.type = EntryType(flag);
    entry.offset = data_offset;
    entry.size = size;
    if (entry.type == TarEntry::Type::kSymlink || entry.type == TarEntry::Type::kHardLink) {
      std::string target = Field(block, kLinkOffset, kLinkSize);
      if (!long_link.empty()) target = long_link;
      if (const std::string* value = pax_value("linkpath")) target = *value;
      auto resolved =
          ResolveLink(entry.path, target, entry.type == TarEntry::Type::kSymlink);
      if (!resolved.ok()) return resolved.status();
      entry.link_target = *std::move(resolved);
    }
    long_name.clear();
    long_link.clear();
    pax.clear();
    if (!entry.path.empty()) {
      by_path_[entry.path] = entries_.size();
      entries_.push_back(std::move(entry));
    }
  }
}

const TarEntry* TarArchive::Find(absl::string_view path) const {
  auto cleaned = CleanArchivePath(path);
  if (!cleaned.ok()) return nullptr;
  std::string current = *std::move(cleaned);
  for (int hop = 0; hop <= kMaxLinkHops; ++hop) {
    auto it = by_path_.find(current);
    if (it == by_path_.end()) return nullptr;
    const TarEntry& entry = entries_[it->second];
    switch (entry.type) {
      case TarEntry::Type::kRegular: return &entry;
      case TarEntry::Type::kSymlink:
      case TarEntry::Type::kHardLink: current = entry.link_target; break;
      default: return nullptr;
    }
  }
  return nullptr;
}

absl::StatusOr<std::string> TarArchive::ReadFile(const TarEntry& entry, int64_t max_size) const {
  if (entry.size > max_size) {
    return absl::InvalidArgumentError(absl::StrCat("tar entry \"", entry.path, "\" is ",
                                                   entry.size, " bytes, more than the ",
                                                   max_size, " allowed for it"));
  }
  std::string data(static_cast<size_t>(entry.size), '\0');
  if (absl::Status status = ReadRaw(entry.offset, data.data(), data.size()); !status.ok()) {
    return status;
  }
  return data;
}

absl::Status TarArchive::ReadAt(const TarEntry& entry, int64_t offset, char* buffer,
                                size_t size) const {
  if (offset < 0 || static_cast<int64_t>(size) > entry.size - offset) {
    return absl::OutOfRangeError(absl::StrCat("read of ", size, " bytes at ", offset,
                                              " is outside tar entry \"", entry.path, "\""));
  }
  return ReadRaw(entry.offset + offset, buffer, size);
}

}  // namespace skiff::runtime

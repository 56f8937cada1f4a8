#include "skiff/aws/credentials.h"

#include <fcntl.h>
#include <ini.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "skiff/base/check.h"

namespace skiff::aws {
namespace {

constexpr char kProfile[] = "skiff";
constexpr char kKeyIdField[] = "aws_access_key_id";
constexpr char kSecretField[] = "aws_secret_access_key";

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The file's content, refused when others than its owner may read or change it: the secret
// in it signs for the whole node.
absl::StatusOr<std::string> ReadPrivateFile(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(path + ": not a regular file");
  const std::string mode = absl::StrFormat("%04o", st.st_mode & 07777);
  const char* wrong = (st.st_mode & 0044) ? "readable" : (st.st_mode & 0022) ? "writable" : "";
  if (*wrong != '\0') {
    return absl::PermissionDeniedError(absl::StrCat(path, ": must not be ", wrong,
                                                    " by group or others (mode ", mode,
                                                    "); chmod 600 it"));
  }
  std::string content;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read ", path));
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

// What inih reports, with the line of each entry: inih's handler does not get the line number
// (Debian builds it without INI_HANDLER_LINENO), so the reader below counts the lines it hands
// out, one per call.
struct IniState {
  const std::string* text = nullptr;
  size_t pos = 0;
  int line = 0;
  std::string error;  // the first error, "LINE: what"
  std::optional<std::string> key_id, secret;
  int key_id_line = 0, secret_line = 0;
};

char* ReadLine(char* out, int size, void* stream) {
  auto& state = *static_cast<IniState*>(stream);
  if (state.pos >= state.text->size()) return nullptr;
  size_t end = state.text->find('\n', state.pos);
  end = end == std::string::npos ? state.text->size() : end + 1;
  ++state.line;
  if (end - state.pos >= static_cast<size_t>(size)) {  // inih would split it: refuse instead
    if (state.error.empty()) state.error = absl::StrCat(state.line, ": line too long");
    return nullptr;
  }
  memcpy(out, state.text->data() + state.pos, end - state.pos);
  out[end - state.pos] = '\0';
  state.pos = end;
  return out;
}

int OnEntry(void* user, const char* section, const char* name, const char* value) {
  auto& state = *static_cast<IniState*>(user);
  if (strcmp(section, kProfile) != 0) return 1;
  const bool is_key_id = strcmp(name, kKeyIdField) == 0;
  if (!is_key_id && strcmp(name, kSecretField) != 0) return 1;  // region, output, ...
  std::optional<std::string>& field = is_key_id ? state.key_id : state.secret;
  if (field.has_value() && state.error.empty()) {
    state.error = absl::StrCat(state.line, ": ", name, " given twice in [", kProfile, "]");
  }
  if (*value == '\0' && state.error.empty()) {
    state.error = absl::StrCat(state.line, ": ", name, " is empty");
  }
  field = value;
  (is_key_id ? state.key_id_line : state.secret_line) = state.line;
  return 1;
}

absl::StatusOr<Credential> ParseCredentials(const std::string& path, const std::string& text) {
  IniState state;
  state.text = &text;
  const int syntax_error = ini_parse_stream(ReadLine, &state, OnEntry, &state);
  if (!state.error.empty()) return absl::InvalidArgumentError(path + ":" + state.error);
  if (syntax_error > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", syntax_error, ": not a [section] or a name = value line"));
  }
  if (!state.key_id && !state.secret) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no profile [", kProfile, "] with ",
                                                   kKeyIdField, " and ", kSecretField));
  }
  if (!state.key_id || !state.secret) {
    const bool has_id = state.key_id.has_value();
    return absl::InvalidArgumentError(absl::StrCat(
        path, ":", has_id ? state.key_id_line : state.secret_line, ": profile [", kProfile,
        "] has ", has_id ? kKeyIdField : kSecretField, " but no ",
        has_id ? kSecretField : kKeyIdField));
  }
  return Credential{*state.key_id, *state.secret};
}

// `n` characters of `alphabet`, whose size is a power of two so that every one is as likely.
std::string RandomString(RandomSource& random, std::string_view alphabet, int n) {
  SKIFF_DCHECK((alphabet.size() & (alphabet.size() - 1)) == 0);
  std::string out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) out += alphabet[random.Next() % alphabet.size()];
  return out;
}

Credential NewKey(RandomSource& random) {
  constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  constexpr std::string_view kBase64 =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return {"AKIA" + RandomString(random, kBase32, 16), RandomString(random, kBase64, 40)};
}

std::string FileContent(const Credential& key) {
  return absl::StrCat(
      "# The key of skiffd's AWS API, made by skiffd. For the AWS CLI:\n"
      "#   AWS_SHARED_CREDENTIALS_FILE=<this file> aws --profile skiff ecs list-clusters\n[",
      kProfile, "]\n", kKeyIdField, " = ", key.access_key_id, "\n", kSecretField, " = ",
      key.secret_access_key, "\n");
}

// Creates the missing directories of `dir`, each 0700; an existing one is left as it is.
absl::Status MakeDirectories(const std::filesystem::path& dir) {
  if (dir.empty() || std::filesystem::exists(dir)) return absl::OkStatus();
  if (absl::Status parent = MakeDirectories(dir.parent_path()); !parent.ok()) return parent;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create directory ", dir.string()));
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Writes `content` to a temporary file (0600) beside `path` and links it to `path`, which
// fails with kAlreadyExists when `path` appeared meanwhile: never a half-written or replaced
// file.
absl::Status CreateFile(const std::string& path, const std::string& content) {
  std::string temp = path + ".XXXXXX";
  Fd fd(mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", temp));
  absl::Status status = WriteAll(fd.get(), content);
  if (status.ok() && fchmod(fd.get(), 0600) != 0) status = absl::ErrnoToStatus(errno, "chmod");
  if (status.ok() && fsync(fd.get()) != 0) status = absl::ErrnoToStatus(errno, "fsync");
  if (status.ok() && link(temp.c_str(), path.c_str()) != 0) {
    status = errno == EEXIST ? absl::AlreadyExistsError(path)
                             : absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  }
  unlink(temp.c_str());
  if (!status.ok()) return status;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  Fd dir_fd(open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) fsync(dir_fd.get());  // the new name survives a crash
  return absl::OkStatus();
}

absl::StatusOr<CredentialsFile> Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadPrivateFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Credential> key = ParseCredentials(path, *text);
  if (!key.ok()) return key.status();
  return CredentialsFile{{*std::move(key)}, false};
}

}  // namespace

absl::StatusOr<CredentialsFile> LoadOrCreateCredentials(const std::string& path,
                                                         RandomSource& random) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 || errno != ENOENT) return Load(path);
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (absl::Status status = MakeDirectories(parent); !status.ok()) return status;
  const Credential key = NewKey(random);
  absl::Status status = CreateFile(path, FileContent(key));
  if (absl::IsAlreadyExists(status)) return Load(path);  // another skiffd was first
  if (!status.ok()) return status;
  return CredentialsFile{{key}, true};
}

uint64_t CryptoRandom::Next() {
  unsigned char bytes[sizeof(uint64_t)];
  // RAND_bytes fails only when the system has no entropy to give: no key is better than a
  // guessable one.
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) CheckFailed("RAND_bytes", __FILE__, __LINE__);
  uint64_t out = 0;
  for (unsigned char b : bytes) out = (out << 8) | b;
  return out;
}

}  // namespace skiff::aws

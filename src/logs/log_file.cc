#include "skiff/logs/log_file.h"

#include <sys/stat.h>

#include <utility>

namespace skiff::logs {

absl::StatusOr<bool> RotateIfLarger(const std::string&, const RotationPolicy&) {
  return absl::UnimplementedError("log rotation: not yet");
}
absl::StatusOr<std::string> ReadTail(const std::string&, int64_t, int) {
  return absl::UnimplementedError("log tail: not yet");
}
LogFollower::LogFollower(std::string path, int64_t from) : path_(std::move(path)), offset_(from) {}
absl::StatusOr<std::string> LogFollower::ReadNew(int64_t) {
  return absl::UnimplementedError("log follow: not yet");
}
int64_t LogFollower::SizeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

}  // namespace skiff::logs

#include "support/test_subnet.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace skiff::testing {

absl::StatusOr<std::unique_ptr<TestSubnet>> TestSubnet::Claim() {
  const std::string dir = "/tmp/skiff-e2e-subnets";
  mkdir(dir.c_str(), 0700);
  // From a place of this process's own, so that parallel tests rarely try the same lock first.
  const int start = static_cast<int>(getpid() % 256);
  for (int k = 0; k < 256; ++k) {
    const int n = (start + k) % 256;
    const std::string lock = absl::StrCat(dir, "/", n, ".lock");
    const int fd = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    return std::unique_ptr<TestSubnet>(new TestSubnet(n, fd));
  }
  return absl::ResourceExhaustedError("no free test subnet in 10.214.0.0/16");
}

TestSubnet::TestSubnet(int index, int fd)
    : index_(index),
      fd_(fd),
      bridge_(absl::StrCat("skt", index)),
      subnet_(absl::StrCat("10.214.", index, ".0/24")) {}

TestSubnet::~TestSubnet() { close(fd_); }

std::string TestSubnet::prefix() const { return absl::StrCat("10.214.", index_, "."); }

}  // namespace skiff::testing

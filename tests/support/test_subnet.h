// TestSubnet: a bridge name and IPv4 /24 that no other test of this machine uses while it
// lives, for tests that run skiff's networking side by side (ctest -j). The claim is an flock
// on /tmp/skiff-e2e-subnets/<n>.lock, n in 0..255, giving bridge "skt<n>" and subnet
// 10.214.<n>.0/24; the kernel drops it when the holder exits, however it exits.
#ifndef SKIFF_TESTS_SUPPORT_TEST_SUBNET_H_
#define SKIFF_TESTS_SUPPORT_TEST_SUBNET_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace skiff::testing {

class TestSubnet {
 public:
  static absl::StatusOr<std::unique_ptr<TestSubnet>> Claim();
  ~TestSubnet();
  TestSubnet(const TestSubnet&) = delete;
  TestSubnet& operator=(const TestSubnet&) = delete;

  int index() const { return index_; }
  const std::string& bridge() const { return bridge_; }  // "skt<n>".
  const std::string& subnet() const { return subnet_; }  // "10.214.<n>.0/24".
  std::string prefix() const;                            // "10.214.<n>.".
  std::string gateway() const { return prefix() + "1"; }

 private:
  TestSubnet(int index, int fd);

  int index_;
  int fd_;
  std::string bridge_;
  std::string subnet_;
};

}  // namespace skiff::testing

#endif  // SKIFF_TESTS_SUPPORT_TEST_SUBNET_H_

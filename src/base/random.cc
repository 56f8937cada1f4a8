#include "skiff/base/random.h"

#include "absl/strings/str_format.h"

namespace skiff {

SystemRandom::SystemRandom() : engine_(std::random_device{}()) {}

uint64_t SystemRandom::Next() {
  absl::MutexLock lock(&mu_);
  return engine_();
}

std::string RandomDigits(RandomSource& random, int n) {
  std::string out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) out += static_cast<char>('0' + random.Next() % 10);
  return out;
}

std::string RandomHex(RandomSource& random, int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) out += kHex[random.Next() % 16];
  return out;
}

std::string RandomUuid(RandomSource& random) {
  const uint64_t a = random.Next(), b = random.Next();
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                         0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

}  // namespace skiff

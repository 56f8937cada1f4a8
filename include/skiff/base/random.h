// RandomSource: where ids come from (task ids, deployment ids, event ids, exec ids). Injected
// like the clock, so that tests get the same ids on every run and production gets ids that
// nobody can predict or that collide. The helpers below format draws the way ECS's ids look.
//
// Thread contract: SystemRandom is safe from any thread; SeededRandom (tests, benches) is not.
#ifndef SKIFF_BASE_RANDOM_H_
#define SKIFF_BASE_RANDOM_H_

#include <cstdint>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace skiff {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // 64 uniformly distributed bits.
  virtual uint64_t Next() = 0;
};

// Seeded from the operating system's entropy (std::random_device) once.
class SystemRandom final : public RandomSource {
 public:
  SystemRandom();
  uint64_t Next() override;

 private:
  absl::Mutex mu_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mu_);
};

// The same sequence for the same seed.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  uint64_t Next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// `n` decimal digits ("ecs-svc/" deployment ids have 19).
std::string RandomDigits(RandomSource& random, int n);
// `n` lower-case hex digits (task ids have 32).
std::string RandomHex(RandomSource& random, int n);
// A version-4-shaped UUID, "8-4-4-4-12" hex digits (service event ids).
std::string RandomUuid(RandomSource& random);

}  // namespace skiff

#endif  // SKIFF_BASE_RANDOM_H_

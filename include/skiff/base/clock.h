// Clock: where Skiff reads the time. Production code gets RealClock; unit tests get
// SimulatedClock and move time forward by hand, so that timeouts, back-offs and timestamps are
// tested without sleeping. Both are safe to call from any thread.
#ifndef SKIFF_BASE_CLOCK_H_
#define SKIFF_BASE_CLOCK_H_

#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace skiff {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps users see (registeredAt).
  virtual absl::Time Now() const = 0;
  // Time that never jumps (NTP steps, an admin's date -s), for deadlines and timers. Only
  // differences between two readings mean anything.
  virtual absl::Time MonotonicNow() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Time MonotonicNow() const override {
    return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
  }
};

class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}

  absl::Time Now() const override;
  absl::Time MonotonicNow() const override { return Now(); }  // Simulated time only moves on.
  void Advance(absl::Duration d);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace skiff

#endif  // SKIFF_BASE_CLOCK_H_

// FakeRuntimeHealth: a RuntimeHealth whose answer the test sets (up by default), for tests of
// the readers of "is containerd up" (task manager, cluster registry) that do not run a
// RuntimeMonitor. Single-threaded like the tests.
#ifndef SKIFF_TESTS_FAKES_FAKE_RUNTIME_HEALTH_H_
#define SKIFF_TESTS_FAKES_FAKE_RUNTIME_HEALTH_H_

#include "skiff/scheduler/runtime_health.h"

namespace skiff::fakes {

class FakeRuntimeHealth final : public scheduler::RuntimeHealth {
 public:
  bool available() const override { return up; }
  bool up = true;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_RUNTIME_HEALTH_H_

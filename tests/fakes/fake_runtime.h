// FakeRuntime: a ContainerRuntime for unit tests that answers from a script. Each Version() call
// takes the next scripted answer (the last one repeats) and is counted. Thread-safe, like the
// real runtime.
#ifndef SKIFF_TESTS_FAKES_FAKE_RUNTIME_H_
#define SKIFF_TESTS_FAKES_FAKE_RUNTIME_H_

#include <deque>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::fakes {

class FakeRuntime final : public runtime::ContainerRuntime {
 public:
  // Queue the next answers of Version().
  void ScriptVersion(absl::StatusOr<runtime::RuntimeVersion> answer) {
    absl::MutexLock lock(&mu_);
    version_answers_.push_back(std::move(answer));
  }

  absl::StatusOr<runtime::RuntimeVersion> Version(absl::Duration) override {
    absl::MutexLock lock(&mu_);
    ++version_calls_;
    if (version_answers_.empty()) return absl::UnavailableError("fake runtime: no answer scripted");
    absl::StatusOr<runtime::RuntimeVersion> answer = version_answers_.front();
    if (version_answers_.size() > 1) version_answers_.pop_front();
    return answer;
  }

  int version_calls() const {
    absl::MutexLock lock(&mu_);
    return version_calls_;
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<runtime::RuntimeVersion>> version_answers_ ABSL_GUARDED_BY(mu_);
  int version_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_RUNTIME_H_

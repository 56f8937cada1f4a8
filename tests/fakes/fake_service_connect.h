// FakeServiceConnect: a ServiceConnect for unit tests, in memory, in the place of the node's
// proxy and resolver. It keeps what each service published last, counts publications, and
// refuses what a test tells it to (as the node refuses a port another service holds).
//
// Single-threaded: the test's thread, which is the loop's.
#ifndef SKIFF_TESTS_FAKES_FAKE_SERVICE_CONNECT_H_
#define SKIFF_TESTS_FAKES_FAKE_SERVICE_CONNECT_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "skiff/scheduler/service_connect.h"

namespace skiff::fakes {

class FakeServiceConnect final : public scheduler::ServiceConnect {
 public:
  using Key = std::pair<std::string, std::string>;

  absl::Status Check(const std::string& /*cluster*/, const std::string& /*service*/,
                     const scheduler::ConnectConfig& config) const override {
    checked_ = config;
    return check_result;
  }
  void Publish(const std::string& cluster, const std::string& service,
               const scheduler::ConnectState& state) override {
    published_[{cluster, service}] = state;
    ++publications_;
  }
  void Forget(const std::string& cluster, const std::string& service) override {
    published_.erase({cluster, service});
    ++forgets_;
  }

  // What the service published last; nullptr when none (never, or forgotten).
  const scheduler::ConnectState* Of(const std::string& service,
                                    const std::string& cluster = "default") const {
    auto it = published_.find({cluster, service});
    return it == published_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> ReadyIds(const std::string& service) const {
    std::vector<std::string> out;
    if (const auto* s = Of(service)) {
      for (const scheduler::Endpoint& e : s->ready) out.push_back(e.task_id);
    }
    return out;
  }
  const scheduler::ConnectConfig& checked() const { return checked_; }
  int publications() const { return publications_; }
  int forgets() const { return forgets_; }

  absl::Status check_result;

 private:
  mutable scheduler::ConnectConfig checked_;
  std::map<Key, scheduler::ConnectState> published_;
  int publications_ = 0;
  int forgets_ = 0;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_SERVICE_CONNECT_H_

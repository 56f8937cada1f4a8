// FakeNetwork: a TaskNetwork for unit tests. Attachments live in memory with addresses handed
// out in order from 10.213.0.2; chosen calls fail on request; every call is recorded.
// Thread-safe, like the CNI implementation.
#ifndef SKIFF_TESTS_FAKES_FAKE_NETWORK_H_
#define SKIFF_TESTS_FAKES_FAKE_NETWORK_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "skiff/network/task_network.h"

namespace skiff::fakes {

class FakeNetwork final : public network::TaskNetwork {
 public:
  // Makes the next Attach fail.
  void FailNextAttach(absl::Status status) {
    absl::MutexLock lock(&mu_);
    attach_failure_ = std::move(status);
  }
  // An attachment that a crashed skiffd left behind.
  void AddLeftover(const std::string& id) {
    absl::MutexLock lock(&mu_);
    attached_[id] = {};
  }
  bool Attached(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    return attached_.contains(id);
  }
  std::vector<network::PortBinding> Ports(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    auto it = attached_.find(id);
    return it == attached_.end() ? std::vector<network::PortBinding>{} : it->second;
  }
  size_t attached_count() const {
    absl::MutexLock lock(&mu_);
    return attached_.size();
  }
  std::vector<std::string> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  absl::StatusOr<network::Attachment> Attach(const std::string& id,
                                             const std::vector<network::PortBinding>& ports) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("Attach " + id);
    if (!attach_failure_.ok()) {
      absl::Status s = attach_failure_;
      attach_failure_ = absl::OkStatus();
      return s;
    }
    if (attached_.contains(id)) return absl::AlreadyExistsError(id + " is attached");
    attached_[id] = ports;
    ++next_;
    return network::Attachment{.id = id,
                               .netns_path = "/fake/netns/" + id,
                               .ip = absl::StrCat("10.213.0.", next_ + 1),
                               .prefix_length = 16,
                               .gateway = "10.213.0.1",
                               .mac = "02:00:00:00:00:01"};
  }

  absl::Status Detach(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("Detach " + id);
    attached_.erase(id);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List() override {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    for (const auto& [id, ports] : attached_) ids.push_back(id);
    return ids;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<network::PortBinding>> attached_;
  std::vector<std::string> calls_;
  absl::Status attach_failure_;
  int next_ = 0;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_NETWORK_H_

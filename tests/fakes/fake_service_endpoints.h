// FakeServiceEndpoints: a ServiceEndpoints for unit tests, in memory, in the place of the DNS
// records publisher. It keeps what each service has published and counts the publications and
// the forgets, so that a test can say "one pass, these endpoints, published once". Names follow
// the real rule in short (lower case, '_' as '-', not at either end) under "skiff.internal".
//
// Single-threaded: the test's thread, which is the loop's.
#ifndef SKIFF_TESTS_FAKES_FAKE_SERVICE_ENDPOINTS_H_
#define SKIFF_TESTS_FAKES_FAKE_SERVICE_ENDPOINTS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "skiff/scheduler/service_endpoints.h"

namespace skiff::fakes {

class FakeServiceEndpoints final : public scheduler::ServiceEndpoints {
 public:
  using Key = std::pair<std::string, std::string>;

  absl::StatusOr<std::string> NameOf(const std::string& cluster,
                                     const std::string& service) const override {
    absl::StatusOr<std::string> s = Label(service);
    if (!s.ok()) return s.status();
    absl::StatusOr<std::string> c = Label(cluster);
    if (!c.ok()) return c.status();
    return absl::StrCat(*s, ".", *c, ".skiff.internal");
  }
  void Publish(const std::string& cluster, const std::string& service,
               std::vector<scheduler::Endpoint> endpoints) override {
    published_[{cluster, service}] = std::move(endpoints);
    ++publications_;
  }
  void Forget(const std::string& cluster, const std::string& service) override {
    published_.erase({cluster, service});
    ++forgets_;
  }

  // The service's endpoints as published last; nullptr when it has none (never, or forgotten).
  const std::vector<scheduler::Endpoint>* Of(const std::string& service,
                                             const std::string& cluster = "default") const {
    auto it = published_.find({cluster, service});
    return it == published_.end() ? nullptr : &it->second;
  }
  // The task ids of the service's endpoints as published last.
  std::vector<std::string> Ids(const std::string& service,
                               const std::string& cluster = "default") const {
    std::vector<std::string> out;
    if (const auto* endpoints = Of(service, cluster)) {
      for (const scheduler::Endpoint& e : *endpoints) out.push_back(e.task_id);
    }
    return out;
  }
  int publications() const { return publications_; }
  int forgets() const { return forgets_; }

 private:
  static absl::StatusOr<std::string> Label(const std::string& name) {
    std::string label = absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
    if (label.empty() || label.front() == '-' || label.back() == '-') {
      return absl::InvalidArgumentError(absl::StrCat("name ", name, " has no DNS label"));
    }
    return label;
  }

  std::map<Key, std::vector<scheduler::Endpoint>> published_;
  int publications_ = 0;
  int forgets_ = 0;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_SERVICE_ENDPOINTS_H_

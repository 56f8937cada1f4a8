// dns_update_bench: how soon the node's resolver answers a change of a service (issue 19), on a
// real skiffd with a private containerd (BenchHarness). A service of awsvpc tasks; each round:
//
//   scale-up    update-service to 2; from the new task's readiness (startedAt + the 500 ms
//               readiness window of a task without health checks) to the first answer of
//               skiff-dns on the bridge's gateway that holds its address;
//   scale-down  update-service to 1; from the call to the first answer without that address;
//   stop-task   stop-task of the remaining task; from the call to the first answer without it
//               (its replacement then counts as a scale-up sample).
//
// The answers are asked of skiff-dns directly (UDP to GATEWAY:53, every millisecond), as a
// container would; no name outside the zone is asked. Goal (SPEC): p99 <= 100 ms.
//
//   sudo build/bin/dns_update_bench [--rounds N]      (default 10)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "harness.h"
#include "skiff/base/status_macros.h"
#include "nlohmann/json.hpp"
#include "support/dns_client.h"

namespace skiff::bench {
namespace {

using json = nlohmann::json;
using Tasks = std::map<std::string, std::string>;  // Task id -> its address.

constexpr char kName[] = "web.default.skiff.internal";
constexpr absl::Duration kTimeout = absl::Seconds(60);
constexpr absl::Duration kReadyAfter = absl::Milliseconds(500);

// One A query to `server`:53 over UDP; the addresses answered, or the error.
absl::StatusOr<std::set<std::string>> AskA(const std::string& server) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  timeval tv{.tv_sec = 0, .tv_usec = 200'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in to{.sin_family = AF_INET, .sin_port = htons(53)};
  inet_pton(AF_INET, server.c_str(), &to.sin_addr);
  const std::string query = skiff::testing::DnsQuery(kName, "A");
  char buf[4096];
  ssize_t n = -1;
  if (sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) ==
      static_cast<ssize_t>(query.size())) {
    n = recv(fd, buf, sizeof(buf), 0);
  }
  close(fd);
  if (n <= 0) return absl::DeadlineExceededError("no answer");
  absl::StatusOr<skiff::testing::DnsResponse> r =
      skiff::testing::ParseDnsResponse(absl::string_view(buf, static_cast<size_t>(n)));
  if (!r.ok()) return r.status();
  std::set<std::string> out;
  for (const std::string& rr : r->answer) {
    std::vector<std::string> words = absl::StrSplit(rr, ' ', absl::SkipEmpty());
    if (words.size() >= 4 && words[2] == "A") out.insert(words.back());
  }
  return out;
}

class Bench {
 public:
  explicit Bench(int rounds) : rounds_(rounds) {}

  absl::Status Setup() {
    absl::StatusOr<std::unique_ptr<BenchHarness>> h = BenchHarness::Start(
        {.name = "dns_update_bench", .import_for_ctr = false,
         // No name outside the zone is asked; a dead upstream keeps the bench off the network.
         .skiffd_flags = {"--dns-upstream", "127.0.0.1:9"}});
    if (!h.ok()) return h.status();
    harness_ = *std::move(h);
    const std::string subnet = harness_->skiffd().subnet();
    in_addr network{};
    inet_pton(AF_INET, subnet.substr(0, subnet.find('/')).c_str(), &network);
    in_addr gateway{.s_addr = htonl(ntohl(network.s_addr) + 1)};
    char text[INET_ADDRSTRLEN] = {};
    gateway_ = inet_ntop(AF_INET, &gateway, text, sizeof(text));
    json definition = {
        {"family", "web"},
        {"networkMode", "awsvpc"},
        {"containerDefinitions",
         json::array({{{"name", "app"},
                       {"image", skiff::testing::kTestImageRef},
                       {"memory", 32},
                       {"stopTimeout", 1},
                       {"command", json::array({"sleep", "100000"})}}})}};
    absl::StatusOr<std::string> registered = harness_->Skiff(
        {"register-task-definition", "--cli-input-json", definition.dump()});
    if (!registered.ok()) return registered.status();
    return harness_->Skiff({"create-service", "--service-name", "web", "--task-definition",
                            "web", "--desired-count", "1"})
        .status();
  }

  absl::Status Run() {
    absl::StatusOr<Tasks> tasks = WaitForTasks(1);
    if (!tasks.ok()) return tasks.status();
    if (absl::Status s = WaitForAnswer(Addresses(*tasks)).status(); !s.ok()) return s;
    for (int i = 0; i < rounds_ && !Interrupted(); ++i) {
      if (absl::Status s = Round(); !s.ok()) return s;
    }
    Print();
    return absl::OkStatus();
  }

  void Shutdown() {
    if (harness_ != nullptr) harness_->Shutdown();
  }

 private:
  absl::Status Round() {
    SKIFF_ASSIGN_OR_RETURN(Tasks one, WaitForTasks(1));
    SKIFF_RETURN_IF_ERROR(Scale(2));
    SKIFF_ASSIGN_OR_RETURN(Tasks two, WaitForTasks(2));
    SKIFF_RETURN_IF_ERROR(SampleAppearance(one, two));
    absl::Time t0 = absl::Now();
    SKIFF_RETURN_IF_ERROR(Scale(1));
    // Scale-in stops the newest task.
    SKIFF_ASSIGN_OR_RETURN(absl::Time gone, WaitForAnswer(Addresses(one)));
    scale_down_.samples.push_back(absl::ToDoubleMilliseconds(gone - t0));
    SKIFF_ASSIGN_OR_RETURN(one, WaitForTasks(1));
    t0 = absl::Now();
    SKIFF_RETURN_IF_ERROR(harness_->Skiff({"stop-task", "--task", one.begin()->first}).status());
    SKIFF_ASSIGN_OR_RETURN(gone, WaitForAnswer({}));
    stop_task_.samples.push_back(absl::ToDoubleMilliseconds(gone - t0));
    SKIFF_ASSIGN_OR_RETURN(Tasks replaced, WaitForTasks(1));
    return SampleAppearance({}, replaced);
  }

  // The new task of `after` (not in `before`): from its readiness to its first answer.
  absl::Status SampleAppearance(const Tasks& before,
                                const Tasks& after) {
    for (const auto& [id, address] : after) {
      if (before.contains(id)) continue;
      SKIFF_ASSIGN_OR_RETURN(absl::Time seen, WaitForAnswer(Addresses(after)));
      SKIFF_ASSIGN_OR_RETURN(std::string task, harness_->Skiff({"describe-tasks", "--tasks", id}));
      const double started = json::parse(task)["tasks"][0].value("startedAt", 0.0);
      const absl::Time ready = absl::FromUnixMicros(started * 1e6) + kReadyAfter;
      scale_up_.samples.push_back(absl::ToDoubleMilliseconds(seen - ready));
    }
    return absl::OkStatus();
  }

  absl::Status Scale(int n) {
    return harness_
        ->Skiff({"update-service", "--service", "web", "--desired-count", absl::StrCat(n)})
        .status();
  }

  // The service's RUNNING tasks (desired RUNNING) by id: their address, once there are `n`.
  absl::StatusOr<Tasks> WaitForTasks(size_t n) {
    const absl::Time deadline = absl::Now() + kTimeout;
    std::string last;
    while (absl::Now() < deadline && !Interrupted()) {
      SKIFF_ASSIGN_OR_RETURN(std::string listed,
                         harness_->Skiff({"list-tasks", "--service-name", "web",
                                          "--desired-status", "RUNNING"}));
      Tasks out;
      const json arns = json::parse(listed)["taskArns"];  // Not a temporary's member in a for.
      for (const json& arn : arns) {
        const std::string a = arn.get<std::string>();
        SKIFF_ASSIGN_OR_RETURN(std::string described,
                           harness_->Skiff({"describe-tasks", "--tasks", a}));
        const json task = json::parse(described)["tasks"][0];
        last = task.dump();
        if (task.value("lastStatus", "") != "RUNNING") continue;
        for (const json& ni : task["containers"][0].value("networkInterfaces", json::array())) {
          out[a.substr(a.rfind('/') + 1)] = ni.value("privateIpv4Address", "");
        }
      }
      if (out.size() == n) return out;
      absl::SleepFor(absl::Milliseconds(50));
    }
    absl::StatusOr<std::string> service =
        harness_->Skiff({"describe-services", "--services", "web"});
    return absl::DeadlineExceededError(absl::StrCat(
        "the service never ran ", n, " tasks; last task seen: ", last,
        "; the service: ", service.ok() ? service->substr(0, 3000) : service.status().ToString()));
  }

  static std::set<std::string> Addresses(const Tasks& tasks) {
    std::set<std::string> out;
    for (const auto& [id, address] : tasks) out.insert(address);
    return out;
  }

  // Asks every millisecond until the answer is `want`; when it was.
  absl::StatusOr<absl::Time> WaitForAnswer(const std::set<std::string>& want) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (absl::Now() < deadline && !Interrupted()) {
      absl::StatusOr<std::set<std::string>> answer = AskA(gateway_);
      if (answer.ok() && *answer == want) return absl::Now();
      absl::SleepFor(absl::Milliseconds(1));
    }
    return absl::DeadlineExceededError("skiff-dns never gave the answer wanted");
  }

  void Print() const {
    harness_->PrintMachine({{"service", "1-2 awsvpc tasks (busybox sleep), no health checks"}});
    std::printf("\n| change | samples | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n");
    for (const Row* row : {&scale_up_, &scale_down_, &stop_task_}) {
      if (row->samples.empty()) continue;
      std::printf("| %s | %zu | %.1f | %.1f | %.1f |\n", row->name.c_str(), row->samples.size(),
                  row->Median(), row->Quantile(0.99), row->Max());
    }
  }

  const int rounds_;
  std::unique_ptr<BenchHarness> harness_;
  std::string gateway_;
  Row scale_up_{.name = "scale-up (from readiness)"};
  Row scale_down_{.name = "scale-down (from update-service)"};
  Row stop_task_{.name = "stop-task (from the call)"};
};

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) {
  int rounds = 10;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0 && absl::SimpleAtoi(argv[i + 1], &rounds)) ++i;
  }
  skiff::bench::Bench bench(rounds);
  return skiff::bench::SetUpRunAndShutDown("dns_update_bench", bench);
}

// Load balancing end to end (issue 18): `skiff elbv2` against a real skiffd, its real HAProxy and
// httpd tasks in real containers. Listeners bind 127.0.0.1 (SkiffdProcess passes --lb-address);
// every load is a bounded number of requests. HAProxy outlives skiffd by design, so
// SkiffdProcess stops it when the test ends, whatever happened.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/host_state.h"
#include "support/http_backend.h"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;
using ::skiff::testing::HttpGet;
using ::testing::HasSubstr;

constexpr absl::Duration kHealthyTimeout = absl::Seconds(30);

// An httpd container answering `body` on / and, when `healthy`, 200 on /health (404 without).
json Web(const std::string& body, bool healthy) {
  const std::string health = healthy ? " && echo ok > /www/health" : "";
  return {{"name", "web"},
          {"image", skiff::testing::kTestImageRef},
          {"memory", 32},
          {"stopTimeout", 2},
          {"portMappings", json::array({{{"containerPort", 80}, {"hostPort", 0}}})},
          {"command", json::array({"sh", "-c",
                                   absl::StrCat("mkdir -p /www && echo ", body,
                                                " > /www/index.html", health,
                                                " && exec httpd -f -p 80 -h /www")})}};
}

// GETs of / through a listener at a steady rate on a thread of its own, bounded in count and
// time, counting what failed (any answer but 200, or no answer) and which bodies came back.
class PacedLoad {
 public:
  PacedLoad(int port, int per_second, absl::Duration max)
      : port_(port), thread_([this, per_second, max] { Run(per_second, max); }) {}
  ~PacedLoad() { Stop(); }

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int sent() const { return sent_; }
  int failed() const { return failed_; }
  const std::string& first_failure() const { return first_failure_; }
  const std::map<std::string, int>& bodies() const { return bodies_; }

 private:
  void Run(int per_second, absl::Duration max) {
    const absl::Time start = absl::Now();
    const absl::Duration gap = absl::Seconds(1) / per_second;
    const int limit = static_cast<int>(absl::ToDoubleSeconds(max) * per_second);
    for (int i = 0; i < limit && !stop_.load(); ++i) {
      absl::SleepFor(std::max(absl::ZeroDuration(), start + i * gap - absl::Now()));
      absl::StatusOr<skiff::testing::HttpResponse> r = HttpGet(port_, "/", absl::Seconds(5));
      ++sent_;
      if (r.ok() && r->status == 200) {
        ++bodies_[std::string(absl::StripAsciiWhitespace(r->body))];
        continue;
      }
      if (failed_++ == 0) {
        first_failure_ = r.ok() ? absl::StrCat("HTTP ", r->status, " at request ", i)
                                : absl::StrCat(r.status().ToString(), " at request ", i);
      }
    }
  }

  const int port_;
  std::atomic<bool> stop_{false};
  int sent_ = 0;
  int failed_ = 0;
  std::string first_failure_;
  std::map<std::string, int> bodies_;
  std::thread thread_;  // Last: starts once the rest is made.
};

class LoadBalancingTest : public E2eTest {
 protected:
  LoadBalancingTest() { namespace_prefix_ = "skiff-e2e-lb"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped()) return;
    SKIFF_REQUIRE_NOTHING_MISSING(skiff::testing::MissingHaproxy());
  }

  void Start(const std::vector<std::string>& extra = {}) {
    ASSERT_NO_FATAL_FAILURE(StartSkiffd(extra));
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
  }

  // A bridge-mode task serving `body`; its host port.
  int RunWeb(const std::string& family, const std::string& body, bool healthy) {
    RegisterTaskDefinition({{"family", family},
                            {"networkMode", "bridge"},
                            {"containerDefinitions", json::array({Web(body, healthy)})}});
    const std::string id = RunTask(family);
    WaitForTaskStatus(id, "RUNNING", absl::Seconds(30));
    json task = DescribeTaskJson(id);
    const int port = task["containers"][0]["networkBindings"][0].value("hostPort", 0);
    EXPECT_GT(port, 0) << task.dump();
    task_ids_.push_back(id);
    return port;
  }

  // The node as a container instance (its id in the containerInstanceArn), which `instance`
  // targets name: skiffd takes the machine id.
  std::string NodeInstanceId() {
    std::string machine_id;
    std::ifstream("/etc/machine-id") >> machine_id;
    const std::string id = machine_id.size() == 32 ? machine_id : std::string(32, '0');
    json out = Ok({"describe-container-instances", "--container-instances", id});
    EXPECT_EQ(out["containerInstances"].size(), 1u) << out.dump();
    return id;
  }

  std::string CreateLoadBalancer(const std::string& name) {
    return Ok({"elbv2", "create-load-balancer", "--name", name, "--subnets", "subnet-1"})
        ["LoadBalancers"][0]["LoadBalancerArn"];
  }

  std::string CreateGroup(const std::string& name, const std::string& path = "/health") {
    return Ok({"elbv2", "create-target-group", "--name", name, "--protocol", "HTTP", "--port",
               "80", "--vpc-id", "vpc-1", "--target-type", "instance",
               "--health-check-path", path, "--health-check-interval-seconds", "5",
               "--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2",
               "--unhealthy-threshold-count", "2"})["TargetGroups"][0]["TargetGroupArn"];
  }

  std::string Forward(const std::string& group) {
    return json::array({{{"Type", "forward"}, {"TargetGroupArn", group}}}).dump();
  }

  std::string Listen(const std::string& lb, int port, const std::string& group) {
    return Ok({"elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP",
               "--port", absl::StrCat(port), "--default-actions", Forward(group)})
        ["Listeners"][0]["ListenerArn"];
  }

  void Register(const std::string& group, const std::vector<int>& ports) {
    json targets = json::array();
    for (int port : ports) targets.push_back({{"Id", NodeInstanceId()}, {"Port", port}});
    Ok({"elbv2", "register-targets", "--target-group-arn", group, "--targets", targets.dump()});
  }

  // "PORT STATE" of each target, sorted by port.
  std::map<int, std::string> Health(const std::string& group) {
    json out = Ok({"elbv2", "describe-target-health", "--target-group-arn", group});
    std::map<int, std::string> states;
    for (const json& d : out["TargetHealthDescriptions"]) {
      states[d["Target"]["Port"].get<int>()] = d["TargetHealth"]["State"].get<std::string>();
    }
    return states;
  }

  // Polls until the group's health is `want` (bounded); the last seen.
  std::map<int, std::string> WaitForHealth(const std::string& group,
                                           const std::map<int, std::string>& want) {
    const absl::Time deadline = absl::Now() + kHealthyTimeout;
    std::map<int, std::string> seen = Health(group);
    while (seen != want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(200));
      seen = Health(group);
    }
    return seen;
  }

  // `count` GETs of / through the listener: how many answers had each body ("error" for
  // failures, with the status).
  std::map<std::string, int> Spread(int port, int count) {
    std::map<std::string, int> seen;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<skiff::testing::HttpResponse> r = HttpGet(port, "/", absl::Seconds(3));
      if (!r.ok()) {
        ++seen["error: " + std::string(r.status().message()).substr(0, 40)];
      } else if (r->status != 200) {
        ++seen[absl::StrCat("error: HTTP ", r->status)];
      } else {
        ++seen[std::string(absl::StripAsciiWhitespace(r->body))];
      }
    }
    return seen;
  }

  // A free loopback port for a listener.
  int FreePort() {
    absl::StatusOr<int> port = skiff::testing::PickFreeLoopbackPort();
    EXPECT_TRUE(port.ok()) << port.status();
    return port.ok() ? *port : 0;
  }

  std::vector<pid_t> Haproxies() {
    std::vector<pid_t> out;
    for (pid_t pid : skiff::testing::ProcessesReferencing(skiffd_->state_dir())) {
      std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
      std::string name;
      if (std::getline(comm, name) && name == "haproxy") out.push_back(pid);
    }
    return out;
  }

  // Polls (bounded) until the group has `count` targets, all healthy.
  bool WaitForHealthyTargets(const std::string& group, size_t count) {
    const absl::Time deadline = absl::Now() + kHealthyTimeout;
    while (true) {
      const std::map<int, std::string> health = Health(group);
      const bool healthy = health.size() == count &&
                           std::all_of(health.begin(), health.end(),
                                       [](const auto& h) { return h.second == "healthy"; });
      if (healthy) return true;
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // A service of `count` httpd tasks behind a new listener; the listener's port. The new load
  // balancer's ARN goes to `lb` when given.
  int ServiceBehindListener(const std::string& group, int count, std::string* lb = nullptr) {
    const int port = FreePort();
    const std::string lb_arn = CreateLoadBalancer("web");
    if (lb != nullptr) *lb = lb_arn;
    Listen(lb_arn, port, group);
    RegisterTaskDefinition({{"family", "svc"},
                            {"networkMode", "bridge"},
                            {"containerDefinitions", json::array({Web("v1", true)})}});
    Ok({"create-service", "--service-name", "web", "--task-definition", "svc",
        "--desired-count", absl::StrCat(count), "--load-balancers",
        json::array({{{"targetGroupArn", group}, {"containerName", "web"},
                      {"containerPort", 80}}})
            .dump(),
        "--deployment-configuration",
        R"({"minimumHealthyPercent": 100, "maximumPercent": 200})"});
    Ok({"wait", "services-stable", "--services", "web"});
    return port;
  }

  std::vector<std::string> task_ids_;
};

TEST_F(LoadBalancingTest, RoundRobinOverHealthyTasksOnlyThenDrainThenFailOpen) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const int a = RunWeb("web-a", "task-a", true);
  const int b = RunWeb("web-b", "task-b", true);
  const int sick = RunWeb("web-sick", "task-sick", false);
  const std::string lb = CreateLoadBalancer("web");
  const std::string group = CreateGroup("web");
  const int port = FreePort();
  Listen(lb, port, group);
  Register(group, {a, b, sick});

  const std::map<int, std::string> want = {{a, "healthy"}, {b, "healthy"}, {sick, "unhealthy"}};
  ASSERT_EQ(WaitForHealth(group, want), want);
  json sick_health = Ok({"elbv2", "describe-target-health", "--target-group-arn", group,
                         "--targets", json::array({{{"Id", NodeInstanceId()}, {"Port", sick}}})
                                          .dump()});
  EXPECT_EQ(sick_health["TargetHealthDescriptions"][0]["TargetHealth"]["Reason"],
            "Target.ResponseCodeMismatch");
  EXPECT_EQ(sick_health["TargetHealthDescriptions"][0]["TargetHealth"]["Description"],
            "Health checks failed with these codes: [404]");

  // Round robin: exactly half each, and never the sick one.
  EXPECT_EQ(Spread(port, 100), (std::map<std::string, int>{{"task-a", 50}, {"task-b", 50}}));

  // A deregistered target drains (nothing in flight: at once), then leaves.
  Ok({"elbv2", "deregister-targets", "--target-group-arn", group, "--targets",
      json::array({{{"Id", NodeInstanceId()}, {"Port", a}}}).dump()});
  const std::map<int, std::string> after = {{b, "healthy"}, {sick, "unhealthy"}};
  EXPECT_EQ(WaitForHealth(group, after), after);
  EXPECT_EQ(Spread(port, 20), (std::map<std::string, int>{{"task-b", 20}}));

  // Only the sick one left: every target unhealthy, so traffic goes to all of them (ALB's
  // fail-open), within a report or two, while ELBv2 still calls it unhealthy.
  Ok({"elbv2", "deregister-targets", "--target-group-arn", group, "--targets",
      json::array({{{"Id", NodeInstanceId()}, {"Port", b}}}).dump()});
  const std::map<int, std::string> last = {{sick, "unhealthy"}};
  EXPECT_EQ(WaitForHealth(group, last), last);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (Spread(port, 1) != std::map<std::string, int>{{"task-sick", 1}} &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(Spread(port, 10), (std::map<std::string, int>{{"task-sick", 10}}));
  EXPECT_EQ(Health(group), last);
}

TEST_F(LoadBalancingTest, WeightsAndRulesSplitTrafficAsAnAlbDoes) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const int a = RunWeb("web-a", "task-a", true);
  const int b = RunWeb("web-b", "task-b", true);
  const std::string lb = CreateLoadBalancer("web");
  const std::string group_a = CreateGroup("group-a");
  const std::string group_b = CreateGroup("group-b");
  Register(group_a, {a});
  Register(group_b, {b});
  const int port = FreePort();
  const std::string listener = Listen(lb, port, group_a);
  // host b.example goes to group b; /api/* is answered by the load balancer itself; the rest is
  // split 30/70.
  Ok({"elbv2", "create-rule", "--listener-arn", listener, "--priority", "10", "--conditions",
      R"([{"Field": "host-header", "Values": ["b.example"]}])", "--actions", Forward(group_b)});
  Ok({"elbv2", "create-rule", "--listener-arn", listener, "--priority", "20", "--conditions",
      R"([{"Field": "path-pattern", "Values": ["/api/*"]}])", "--actions",
      R"([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "418",)"
      R"( "ContentType": "text/plain", "MessageBody": "from-the-lb"}}])"});
  Ok({"elbv2", "modify-listener", "--listener-arn", listener, "--default-actions",
      json::array({{{"Type", "forward"},
                    {"ForwardConfig",
                     {{"TargetGroups", json::array({{{"TargetGroupArn", group_a}, {"Weight", 30}},
                                                    {{"TargetGroupArn", group_b},
                                                     {"Weight", 70}}})}}}}})
          .dump()});
  ASSERT_EQ(WaitForHealth(group_a, {{a, "healthy"}}), (std::map<int, std::string>{{a, "healthy"}}));
  ASSERT_EQ(WaitForHealth(group_b, {{b, "healthy"}}), (std::map<int, std::string>{{b, "healthy"}}));

  // The listener's change is applied by a reload moments after the call returns (as on ELBv2,
  // where changes take a while to propagate): wait until group b answers a plain request.
  const absl::Time applied = absl::Now() + absl::Seconds(10);
  while (Spread(port, 1).count("task-b") == 0 && absl::Now() < applied) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::map<std::string, int> split = Spread(port, 100);
  EXPECT_NEAR(split["task-a"], 30, 1);
  EXPECT_NEAR(split["task-b"], 70, 1);
  EXPECT_EQ(split["task-a"] + split["task-b"], 100);

  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<skiff::testing::HttpResponse> host =
        skiff::testing::Http(port, {.path = "/", .host = "b.example"});
    ASSERT_TRUE(host.ok()) << host.status();
    EXPECT_EQ(absl::StripAsciiWhitespace(host->body), "task-b");
  }
  absl::StatusOr<skiff::testing::HttpResponse> api = HttpGet(port, "/api/v1/things");
  ASSERT_TRUE(api.ok()) << api.status();
  EXPECT_EQ(api->status, 418);
  EXPECT_EQ(api->body, "from-the-lb");

  json rules = Ok({"elbv2", "describe-rules", "--listener-arn", listener});
  ASSERT_EQ(rules["Rules"].size(), 3u);
  EXPECT_EQ(rules["Rules"][2]["Priority"], "default");
  EXPECT_EQ(rules["Rules"][2]["IsDefault"], true);
}

TEST_F(LoadBalancingTest, BadInputIsRefusedByNameAndNothingIsLeftBehind) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string lb = CreateLoadBalancer("web");
  const std::string group = CreateGroup("web");
  // A port another process holds.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int taken = ntohs(addr.sin_port);
  Refused({"elbv2", "create-listener", "--load-balancer-arn", lb, "--protocol", "HTTP", "--port",
           absl::StrCat(taken), "--default-actions", Forward(group)},
          1, absl::StrCat("127.0.0.1:", taken, " cannot be bound on this node"));
  close(fd);
  EXPECT_EQ(Ok({"elbv2", "describe-listeners", "--load-balancer-arn", lb})["Listeners"].size(),
            0u);

  Refused({"elbv2", "create-target-group", "--name", "bad-", "--protocol", "HTTP", "--port", "80",
           "--vpc-id", "vpc-1"},
          1, "Name: must be 1-32 letters");
  const int port = FreePort();
  const std::string listener = Listen(lb, port, group);
  Refused({"elbv2", "create-rule", "--listener-arn", listener, "--priority", "0", "--conditions",
           R"([{"Field": "path-pattern", "Values": ["/a"]}])", "--actions", Forward(group)},
          1, "Priority: must be 1-50000");
  Refused({"elbv2", "delete-target-group", "--target-group-arn", group}, 1, "ResourceInUse");
  ASSERT_FALSE(Haproxies().empty());

  // Deleting the load balancer takes its listeners; then the group can go, and with nothing left
  // to serve, HAProxy stops.
  Ok({"elbv2", "delete-load-balancer", "--load-balancer-arn", lb});
  Ok({"elbv2", "delete-target-group", "--target-group-arn", group});
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!Haproxies().empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_TRUE(Haproxies().empty());
  EXPECT_FALSE(HttpGet(port, "/", absl::Seconds(1)).ok());
}

TEST_F(LoadBalancingTest, TrafficOutlivesSkiffdAndAKilledHaproxyComesBack) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const int a = RunWeb("web-a", "task-a", true);
  const std::string lb = CreateLoadBalancer("web");
  const std::string group = CreateGroup("web");
  const int port = FreePort();
  Listen(lb, port, group);
  Register(group, {a});
  ASSERT_EQ(WaitForHealth(group, {{a, "healthy"}}), (std::map<int, std::string>{{a, "healthy"}}));
  const std::vector<pid_t> before = Haproxies();

  // skiffd killed: requests go on being answered, by the same HAProxy.
  ASSERT_TRUE(skiffd_->Signal(SIGKILL).ok());
  EXPECT_EQ(Spread(port, 50), (std::map<std::string, int>{{"task-a", 50}}));
  ASSERT_NO_FATAL_FAILURE(StartSkiffd());
  EXPECT_EQ(Spread(port, 50), (std::map<std::string, int>{{"task-a", 50}}));
  EXPECT_EQ(WaitForHealth(group, {{a, "healthy"}}), (std::map<int, std::string>{{a, "healthy"}}));
  const std::vector<pid_t> adopted = Haproxies();
  ASSERT_FALSE(adopted.empty());
  EXPECT_THAT(before, ::testing::Contains(adopted.front()))
      << "skiffd started another HAProxy instead of adopting the running one";

  // HAProxy killed: skiffd starts it again and the listener answers.
  for (pid_t pid : adopted) kill(pid, SIGKILL);
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  absl::StatusOr<skiff::testing::HttpResponse> r = HttpGet(port, "/", absl::Seconds(1));
  while ((!r.ok() || r->status != 200) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    r = HttpGet(port, "/", absl::Seconds(1));
  }
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(absl::StripAsciiWhitespace(r->body), "task-a");
}

TEST_F(LoadBalancingTest, WithoutHaproxyElbv2SaysSoAndEcsGoesOn) {
  ASSERT_NO_FATAL_FAILURE(Start({"--haproxy", "/nonexistent/haproxy"}));
  const std::string lb = CreateLoadBalancer("web");  // No HAProxy needed yet.
  Refused({"elbv2", "create-target-group", "--name", "web", "--protocol", "HTTP", "--port", "80",
           "--vpc-id", "vpc-1"},
          1, "HAProxy (/nonexistent/haproxy) cannot run");
  EXPECT_EQ(Ok({"elbv2", "describe-target-groups"})["TargetGroups"].size(), 0u);
  Ok({"list-clusters"});
  Ok({"register-task-definition", "--family", "plain", "--container-definitions",
      json::array({{{"name", "c"}, {"image", skiff::testing::kTestImageRef}, {"memory", 16},
                    {"command", json::array({"true"})}}})
          .dump()});
}

// A service behind a listener (ECS's loadBalancers): its tasks register themselves, and a
// stop-task, a scale-in, a rolling deployment and a killed task under constant load lose no
// request, since every stop drains first.
TEST_F(LoadBalancingTest, AServiceBehindAListenerLosesNoRequestThroughStopsAndDeployments) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string group = CreateGroup("web");
  const int port = ServiceBehindListener(group, 3);
  // Stable is ECS's: the tasks run. Their targets turn healthy on their own time.
  ASSERT_TRUE(WaitForHealthyTargets(group, 3)) << ::testing::PrintToString(Health(group));

  PacedLoad load(port, 100, absl::Seconds(120));
  // A stop-task: the task drains, then stops; the service replaces it.
  json tasks = Ok({"list-tasks", "--service-name", "web"});
  const std::string victim = tasks["taskArns"][0];
  Ok({"stop-task", "--task", victim});
  Ok({"wait", "tasks-stopped", "--tasks", victim});
  Ok({"wait", "services-stable", "--services", "web"});
  // A scale-in from 3 to 2.
  Ok({"update-service", "--service", "web", "--desired-count", "2"});
  Ok({"wait", "services-stable", "--services", "web"});
  // A rolling deployment to v2.
  RegisterTaskDefinition({{"family", "svc"},
                          {"networkMode", "bridge"},
                          {"containerDefinitions", json::array({Web("v2", true)})}});
  Ok({"update-service", "--service", "web", "--task-definition", "svc"});
  Ok({"wait", "services-stable", "--services", "web"});
  load.Stop();

  EXPECT_EQ(load.failed(), 0) << load.first_failure() << " of " << load.sent();
  EXPECT_GT(load.sent(), 100);
  EXPECT_THAT(Spread(port, 20), (std::map<std::string, int>{{"v2", 20}}));
  json service = Ok({"describe-services", "--services", "web"});
  std::string events;
  for (const json& e : service["services"][0]["events"]) events += e["message"].get<std::string>();
  EXPECT_THAT(events, HasSubstr("registered 1 targets in (target-group " + group + ")"));
  EXPECT_THAT(events, HasSubstr("deregistered 1 targets in (target-group " + group + ")"));
}

// kill -9 of a task's process under load: HAProxy sends the next requests elsewhere (a refused
// connection is retried on another target), so at most the one request in flight is lost; the
// service replaces the task, whose new target joins.
TEST_F(LoadBalancingTest, AKilledTaskCostsAtMostTheRequestInFlight) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string group = CreateGroup("web");
  const int port = ServiceBehindListener(group, 2);
  ASSERT_TRUE(WaitForHealthyTargets(group, 2)) << ::testing::PrintToString(Health(group));
  const json before = Ok({"list-tasks", "--service-name", "web"})["taskArns"];

  PacedLoad load(port, 100, absl::Seconds(60));
  absl::SleepFor(absl::Milliseconds(500));
  std::vector<pid_t> httpds;
  for (pid_t pid : skiff::testing::ContainerProcessesUnder(containerd_->root_dir())) {
    std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
    std::string name;
    if (std::getline(comm, name) && name == "httpd") httpds.push_back(pid);
  }
  ASSERT_EQ(httpds.size(), 2u);
  ASSERT_EQ(kill(httpds[0], SIGKILL), 0);
  // The task stops (its essential container exited) and a new one takes its place.
  const absl::Time deadline = absl::Now() + kHealthyTimeout;
  json after = before;
  while (after == before && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    after = Ok({"list-tasks", "--service-name", "web"})["taskArns"];
  }
  EXPECT_NE(after, before);
  Ok({"wait", "services-stable", "--services", "web"});
  EXPECT_TRUE(WaitForHealthyTargets(group, 2)) << ::testing::PrintToString(Health(group));
  absl::SleepFor(absl::Milliseconds(500));
  load.Stop();
  EXPECT_LE(load.failed(), 1) << load.first_failure() << " of " << load.sent();
  EXPECT_GT(load.sent(), 100);
}

// ALBRequestCountPerTarget from HAProxy's own counters: 10 requests a second through the
// listener to one task is 600 a minute per target, ten times the target of 60, so the service
// scales out to its maximum 3 (skiffd samples every second here) and serves on without losing
// a request.
TEST_F(LoadBalancingTest, RequestsPerTargetScaleTheServiceOut) {
  ASSERT_NO_FATAL_FAILURE(Start({"--stats-interval", "1"}));
  const std::string group = CreateGroup("web");
  std::string lb;
  const int port = ServiceBehindListener(group, 1, &lb);
  ASSERT_TRUE(WaitForHealthyTargets(group, 1)) << ::testing::PrintToString(Health(group));
  // app/NAME/ID/targetgroup/NAME/ID, as ELB's ARNs end.
  const std::string label = absl::StrCat(lb.substr(lb.find(":loadbalancer/") + 14), "/",
                                         group.substr(group.rfind(':') + 1));
  std::vector<std::string> target = {"--service-namespace", "ecs", "--scalable-dimension",
                                     "ecs:service:DesiredCount", "--resource-id",
                                     "service/default/web"};
  auto as = [&target](std::vector<std::string> args) {
    args.insert(args.begin(), "application-autoscaling");
    args.insert(args.end(), target.begin(), target.end());
    return args;
  };
  Ok(as({"register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"}));
  Ok(as({"put-scaling-policy", "--policy-name", "requests", "--policy-type",
         "TargetTrackingScaling", "--target-tracking-scaling-policy-configuration",
         json({{"TargetValue", 60},
               {"PredefinedMetricSpecification",
                {{"PredefinedMetricType", "ALBRequestCountPerTarget"},
                 {"ResourceLabel", label}}},
               {"ScaleOutCooldown", 60},
               {"DisableScaleIn", true}}).dump()}));

  PacedLoad load(port, 10, absl::Seconds(40));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  json service;
  do {
    absl::SleepFor(absl::Milliseconds(500));
    service = Ok({"describe-services", "--services", "web"})["services"][0];
  } while (service["desiredCount"] != 3 && absl::Now() < deadline);
  ASSERT_EQ(service["desiredCount"], 3) << service.dump(2) << SkiffdLogTail(30);
  EXPECT_TRUE(WaitForHealthyTargets(group, 3)) << ::testing::PrintToString(Health(group));
  load.Stop();
  EXPECT_EQ(load.failed(), 0) << load.first_failure() << " of " << load.sent();

  // One decision, straight to the maximum: ceil(1 × ~600 / 60) = 10, capped at 3.
  const json activities = Ok({"application-autoscaling", "describe-scaling-activities",
                              "--service-namespace", "ecs"})["ScalingActivities"];
  ASSERT_EQ(activities.size(), 1u) << activities.dump(2);
  EXPECT_EQ(activities[0]["Description"], "Setting desired count to 3.");
  EXPECT_THAT(activities[0]["Cause"].get<std::string>(),
              HasSubstr("triggered policy requests (ALBRequestCountPerTarget"));
  std::cout << "cause: " << activities[0]["Cause"].get<std::string>() << "\n";
}

TEST_F(LoadBalancingTest, ATaskThatFailsItsElbChecksIsReplaced) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string lb = CreateLoadBalancer("web");
  const std::string group = CreateGroup("web");
  Listen(lb, FreePort(), group);
  // /health answers only while /www/health exists: the test removes it in one task.
  RegisterTaskDefinition({{"family", "svc"},
                          {"networkMode", "bridge"},
                          {"containerDefinitions", json::array({Web("v1", true)})}});
  Ok({"create-service", "--service-name", "web", "--task-definition", "svc", "--desired-count",
      "1", "--load-balancers",
      json::array({{{"targetGroupArn", group}, {"containerName", "web"}, {"containerPort", 80}}})
          .dump()});
  Ok({"wait", "services-stable", "--services", "web"});
  const std::string sick = Ok({"list-tasks", "--service-name", "web"})["taskArns"][0];
  Ok({"execute-command", "--task", sick, "--container", "web", "--command",
      "rm /www/health"});
  // Two failed checks at 5 s: unhealthy within ~15 s; the task is replaced.
  Ok({"wait", "tasks-stopped", "--tasks", sick});
  json stopped = DescribeTaskJson(sick.substr(sick.rfind('/') + 1));
  EXPECT_EQ(stopped.value("stoppedReason", ""),
            "Task failed ELB health checks in (target-group " + group + ")");
  Ok({"wait", "services-stable", "--services", "web"});
  json service = Ok({"describe-services", "--services", "web"});
  std::string events;
  for (const json& e : service["services"][0]["events"]) events += e["message"].get<std::string>();
  EXPECT_THAT(events, HasSubstr("failed ELB health checks in (target-group " + group + ")"));
}

}  // namespace
}  // namespace skiff::e2e

#include "lb_fixture.h"

#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "skiff/base/status_macros.h"
#include "support/http_backend.h"

namespace skiff::bench {
namespace {

using json = nlohmann::json;

// A bridge task serving `body` on / and "ok" on /health with busybox httpd (a process per
// connection, Connection: close); the shell, pid 1, exits at SIGTERM and takes httpd with it.
json WebDefinition(const std::string& family, const std::string& body) {
  const std::string script = absl::StrCat(
      "mkdir -p /www && echo ", body, " > /www/index.html && echo ok > /www/health && ",
      "trap 'exit 0' TERM; httpd -f -p ", LbFixture::kContainerPort, " -h /www & wait");
  const json container = {
      {"name", LbFixture::kContainer},
      {"image", skiff::testing::kTestImageRef},
      {"memory", 64},
      {"stopTimeout", 2},
      {"portMappings",
       json::array({{{"containerPort", LbFixture::kContainerPort}, {"hostPort", 0}}})},
      {"command", json::array({"sh", "-c", script})}};
  return {{"family", family},
          {"networkMode", "bridge"},
          {"containerDefinitions", json::array({container})}};
}

}  // namespace

// The string at JSON pointer `at` in `j`.
absl::StatusOr<std::string> StringAt(const json& j, const std::string& at) {
  const json::json_pointer pointer(at);
  if (!j.contains(pointer) || !j.at(pointer).is_string()) {
    return absl::InternalError(absl::StrCat("no string at ", at, " in ", j.dump()));
  }
  return j.at(pointer).get<std::string>();
}

absl::StatusOr<std::unique_ptr<LbFixture>> LbFixture::Create(BenchHarness* harness) {
  std::unique_ptr<LbFixture> fixture(new LbFixture(harness));
  SKIFF_ASSIGN_OR_RETURN(json lb, fixture->Cli({"elbv2", "create-load-balancer", "--name", "bench",
                                                "--subnets", "subnet-1"}));
  SKIFF_ASSIGN_OR_RETURN(fixture->load_balancer_, StringAt(lb, "/LoadBalancers/0/LoadBalancerArn"));
  SKIFF_RETURN_IF_ERROR(fixture->FindInstanceId());
  return fixture;
}

absl::Status LbFixture::RegisterWeb(const std::string& family, const std::string& body) {
  return harness_->client().RegisterTaskDefinition(WebDefinition(family, body).dump());
}

// skiffd names the node's container instance by the machine id (32 zeros without one).
absl::Status LbFixture::FindInstanceId() {
  std::string machine_id;
  std::ifstream("/etc/machine-id") >> machine_id;
  instance_id_ = machine_id.size() == 32 ? machine_id : std::string(32, '0');
  SKIFF_ASSIGN_OR_RETURN(
      json out, Cli({"describe-container-instances", "--container-instances", instance_id_}));
  SKIFF_ASSIGN_OR_RETURN(std::string arn,
                         StringAt(out, "/containerInstances/0/containerInstanceArn"));
  if (!absl::EndsWith(arn, "/" + instance_id_)) {
    return absl::InternalError(
        absl::StrCat("the node's container instance is ", arn, ", not ", instance_id_));
  }
  return absl::OkStatus();
}

absl::StatusOr<json> LbFixture::Cli(const std::vector<std::string>& args) const {
  SKIFF_ASSIGN_OR_RETURN(std::string out, harness_->Skiff(args));
  if (absl::StripAsciiWhitespace(out).empty()) return json::object();
  json parsed = json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InternalError(
        absl::StrCat("skiff ", absl::StrJoin(args, " "), ": not JSON: ", out));
  }
  return parsed;
}

absl::StatusOr<std::string> LbFixture::CreateGroup(const std::string& name, int interval) {
  std::vector<std::string> args = {"elbv2", "create-target-group", "--name", name};
  args.insert(args.end(), {"--protocol", "HTTP", "--port", absl::StrCat(kContainerPort), "--vpc-id",
                           "vpc-1", "--target-type", "instance", "--health-check-path", "/health"});
  if (interval != kAlbInterval) {
    args.insert(args.end(), {"--health-check-interval-seconds", absl::StrCat(interval),
                             "--health-check-timeout-seconds", "2"});
  }
  SKIFF_ASSIGN_OR_RETURN(json out, Cli(args));
  return StringAt(out, "/TargetGroups/0/TargetGroupArn");
}

// A listener on a free loopback port forwarding to `group`; its port.
absl::StatusOr<int> LbFixture::Listen(const std::string& group) {
  SKIFF_ASSIGN_OR_RETURN(int port, skiff::testing::PickFreeLoopbackPort());
  const std::string actions =
      json::array({{{"Type", "forward"}, {"TargetGroupArn", group}}}).dump();
  SKIFF_RETURN_IF_ERROR(
      Cli({"elbv2", "create-listener", "--load-balancer-arn", load_balancer_, "--protocol", "HTTP",
           "--port", absl::StrCat(port), "--default-actions", actions})
          .status());
  return port;
}

// `op` is register-targets or deregister-targets.
absl::Status LbFixture::Targets(const std::string& op, const std::string& group,
                                const std::vector<int>& ports) {
  json targets = json::array();
  for (int port : ports) targets.push_back({{"Id", instance_id_}, {"Port", port}});
  return Cli({"elbv2", op, "--target-group-arn", group, "--targets", targets.dump()}).status();
}

// Each target's state, by port.
absl::StatusOr<std::map<int, std::string>> LbFixture::Health(const std::string& group) {
  SKIFF_ASSIGN_OR_RETURN(json out,
                         Cli({"elbv2", "describe-target-health", "--target-group-arn", group}));
  std::map<int, std::string> states;
  for (const json& d : out.value("TargetHealthDescriptions", json::array())) {
    SKIFF_ASSIGN_OR_RETURN(std::string state, StringAt(d, "/TargetHealth/State"));
    if (!d.contains(json::json_pointer("/Target/Port"))) continue;
    states[d.at(json::json_pointer("/Target/Port")).get<int>()] = state;
  }
  return states;
}

absl::Status LbFixture::WaitForHealth(
    const std::string& group, const std::function<bool(const std::map<int, std::string>&)>& done,
    const std::string& what) {
  const absl::Time deadline = absl::Now() + kStateTimeout;
  std::map<int, std::string> seen;
  while (absl::Now() < deadline && !Interrupted()) {
    SKIFF_ASSIGN_OR_RETURN(seen, Health(group));
    if (done(seen)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::string last;
  for (const auto& [port, state] : seen) absl::StrAppend(&last, " ", port, ":", state);
  return absl::DeadlineExceededError(absl::StrCat("target group ", group, " never ", what,
                                                  "; last seen:", last.empty() ? " none" : last));
}

// Exactly `count` targets, every one healthy.
absl::Status LbFixture::WaitForHealthy(const std::string& group, int count) {
  return WaitForHealth(
      group,
      [count](const std::map<int, std::string>& states) {
        if (static_cast<int>(states.size()) != count) return false;
        for (const auto& [port, state] : states) {
          if (state != "healthy") return false;
        }
        return true;
      },
      absl::StrCat("had ", count, " healthy targets"));
}

// Runs a task of `family`, waits until it is RUNNING and answers `body` on its host port.
absl::StatusOr<WebTask> LbFixture::RunWeb(const std::string& family, const std::string& body) {
  v1::RunTaskRequest request;
  request.set_task_definition(family);
  SKIFF_ASSIGN_OR_RETURN(v1::RunTaskResponse started, harness_->client().RunTask(request));
  if (started.tasks_size() != 1) {
    return absl::InternalError(absl::StrCat("RunTask ", family, ": ", started.DebugString()));
  }
  SKIFF_ASSIGN_OR_RETURN(
      v1::Task task, harness_->client().WaitForTask(
                         started.tasks(0).task_arn(),
                         [](const v1::Task& t) { return t.last_status() == "RUNNING"; }, "RUNNING",
                         kStateTimeout));
  if (task.containers_size() != 1 || task.containers(0).network_bindings_size() != 1) {
    return absl::InternalError(absl::StrCat("no host port: ", task.DebugString()));
  }
  WebTask web{.arn = task.task_arn(), .port = task.containers(0).network_bindings(0).host_port()};
  SKIFF_RETURN_IF_ERROR(WaitForAnswer(web.port, body));
  return web;
}

// Until GET / on 127.0.0.1:port answers `body` (bounded).
absl::Status LbFixture::CheckAnswer(int port, const std::string& body) {
  absl::StatusOr<skiff::testing::HttpResponse> r =
      skiff::testing::HttpGet(port, "/", absl::Seconds(2));
  if (r.ok() && r->status == 200 && absl::StripAsciiWhitespace(r->body) == body) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "127.0.0.1:", port, " answered ",
      r.ok() ? absl::StrCat("HTTP ", r->status, " ", absl::StripAsciiWhitespace(r->body))
             : r.status().ToString(),
      ", not ", body));
}

absl::Status LbFixture::WaitForAnswer(int port, const std::string& body) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::Status last = CheckAnswer(port, body);
  while (!last.ok() && absl::Now() < deadline && !Interrupted()) {
    absl::SleepFor(absl::Milliseconds(50));
    last = CheckAnswer(port, body);
  }
  return last;
}

}  // namespace skiff::bench

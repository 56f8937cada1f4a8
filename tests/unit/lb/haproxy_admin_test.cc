// HaproxyAdmin's pure parts: reading `show stat`, the commands it writes and the codes it gives
// HAProxy's answers. No HAProxy; the answers are HAProxy 2.6.12's own (testdata/show_stat.csv is
// a capture with a frontend, an unchecked backend and servers UP, DRAIN, DOWN and MAINT).
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lb/admin_commands.h"
#include "skiff/lb/haproxy_admin.h"

namespace skiff::lb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Capture() {
  std::ifstream in(SKIFF_SOURCE_DIR "/tests/unit/lb/testdata/show_stat.csv");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const ServerStat* Find(const std::vector<ServerStat>& servers, const std::string& name) {
  for (const ServerStat& s : servers) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

TEST(ParseShowStatTest, KeepsServersAndSkipsFrontendAndBackendLines) {
  const std::string csv = Capture();
  ASSERT_THAT(csv, HasSubstr("web,FRONTEND,"));
  absl::StatusOr<std::vector<ServerStat>> servers = ParseShowStat(csv);
  ASSERT_TRUE(servers.ok()) << servers.status();
  std::vector<std::string> names;
  for (const ServerStat& s : *servers) names.push_back(s.backend + "/" + s.name);
  EXPECT_THAT(names, ElementsAre("app/task-1", "app/task-2", "app/task-3", "app/task-4",
                                 "api/api-1"));
}

TEST(ParseShowStatTest, ReadsStatusChecksAndCounters) {
  absl::StatusOr<std::vector<ServerStat>> servers = ParseShowStat(Capture());
  ASSERT_TRUE(servers.ok()) << servers.status();

  const ServerStat* up = Find(*servers, "task-1");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->status, "UP");
  EXPECT_EQ(up->check_status, "L7OK");
  EXPECT_EQ(up->check_code, 200);
  EXPECT_EQ(up->weight, 1);
  EXPECT_EQ(up->total_sessions, 1);
  EXPECT_EQ(up->current_sessions, 0);
  EXPECT_TRUE(up->up());

  const ServerStat* drain = Find(*servers, "task-2");
  ASSERT_NE(drain, nullptr);
  EXPECT_EQ(drain->status, "DRAIN");
  EXPECT_TRUE(drain->up());  // Up and draining: in-flight requests still finish on it.

  const ServerStat* down = Find(*servers, "task-3");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->status, "DOWN");
  EXPECT_EQ(down->check_status, "L7STS");
  EXPECT_EQ(down->check_code, 500);
  EXPECT_FALSE(down->up());

  const ServerStat* maint = Find(*servers, "task-4");
  ASSERT_NE(maint, nullptr);
  EXPECT_EQ(maint->status, "MAINT");
  EXPECT_EQ(maint->check_status, "");
  EXPECT_EQ(maint->check_code, 0);
  EXPECT_FALSE(maint->up());

  const ServerStat* unchecked = Find(*servers, "api-1");
  ASSERT_NE(unchecked, nullptr);
  EXPECT_EQ(unchecked->status, "no check");
  EXPECT_FALSE(unchecked->up());
}

TEST(ParseShowStatTest, ReadsQuotedFields) {
  const std::string csv =
      "# pxname,svname,scur,stot,status,weight,type,check_status,check_code,check_desc\n"
      "app,t1,3,17,UP,5,2,L7STS,503,\"Service, \"\"Unavailable\"\"\"\n";
  absl::StatusOr<std::vector<ServerStat>> servers = ParseShowStat(csv);
  ASSERT_TRUE(servers.ok()) << servers.status();
  ASSERT_EQ(servers->size(), 1u);
  EXPECT_EQ((*servers)[0].current_sessions, 3);
  EXPECT_EQ((*servers)[0].total_sessions, 17);
  EXPECT_EQ((*servers)[0].weight, 5);
  EXPECT_EQ((*servers)[0].check_code, 503);
}

TEST(ParseShowStatTest, AnEmptyTableHasNoServers) {
  absl::StatusOr<std::vector<ServerStat>> servers =
      ParseShowStat("# pxname,svname,scur,stot,status,weight,type,check_status,check_code\n\n");
  ASSERT_TRUE(servers.ok()) << servers.status();
  EXPECT_TRUE(servers->empty());
}

TEST(ParseShowStatTest, RejectsAnAnswerWithoutHeader) {
  // What the CLI says to a socket below `level operator`, say.
  absl::StatusOr<std::vector<ServerStat>> servers = ParseShowStat("Permission denied\n");
  EXPECT_EQ(servers.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseShowStat("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseShowStatTest, RejectsAHeaderWithoutANeededColumn) {
  absl::StatusOr<std::vector<ServerStat>> servers =
      ParseShowStat("# pxname,svname,scur,stot,weight,type,check_status,check_code\n");
  EXPECT_EQ(servers.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(servers.status().message()), HasSubstr("\"status\""));
}

TEST(ParseShowStatTest, RejectsATruncatedLine) {
  std::string csv = Capture();
  csv += "app,task-5,0,0,1\n";
  absl::StatusOr<std::vector<ServerStat>> servers = ParseShowStat(csv);
  EXPECT_EQ(servers.status().code(), absl::StatusCode::kInvalidArgument);
  // The capture has 9 lines and HAProxy's closing blank line.
  EXPECT_THAT(std::string(servers.status().message()), HasSubstr("line 11"));
}

TEST(ParseShowStatTest, RejectsANonNumericCounter) {
  const std::string csv =
      "# pxname,svname,scur,stot,status,weight,type,check_status,check_code\n"
      "app,t1,many,1,UP,1,2,L7OK,200\n";
  absl::StatusOr<std::vector<ServerStat>> servers = ParseShowStat(csv);
  EXPECT_EQ(servers.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(servers.status().message()), HasSubstr("scur"));
}

ServerSpec Spec() {
  ServerSpec spec;
  spec.backend = "tg-web";
  spec.name = "task-1.80";
  spec.address = "10.0.3.7";
  spec.port = 8080;
  spec.weight = 0;
  spec.interval = absl::Milliseconds(500);
  spec.rise = 1;
  spec.fall = 3;
  return spec;
}

TEST(AddServerCommandTest, AddsAtWeightZeroWithChecksAtOneInterval) {
  absl::StatusOr<std::string> command = AddServerCommand(Spec());
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(*command,
            "add server tg-web/task-1.80 10.0.3.7:8080 weight 0 check inter 500ms "
            "fastinter 500ms downinter 500ms rise 1 fall 3");
}

TEST(AddServerCommandTest, ChecksAnotherPortAndSetsACookie) {
  ServerSpec spec = Spec();
  spec.check_port = 9090;
  spec.cookie = "c1";
  spec.interval = absl::Seconds(30);
  absl::StatusOr<std::string> command = AddServerCommand(spec);
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(*command,
            "add server tg-web/task-1.80 10.0.3.7:8080 weight 0 check inter 30000ms "
            "fastinter 30000ms downinter 30000ms rise 1 fall 3 port 9090 cookie c1");
}

TEST(AddServerCommandTest, RampsUpOverTheSlowStart) {
  ServerSpec spec = Spec();
  spec.slow_start = absl::Seconds(30);
  absl::StatusOr<std::string> command = AddServerCommand(spec);
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(*command,
            "add server tg-web/task-1.80 10.0.3.7:8080 weight 0 check inter 500ms "
            "fastinter 500ms downinter 500ms rise 1 fall 3 slowstart 30000ms");
  spec.slow_start = absl::Seconds(-1);
  EXPECT_EQ(AddServerCommand(spec).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AddServerCommandTest, WithoutCheck) {
  ServerSpec spec = Spec();
  spec.check = false;
  spec.weight = 256;
  spec.check_port = 9090;  // Meaningless without a check, so left out.
  absl::StatusOr<std::string> command = AddServerCommand(spec);
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(*command, "add server tg-web/task-1.80 10.0.3.7:8080 weight 256");
}

TEST(AddServerCommandTest, BracketsAnIpv6Address) {
  ServerSpec spec = Spec();
  spec.check = false;
  spec.address = "fd00::7";
  absl::StatusOr<std::string> command = AddServerCommand(spec);
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(*command, "add server tg-web/task-1.80 [fd00::7]:8080 weight 0");
}

TEST(AddServerCommandTest, RejectsWhatHaproxyWouldRefuseOrMisread) {
  const auto code = [](auto mutate) {
    ServerSpec spec = Spec();
    mutate(spec);
    return AddServerCommand(spec).status().code();
  };
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code([](ServerSpec& s) { s.backend = ""; }), kInvalid);
  // A second command smuggled in through a name.
  EXPECT_EQ(code([](ServerSpec& s) { s.name = "x; shutdown sessions"; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.name = "x\nshow info"; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.backend = "a/b"; }), kInvalid);
  // HAProxy 2.6 took "notanaddr:80" and registered it.
  EXPECT_EQ(code([](ServerSpec& s) { s.address = "web.internal"; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.port = 0; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.port = 65536; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.weight = 257; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.weight = -1; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.rise = 0; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.interval = absl::ZeroDuration(); }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.check_port = 70000; }), kInvalid);
  EXPECT_EQ(code([](ServerSpec& s) { s.cookie = "a b"; }), kInvalid);
}

TEST(SetStateCommandTest, NamesEachState) {
  EXPECT_EQ(SetStateCommand("tg", "t1", ServerAdminState::kReady), "set server tg/t1 state ready");
  EXPECT_EQ(SetStateCommand("tg", "t1", ServerAdminState::kDrain), "set server tg/t1 state drain");
  EXPECT_EQ(SetStateCommand("tg", "t1", ServerAdminState::kMaint), "set server tg/t1 state maint");
}

// HAProxy 2.6.12's answers, verbatim (with its trailing new lines).
TEST(StatusFromAnswerTest, SuccessIsNothingOrTheExpectedSentence) {
  EXPECT_TRUE(StatusFromAnswer("enable server b/s", "\n").ok());
  EXPECT_TRUE(StatusFromAnswer("add server b/s 127.0.0.1:1", "New server registered.\n\n",
                               {"New server registered."})
                  .ok());
  EXPECT_TRUE(StatusFromAnswer("del server b/s", "Server deleted.", {"Server deleted."}).ok());
}

TEST(StatusFromAnswerTest, MapsHaproxysRefusalsToWhatTheCallerShouldDo) {
  const auto code = [](const char* answer) { return StatusFromAnswer("cmd", answer).code(); };
  EXPECT_EQ(code("No such backend."), absl::StatusCode::kNotFound);
  EXPECT_EQ(code("No such server.\n\n"), absl::StatusCode::kNotFound);
  EXPECT_EQ(code("Already exists a server with the same name in backend.\n\n"),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(code("Server still has connections attached to it, cannot remove it."),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code("Only servers in maintenance mode can be deleted."),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code("Health check was not configured on this server, cannot enable.\n\n"),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(code("Permission denied\n"), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(code("'cookie' option is not accepted for dynamic server\n\n"),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code("Absolute weight can only be between 0 and 256 inclusive.\n\n"),
            absl::StatusCode::kInvalidArgument);
}

TEST(StatusFromAnswerTest, TheMessageCarriesTheCommandAndHaproxysWords) {
  absl::Status status = StatusFromAnswer(
      "del server tg/t1", "Server still has connections attached to it, cannot remove it.");
  EXPECT_THAT(std::string(status.message()), HasSubstr("del server tg/t1"));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("Server still has connections attached to it, cannot remove it."));
}

TEST(ShowInfoFieldTest, ReadsAField) {
  const std::string info = "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: 24115\nUptime: 1s\n";
  EXPECT_EQ(ShowInfoField(info, "Pid"), "24115");
  EXPECT_EQ(ShowInfoField(info, "Version"), "2.6.12-1+deb12u4");
  EXPECT_EQ(ShowInfoField(info, "Nbthread"), "");
}

}  // namespace
}  // namespace skiff::lb

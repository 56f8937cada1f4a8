// skiff-dns, the node's resolver, as a process on loopback (ADR 0014): answers from the records
// file, reloads, forwarding past a silent upstream, SERVFAIL in bounded time, TCP, truncation,
// malformed input; and ResolverSupervisor's start, restart, adoption and shutdown. No root.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/base/files.h"
#include "skiff/base/process.h"
#include "skiff/discovery/records.h"
#include "skiff/discovery/resolver_process.h"
#include "support/dns_client.h"
#include "support/loopback.h"
#include "support/subprocess.h"

namespace skiff::discovery {
namespace {

using ::skiff::testing::AskDns;
using ::skiff::testing::DnsQuery;
using ::skiff::testing::DnsQueryOptions;
using ::skiff::testing::DnsResponse;
using ::skiff::testing::ParseDnsResponse;
using ::skiff::testing::SkiffDnsProcess;
using ::skiff::testing::TcpExchange;
using ::skiff::testing::UdpExchange;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr absl::Duration kTimeout = absl::Seconds(2);

Records Sample() {
  Records r;
  r.a["web.default.skiff.internal"] = {"10.213.0.5", "10.213.0.6"};
  r.a["idle.default.skiff.internal"] = {};
  r.srv["_http._tcp.web.default.skiff.internal"] = {{"10.213.0.5", 8080}};
  return r;
}

// A UDP socket on loopback that never answers: an upstream that is down.
class SilentUpstream {
 public:
  SilentUpstream() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = skiff::testing::LoopbackAddress(0);
    socklen_t length = sizeof(address);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentUpstream() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_;
  int port_;
};

class DnsResolverTest : public ::testing::Test {
 protected:
  std::unique_ptr<SkiffDnsProcess> Start(const Records& records,
                                         const std::vector<std::string>& upstreams,
                                         const std::string& dir) {
    absl::StatusOr<std::unique_ptr<SkiffDnsProcess>> p =
        SkiffDnsProcess::Start(SKIFF_DNS_BINARY, dir, records, upstreams);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  fakes::TempDir dir_;
  fakes::TempDir upstream_dir_;
  SilentUpstream silent_;
};

TEST_F(DnsResolverTest, AnswersTheZoneFromTheRecordsFile) {
  auto dns = Start(Sample(), {silent_.address()}, dir_.path());
  ASSERT_NE(dns, nullptr);
  absl::StatusOr<DnsResponse> a = AskDns(dns->port(), "web.default.skiff.internal", "A", kTimeout);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->rcode, "NOERROR");
  EXPECT_TRUE(a->aa);
  EXPECT_THAT(a->answer, ElementsAre("web.default.skiff.internal. 1 A 10.213.0.5",
                                     "web.default.skiff.internal. 1 A 10.213.0.6"));
  absl::StatusOr<DnsResponse> srv =
      AskDns(dns->port(), "_http._tcp.web.default.skiff.internal", "SRV", kTimeout);
  ASSERT_TRUE(srv.ok()) << srv.status();
  EXPECT_THAT(srv->answer, ElementsAre("_http._tcp.web.default.skiff.internal. 1 SRV 0 1 8080 "
                                       "10-213-0-5.web.default.skiff.internal."));
  EXPECT_THAT(srv->additional,
              ElementsAre("10-213-0-5.web.default.skiff.internal. 1 A 10.213.0.5"));
  absl::StatusOr<DnsResponse> missing =
      AskDns(dns->port(), "api.default.skiff.internal", "A", kTimeout);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->rcode, "NXDOMAIN");
  EXPECT_THAT(missing->authority, SizeIs(1));
  absl::StatusOr<DnsResponse> idle =
      AskDns(dns->port(), "idle.default.skiff.internal", "A", kTimeout);
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->rcode, "NOERROR");
  EXPECT_THAT(idle->answer, SizeIs(0));
  EXPECT_THAT(idle->authority, SizeIs(1));
}

TEST_F(DnsResolverTest, AReplacedRecordsFileIsAnsweredWithin100Ms) {
  auto dns = Start(Sample(), {silent_.address()}, dir_.path());
  ASSERT_NE(dns, nullptr);
  Records next = Sample();
  next.a["web.default.skiff.internal"] = {"10.213.0.9"};
  const absl::Time written = absl::Now();
  ASSERT_TRUE(WriteRecordsFile(RecordsPath(dir_.path()), next).ok());
  std::vector<std::string> answer;
  while (absl::Now() - written < absl::Milliseconds(100)) {
    absl::StatusOr<DnsResponse> a =
        AskDns(dns->port(), "web.default.skiff.internal", "A", kTimeout);
    if (a.ok()) answer = a->answer;
    if (answer.size() == 1) break;
  }
  EXPECT_THAT(answer, ElementsAre("web.default.skiff.internal. 1 A 10.213.0.9"))
      << "after " << absl::FormatDuration(absl::Now() - written);

  // A broken file keeps the last good records.
  ASSERT_TRUE(WriteFileAtomically(RecordsPath(dir_.path()), "{not json").ok());
  absl::SleepFor(absl::Milliseconds(50));
  absl::StatusOr<DnsResponse> kept =
      AskDns(dns->port(), "web.default.skiff.internal", "A", kTimeout);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_THAT(kept->answer, ElementsAre("web.default.skiff.internal. 1 A 10.213.0.9"));
}

TEST_F(DnsResolverTest, ForwardsPastASilentUpstreamToTheNextOverUdpAndTcp) {
  Records other;
  other.zone = "other.test";
  other.a["x.other.test"] = {"192.0.2.1"};
  auto upstream = Start(other, {silent_.address()}, upstream_dir_.path());
  ASSERT_NE(upstream, nullptr);
  auto dns = Start(Sample(), {silent_.address(), upstream->address()}, dir_.path());
  ASSERT_NE(dns, nullptr);
  const absl::Time start = absl::Now();
  absl::StatusOr<DnsResponse> udp = AskDns(dns->port(), "X.other.test", "A", absl::Seconds(3));
  ASSERT_TRUE(udp.ok()) << udp.status();
  EXPECT_EQ(udp->rcode, "NOERROR");
  EXPECT_THAT(udp->answer, ElementsAre("X.other.test. 1 A 192.0.2.1"));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(2500));
  absl::StatusOr<DnsResponse> tcp =
      AskDns(dns->port(), "x.other.test", "A", absl::Seconds(3), /*tcp=*/true);
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_THAT(tcp->answer, ElementsAre("x.other.test. 1 A 192.0.2.1"));
}

TEST_F(DnsResolverTest, ServfailWithinFiveSecondsWhenNoUpstreamAnswers) {
  auto dns = Start(Sample(), {silent_.address()}, dir_.path());
  ASSERT_NE(dns, nullptr);
  const absl::Time start = absl::Now();
  absl::StatusOr<DnsResponse> r = AskDns(dns->port(), "example.com", "A", absl::Seconds(6));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rcode, "SERVFAIL");
  EXPECT_EQ(r->id, 4242);
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(3900));
  EXPECT_LE(took, absl::Seconds(5));
}

TEST_F(DnsResolverTest, AnswersOverTcp) {
  auto dns = Start(Sample(), {silent_.address()}, dir_.path());
  ASSERT_NE(dns, nullptr);
  absl::StatusOr<DnsResponse> r =
      AskDns(dns->port(), "web.default.skiff.internal", "A", kTimeout, /*tcp=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->answer, SizeIs(2));
}

TEST_F(DnsResolverTest, TruncatedOverUdpThenWholeOverTcpWithDig) {
  Records many = Sample();
  std::vector<std::string>& list = many.a["big.default.skiff.internal"];
  for (int i = 1; i <= 200; ++i) list.push_back(absl::StrCat("10.213.1.", i));
  auto dns = Start(many, {silent_.address()}, dir_.path());
  ASSERT_NE(dns, nullptr);
  absl::StatusOr<DnsResponse> udp = AskDns(dns->port(), "big.default.skiff.internal", "A",
                                           kTimeout);
  ASSERT_TRUE(udp.ok()) << udp.status();
  EXPECT_TRUE(udp->tc);
  // dig retries over TCP on TC, as glibc does.
  absl::StatusOr<skiff::testing::CommandResult> dig = skiff::testing::RunCommand(
      {"dig", "+noedns", "+short", "+tries=1", "+time=2", "-p", absl::StrCat(dns->port()),
       "@127.0.0.1", "big.default.skiff.internal", "A"},
      absl::Seconds(10));
  ASSERT_TRUE(dig.ok()) << dig.status();
  EXPECT_EQ(dig->exit_code, 0) << dig->stderr_text;
  const std::vector<std::string> lines =
      absl::StrSplit(dig->stdout_text, '\n', absl::SkipEmpty());
  EXPECT_THAT(lines, SizeIs(200));
}

TEST_F(DnsResolverTest, MalformedQueriesGetTheirRcodeOrNothingAndAnswersGoOn) {
  auto dns = Start(Sample(), {silent_.address()}, dir_.path());
  ASSERT_NE(dns, nullptr);
  const auto rcode_of = [&](const std::string& wire) -> std::string {
    absl::StatusOr<std::string> r = UdpExchange(dns->port(), wire, absl::Milliseconds(300));
    if (!r.ok()) return "no answer";
    absl::StatusOr<DnsResponse> parsed = ParseDnsResponse(*r);
    return parsed.ok() ? parsed->rcode : "unparseable";
  };
  EXPECT_EQ(rcode_of(DnsQuery("web.default.skiff.internal", "A", {.question_count = 2})),
            "FORMERR");
  EXPECT_EQ(rcode_of(DnsQuery("web.default.skiff.internal", "A", {.rr_class = "CH"})),
            "REFUSED");
  EXPECT_EQ(rcode_of(std::string("\x01", 1)), "no answer");
  std::mt19937 random(19);
  for (int i = 0; i < 200; ++i) {
    std::string junk(1 + random() % 600, '\0');
    for (char& c : junk) c = static_cast<char>(random());
    if (junk.size() < 3) continue;
    junk[2] = static_cast<char>(junk[2] & 0x7f);  // A query, not a response.
    EXPECT_NE(rcode_of(junk), "unparseable") << i;
  }
  const std::string oversized(65000, '\x07');
  EXPECT_EQ(rcode_of(oversized), "FORMERR");
  absl::StatusOr<std::string> tcp_junk = TcpExchange(dns->port(), oversized, kTimeout);
  ASSERT_TRUE(tcp_junk.ok()) << tcp_junk.status();
  EXPECT_EQ(ParseDnsResponse(*tcp_junk)->rcode, "FORMERR");
  absl::StatusOr<DnsResponse> after =
      AskDns(dns->port(), "web.default.skiff.internal", "A", kTimeout);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(after->answer, SizeIs(2));
}

// ResolverSupervisor against the real binary. Whatever happens, the test stops the skiff-dns
// named in the pid file (when it is skiff-dns) so that none outlives it.
class ResolverSupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<int> port = skiff::testing::PickFreeDnsPort();
    ASSERT_TRUE(port.ok()) << port.status();
    settings_.binary = SKIFF_DNS_BINARY;
    settings_.dir = dir_.path();
    settings_.listen = {absl::StrCat("127.0.0.1:", *port)};
    settings_.upstreams = {silent_.address()};
    port_ = *port;
    ASSERT_TRUE(WriteRecordsFile(RecordsPath(dir_.path()), Sample()).ok());
  }
  void TearDown() override {
    if (absl::StatusOr<pid_t> pid = ReadPidFile(PidFile()); pid.ok()) {
      const std::vector<std::string> argv = LiveCommandLine(*pid);
      if (!argv.empty() && argv[0] == SKIFF_DNS_BINARY) kill(*pid, SIGKILL);
    }
  }
  std::string PidFile() const { return dir_.path() + "/skiff-dns.pid"; }
  pid_t CurrentPid() const { return ReadPidFile(PidFile()).value_or(-1); }
  bool Answers() const {
    absl::StatusOr<DnsResponse> r =
        AskDns(port_, "web.default.skiff.internal", "A", absl::Milliseconds(200));
    return r.ok() && r->answer.size() == 2;
  }

  fakes::TempDir dir_;
  SilentUpstream silent_;
  ResolverSettings settings_;
  int port_ = 0;
};

TEST_F(ResolverSupervisorTest, StartsRestartsAfterKillAdoptsAndStops) {
  absl::StatusOr<std::unique_ptr<ResolverSupervisor>> first = ResolverSupervisor::Create(settings_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(Answers());
  const pid_t pid = CurrentPid();
  ASSERT_GT(pid, 1);

  ASSERT_EQ(kill(pid, SIGKILL), 0);
  const absl::Time killed = absl::Now();
  while (!(CurrentPid() != pid && Answers()) && absl::Now() - killed < absl::Seconds(3)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  const absl::Duration restart = absl::Now() - killed;
  EXPECT_NE(CurrentPid(), pid);
  EXPECT_TRUE(Answers());
  EXPECT_LT(restart, absl::Milliseconds(1200)) << absl::FormatDuration(restart);

  // skiffd's exit leaves it running; the next skiffd adopts it.
  const pid_t restarted = CurrentPid();
  (*first)->Shutdown(false);
  EXPECT_FALSE(LiveCommandLine(restarted).empty());
  absl::StatusOr<std::unique_ptr<ResolverSupervisor>> second =
      ResolverSupervisor::Create(settings_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(CurrentPid(), restarted);

  (*second)->Shutdown(true);
  EXPECT_FALSE(std::filesystem::exists(PidFile()));
  const absl::Time stopped = absl::Now();
  while (!LiveCommandLine(restarted).empty() && absl::Now() - stopped < absl::Seconds(3)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(LiveCommandLine(restarted).empty());
  EXPECT_FALSE(Answers());
}

TEST_F(ResolverSupervisorTest, OtherSettingsReplaceTheRunningResolver) {
  absl::StatusOr<std::unique_ptr<ResolverSupervisor>> first = ResolverSupervisor::Create(settings_);
  ASSERT_TRUE(first.ok()) << first.status();
  const pid_t pid = CurrentPid();
  (*first)->Shutdown(false);
  settings_.upstreams.clear();
  absl::StatusOr<std::unique_ptr<ResolverSupervisor>> second =
      ResolverSupervisor::Create(settings_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(CurrentPid(), pid);
  EXPECT_TRUE(LiveCommandLine(pid).empty());
  EXPECT_TRUE(Answers());
  (*second)->Shutdown(true);
}

TEST_F(ResolverSupervisorTest, AnAddressItCannotBindIsTheError) {
  SilentUpstream taken;  // Holds a UDP port on loopback.
  settings_.listen = {taken.address()};
  absl::StatusOr<std::unique_ptr<ResolverSupervisor>> s = ResolverSupervisor::Create(settings_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("cannot bind UDP " + taken.address()));
  EXPECT_FALSE(std::filesystem::exists(PidFile()));
  settings_.binary = "/nonexistent/skiff-dns";
  settings_.listen = {absl::StrCat("127.0.0.1:", port_)};
  EXPECT_EQ(ResolverSupervisor::Create(settings_).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff::discovery

#include "skiff/daemon/options.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace skiff::daemon {
namespace {

ParseResult Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "skiffd");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(OptionsTest, TheProgressDeadlineIsOffByDefault) {
  ParseResult parsed = Parse({});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  EXPECT_EQ(std::get<Options>(parsed).deployment_progress_deadline, absl::ZeroDuration());
}

TEST(OptionsTest, TheProgressDeadlineTakesADuration) {
  ParseResult parsed = Parse({"--deployment-progress-deadline", "30m"});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  EXPECT_EQ(std::get<Options>(parsed).deployment_progress_deadline, absl::Minutes(30));
}

TEST(OptionsTest, AProgressDeadlineUnderAMinuteOrNotADurationIsAUsageError) {
  for (const char* bad : {"30s", "soon", "-5m"}) {
    ParseResult parsed = Parse({"--deployment-progress-deadline", bad});
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << bad;
    EXPECT_EQ(std::get<int>(parsed), 2) << bad;
  }
}

TEST(OptionsTest, StatsAreSampledEveryTenSecondsUnlessTold) {
  ParseResult defaults = Parse({});
  ASSERT_TRUE(std::holds_alternative<Options>(defaults));
  EXPECT_EQ(std::get<Options>(defaults).stats_interval, absl::Seconds(10));
  ParseResult one = Parse({"--stats-interval", "1"});
  ASSERT_TRUE(std::holds_alternative<Options>(one));
  EXPECT_EQ(std::get<Options>(one).stats_interval, absl::Seconds(1));
}

TEST(OptionsTest, AStatsIntervalOfZeroOrNotANumberIsAUsageErrorNamingTheFlag) {
  for (const char* bad : {"0", "-3", "fast", "1.5"}) {
    testing::internal::CaptureStderr();
    ParseResult parsed = Parse({"--stats-interval", bad});
    const std::string err = testing::internal::GetCapturedStderr();
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << bad;
    EXPECT_EQ(std::get<int>(parsed), 2) << bad;
    EXPECT_NE(err.find("--stats-interval"), std::string::npos) << err;
  }
}

TEST(OptionsTest, TheAwsApiServesOnLoopbackByDefaultWithItsKeysInTheStateDir) {
  ParseResult defaults = Parse({"--state-dir", "/srv/skiff"});
  ASSERT_TRUE(std::holds_alternative<Options>(defaults));
  EXPECT_EQ(std::get<Options>(defaults).http_address, "127.0.0.1:7557");
  EXPECT_EQ(std::get<Options>(defaults).aws_credentials, "/srv/skiff/aws-credentials");
  for (const char* loopback : {"127.0.0.1:0", "127.8.9.1:80", "[::1]:7557", "localhost:1", ""}) {
    EXPECT_TRUE(std::holds_alternative<Options>(Parse({"--http-address", loopback})))
        << loopback;
  }
}

TEST(OptionsTest, PlainHttpOffLoopbackOrHalfATlsPairIsAUsageError) {
  const std::vector<std::vector<std::string>> refused = {
      {"--http-address", "0.0.0.0:7557"},
      {"--http-address", "192.168.1.5:7557"},
      {"--http-address", "[::]:7557"},
      {"--http-address", "127.0.0.1"},
      {"--http-address", "127.0.0.1:70000"},
      {"--http-tls-cert", "/etc/skiff/cert.pem"},
  };
  for (const auto& flags : refused) {
    ParseResult parsed = Parse(flags);
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << flags[1];
    EXPECT_EQ(std::get<int>(parsed), 2) << flags[1];
  }
  EXPECT_TRUE(std::holds_alternative<Options>(
      Parse({"--http-address", "0.0.0.0:7557", "--http-tls-cert", "c.pem", "--http-tls-key",
             "k.pem"})));
}

TEST(OptionsTest, NetworkingFlagsAndTheirDefaults) {
  ParseResult defaults = Parse({});
  ASSERT_TRUE(std::holds_alternative<Options>(defaults));
  const Options& d = std::get<Options>(defaults);
  EXPECT_EQ(d.bridge, "skiff0");
  EXPECT_EQ(d.subnet, "10.213.0.0/16");
  EXPECT_EQ(d.reserved_ports, (std::vector<int>{22, 2375, 2376, 51678, 51679, 51680}));
  EXPECT_LE(d.dynamic_port_low, d.dynamic_port_high);

  ParseResult parsed = Parse({"--bridge", "lab0", "--subnet", "10.99.0.0/24",
                              "--dynamic-host-ports", "40000-40100", "--reserved-ports", "22,80"});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  const Options& o = std::get<Options>(parsed);
  EXPECT_EQ(o.bridge, "lab0");
  EXPECT_EQ(o.subnet, "10.99.0.0/24");
  EXPECT_EQ(o.dynamic_port_low, 40000);
  EXPECT_EQ(o.dynamic_port_high, 40100);
  EXPECT_EQ(o.reserved_ports, (std::vector<int>{22, 80}));
}

TEST(OptionsTest, BadPortRangesAndListsAreUsageErrors) {
  for (const char* bad : {"40100-40000", "0-10", "1-70000", "40000"}) {
    ParseResult parsed = Parse({"--dynamic-host-ports", bad});
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << bad;
    EXPECT_EQ(std::get<int>(parsed), 2) << bad;
  }
  ParseResult parsed = Parse({"--reserved-ports", "22,http"});
  ASSERT_TRUE(std::holds_alternative<int>(parsed));
  EXPECT_EQ(std::get<int>(parsed), 2);
}

TEST(OptionsTest, RegistryFlags) {
  ParseResult defaults = Parse({});
  ASSERT_TRUE(std::holds_alternative<Options>(defaults));
  EXPECT_EQ(std::get<Options>(defaults).image_pull_behavior, scheduler::PullBehavior::kDefault);
  EXPECT_TRUE(std::get<Options>(defaults).insecure_registries.empty());
  EXPECT_EQ(std::get<Options>(defaults).registry_credentials, "");

  ParseResult parsed = Parse({"--image-pull-behavior", "prefer-cached", "--insecure-registries",
                              "reg.lan:5000, 10.0.0.9", "--registry-credentials", "/etc/c.json"});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  const Options& o = std::get<Options>(parsed);
  EXPECT_EQ(o.image_pull_behavior, scheduler::PullBehavior::kPreferCached);
  EXPECT_EQ(o.insecure_registries, (std::vector<std::string>{"reg.lan:5000", "10.0.0.9"}));
  EXPECT_EQ(o.registry_credentials, "/etc/c.json");

  ParseResult bad = Parse({"--image-pull-behavior", "sometimes"});
  ASSERT_TRUE(std::holds_alternative<int>(bad));
  EXPECT_EQ(std::get<int>(bad), 2);
}

TEST(OptionsTest, ListenersBindEveryAddressUnlessTold) {
  ParseResult defaults = Parse({});
  ASSERT_TRUE(std::holds_alternative<Options>(defaults));
  EXPECT_EQ(std::get<Options>(defaults).lb_address, "0.0.0.0");
  EXPECT_EQ(std::get<Options>(defaults).haproxy_binary, "/usr/sbin/haproxy");
  ParseResult loopback = Parse({"--lb-address", "127.0.0.1"});
  ASSERT_TRUE(std::holds_alternative<Options>(loopback));
  EXPECT_EQ(std::get<Options>(loopback).lb_address, "127.0.0.1");
  for (const char* bad : {"localhost", "::1", "10.0.0.300", ""}) {
    ParseResult parsed = Parse({"--lb-address", bad});
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << bad;
    EXPECT_EQ(std::get<int>(parsed), 2) << bad;
  }
}

TEST(OptionsTest, DiscoveryDefaultsToSkiffInternalAndSkiffDnsBesideSkiffd) {
  ParseResult parsed = Parse({});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  const Options& o = std::get<Options>(parsed);
  EXPECT_EQ(o.dns_zone, "skiff.internal");
  EXPECT_TRUE(o.dns_upstreams.empty());
  EXPECT_TRUE(o.skiff_dns_binary.ends_with("/skiff-dns")) << o.skiff_dns_binary;
}

TEST(OptionsTest, DiscoveryTakesAZoneAndUpToThreeUpstreams) {
  ParseResult parsed = Parse({"--dns-zone", "Corp.Example", "--dns-upstream", "127.0.0.1:5353",
                              "--dns-upstream", "10.0.0.2", "--skiff-dns", "/opt/skiff-dns"});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  const Options& o = std::get<Options>(parsed);
  EXPECT_EQ(o.dns_zone, "corp.example");
  EXPECT_EQ(o.dns_upstreams, (std::vector<std::string>{"127.0.0.1:5353", "10.0.0.2"}));
  EXPECT_EQ(o.skiff_dns_binary, "/opt/skiff-dns");
}

TEST(OptionsTest, AZoneThatIsNoDnsNameOrABadUpstreamIsAUsageError) {
  const std::string long_label = "x." + std::string(64, 'a');
  for (const std::string& zone : {std::string(), std::string("skiff..internal"),
                                  std::string("-skiff.internal"), std::string("skiff_internal.x"),
                                  std::string("a.b."), long_label}) {
    ParseResult parsed = Parse({"--dns-zone", zone});
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << zone;
    EXPECT_EQ(std::get<int>(parsed), 2) << zone;
  }
  for (const char* upstream : {"dns.example", "10.0.0.1:0", "10.0.0.1:x"}) {
    ParseResult parsed = Parse({"--dns-upstream", upstream});
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << upstream;
  }
  ParseResult four = Parse({"--dns-upstream", "10.0.0.1", "--dns-upstream", "10.0.0.2",
                            "--dns-upstream", "10.0.0.3", "--dns-upstream", "10.0.0.4"});
  ASSERT_TRUE(std::holds_alternative<int>(four));
}

}  // namespace
}  // namespace skiff::daemon

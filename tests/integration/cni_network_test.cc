// CniNetwork against the real plugins of Debian's containernetworking-plugins, on a bridge and
// /24 of this test's own (support/test_subnet.h): Attach makes a namespace with lo up and an
// address on the bridge, Detach takes everything back (namespace, record, lease, veth, rules),
// also after a crash (a record without a result) and after a reboot (a plain file where the
// namespace was). The test looks into the namespaces with nsenter; no traffic leaves them.
#include "skiff/network/cni_network.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/containerd_fixture.h"
#include "support/host_state.h"
#include "support/subprocess.h"
#include "support/test_subnet.h"

namespace skiff::network {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string Command(const std::vector<std::string>& argv) {
  absl::StatusOr<skiff::testing::CommandResult> r =
      skiff::testing::RunCommand(argv, absl::Seconds(20));
  return r.ok() ? r->stdout_text + r->stderr_text : r.status().ToString();
}

class CniNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (getuid() != 0) {
      if (skiff::testing::RunningInCi()) GTEST_FAIL() << "needs root (CI is set)";
      GTEST_SKIP() << "needs root";
    }
    auto subnet = skiff::testing::TestSubnet::Claim();
    ASSERT_TRUE(subnet.ok()) << subnet.status();
    subnet_ = *std::move(subnet);
    config_ = {.bridge = subnet_->bridge(),
               .subnet = subnet_->subnet(),
               .state_dir = dir_.path() + "/network",
               .netns_dir = dir_.path() + "/netns"};
    auto network = NewCniNetwork(config_);
    ASSERT_TRUE(network.ok()) << network.status();
    network_ = *std::move(network);
  }

  void TearDown() override {
    if (network_ != nullptr) {
      auto ids = network_->List();
      for (const std::string& id : ids.ok() ? *ids : std::vector<std::string>{}) {
        network_->Detach(id).IgnoreError();
      }
    }
    if (subnet_ != nullptr) Command({"ip", "link", "del", subnet_->bridge()});
  }

  std::string InNamespace(const std::string& netns, const std::vector<std::string>& argv) {
    std::vector<std::string> full = {"nsenter", "--net=" + netns};
    full.insert(full.end(), argv.begin(), argv.end());
    return Command(full);
  }
  std::vector<std::string> Leases() const {
    std::vector<std::string> out;
    for (const std::string& f : skiff::testing::ListDir(
             config_.state_dir + "/ipam/skiff-" + subnet_->bridge())) {
      if (absl::StartsWith(f, subnet_->prefix())) out.push_back(f);
    }
    return out;
  }
  size_t Rules() const {
    size_t n = 0;
    for (const char* table : {"nat", "filter"}) {
      for (absl::string_view line :
           absl::StrSplit(Command({"iptables", "-t", table, "-S"}), '\n', absl::SkipEmpty())) {
        n += absl::StrContains(line, subnet_->prefix());
      }
    }
    return n;
  }

  fakes::TempDir dir_;
  std::unique_ptr<skiff::testing::TestSubnet> subnet_;
  CniConfig config_;
  std::unique_ptr<TaskNetwork> network_;
};

TEST_F(CniNetworkTest, AttachGivesAnAddressOnTheBridgeAndDetachTakesEverythingBack) {
  absl::StatusOr<Attachment> a =
      network_->Attach("task1-web", {{.container_port = 80, .host_port = 18081}});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(absl::StartsWith(a->ip, subnet_->prefix())) << a->ip;
  EXPECT_EQ(a->gateway, subnet_->gateway());
  EXPECT_EQ(a->prefix_length, 24);
  EXPECT_FALSE(a->mac.empty());
  EXPECT_EQ(a->netns_path, config_.netns_dir + "/task1-web");
  EXPECT_THAT(InNamespace(a->netns_path, {"ip", "-4", "addr", "show", "eth0"}),
              HasSubstr(a->ip + "/24"));
  EXPECT_THAT(InNamespace(a->netns_path, {"ip", "link", "show", "lo"}), HasSubstr("UP"));
  EXPECT_THAT(Command({"ip", "-4", "addr", "show", subnet_->bridge()}),
              HasSubstr(subnet_->gateway() + "/24"));
  EXPECT_THAT(Leases(), ::testing::ElementsAre(a->ip));
  // portmap's DNAT for the published port, firewall's FORWARD accept for the address.
  EXPECT_THAT(Command({"iptables", "-t", "nat", "-S"}), HasSubstr("--dport 18081"));
  EXPECT_GT(Rules(), 0u);
  EXPECT_THAT(*network_->List(), ::testing::ElementsAre("task1-web"));
  EXPECT_TRUE(absl::IsAlreadyExists(network_->Attach("task1-web", {}).status()));

  ASSERT_TRUE(network_->Detach("task1-web").ok());
  EXPECT_FALSE(std::filesystem::exists(a->netns_path));
  EXPECT_THAT(Leases(), IsEmpty());
  EXPECT_EQ(Rules(), 0u);
  EXPECT_THAT(Command({"iptables", "-t", "nat", "-S"}), Not(HasSubstr("--dport 18081")));
  EXPECT_THAT(Command({"ip", "-o", "link", "show", "master", subnet_->bridge()}),
              Not(HasSubstr("veth")));
  EXPECT_THAT(*network_->List(), IsEmpty());
  EXPECT_TRUE(network_->Detach("task1-web").ok());  // Twice is fine.
}

TEST_F(CniNetworkTest, TwoNamespacesReachEachOtherOverTheBridge) {
  absl::StatusOr<Attachment> a = network_->Attach("a", {});
  absl::StatusOr<Attachment> b = network_->Attach("b", {});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->ip, b->ip);
  // One ping between the test's own namespaces (busybox-static's), bounded by -W.
  EXPECT_THAT(InNamespace(a->netns_path, {"busybox", "ping", "-c", "1", "-W", "5", b->ip}),
              HasSubstr("1 packets received"));
}

TEST_F(CniNetworkTest, DetachUndoesWhatACrashOrARebootLeft) {
  // A crash after the namespace and its record, before any plugin ran.
  ASSERT_TRUE(network_->Attach("crashed", {}).ok());
  std::ofstream(config_.state_dir + "/results/crashed.json", std::ios::trunc)
      << R"({"netns": "x", "ports": []})";
  // A reboot: the namespace file is left, no longer a mount.
  std::ofstream(config_.netns_dir + "/rebooted") << "";
  EXPECT_THAT(*network_->List(), ::testing::ElementsAre("crashed", "rebooted"));
  EXPECT_TRUE(network_->Detach("rebooted").ok());
  EXPECT_TRUE(network_->Detach("crashed").ok());
  EXPECT_THAT(*network_->List(), IsEmpty());
  EXPECT_THAT(skiff::testing::MountsUnder(config_.netns_dir), IsEmpty());
}

// A plugin that answers ADD with output of the wrong shape: the attach fails with the plugin and
// the field named (nlohmann's typed access would have thrown and ended skiffd), and is undone.
TEST_F(CniNetworkTest, MalformedPluginOutputFailsTheAttachNamingTheField) {
  const std::string plugins = dir_.path() + "/plugins";
  std::filesystem::create_directories(plugins);
  for (const char* plugin : {"loopback", "host-local", "portmap", "firewall"}) {
    std::filesystem::create_symlink(absl::StrCat(kDefaultPluginDir, "/", plugin),
                                    absl::StrCat(plugins, "/", plugin));
  }
  {
    std::ofstream bridge(plugins + "/bridge");
    bridge << "#!/bin/sh\ncat >/dev/null\n"
              "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
              "  echo '{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": 5}]}'\n"
              "fi\n";
  }
  std::filesystem::permissions(plugins + "/bridge", std::filesystem::perms::owner_all);
  CniConfig config = config_;
  config.plugin_dir = plugins;
  auto network = NewCniNetwork(config);
  ASSERT_TRUE(network.ok()) << network.status();

  absl::StatusOr<Attachment> a = (*network)->Attach("broken", {});
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(a.status().message(),
            "CNI bridge ADD: plugin result: ips[0].address: not a string but a number");
  EXPECT_THAT(*(*network)->List(), IsEmpty());
  EXPECT_THAT(skiff::testing::MountsUnder(config_.netns_dir), IsEmpty());
}

TEST(CniConfigTest, BadSettingsAreRefusedWithTheSettingNamed) {
  CniConfig config{.state_dir = "/nonexistent", .netns_dir = "/nonexistent"};
  for (const char* subnet : {"10.0.0.0", "10.0.0.1/24", "10.0.0.0/31", "300.0.0.0/16", "fd00::/64"}) {
    config.subnet = subnet;
    absl::Status s = ValidateCniConfig(config);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << subnet << ": " << s;
    EXPECT_TRUE(absl::StartsWith(s.message(), "subnet: ")) << s;
  }
  config.subnet = "10.213.0.0/16";
  config.bridge = "a-name-much-too-long";
  EXPECT_TRUE(absl::StartsWith(ValidateCniConfig(config).message(), "bridge: "));
  config.bridge = "skiff0";
  config.plugin_dir = "/nonexistent";
  absl::Status missing = ValidateCniConfig(config);
  EXPECT_TRUE(absl::IsFailedPrecondition(missing)) << missing;
  EXPECT_THAT(std::string(missing.message()), HasSubstr("containernetworking-plugins"));
}

// In a network namespace of its own whose route overlaps 10.213.0.0/16: what ValidateCniConfig
// says of a bad bridge name, then of a good one, on stderr. Runs in a death test's child.
[[noreturn]] void ValidateWithAnOverlappingRoute() {
  if (unshare(CLONE_NEWNET) != 0 ||
      std::system("ip link add d0 type veth peer name d1 && ip addr add 10.213.1.1/24 dev d0 "
                  "&& ip link set d0 up && ip link set d1 up") != 0) {
    _exit(2);
  }
  CniConfig config{.bridge = "a-name-much-too-long", .subnet = "10.213.0.0/16"};
  std::fprintf(stderr, "%s\n", ValidateCniConfig(config).ToString().c_str());
  config.bridge = "skiff-ok";
  std::fprintf(stderr, "%s\n", ValidateCniConfig(config).ToString().c_str());
  _exit(0);
}

// Seen: a newcomer's quickstart skiffd kept bridge skiff0 with the default subnet, and a test's
// bad bridge name was reported as a subnet overlap. Settings are judged before the host is.
TEST(CniConfigTest, ABadBridgeNameIsNamedWhateverRoutesTheHostHas) {
  if (getuid() != 0) {
    if (skiff::testing::RunningInCi()) GTEST_FAIL() << "needs root (CI is set)";
    GTEST_SKIP() << "needs root";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(ValidateWithAnOverlappingRoute(), ::testing::ExitedWithCode(0),
              "INVALID_ARGUMENT: bridge: must be 1 to 15 .*\n"
              "INVALID_ARGUMENT: subnet: 10.213.0.0/16 overlaps the route d0 10.213.1.0/24");
}

TEST(CniConfigTest, ASecondClaimOfABridgeIsRefusedNamingItsHolderAndTheFlags) {
  fakes::TempDir dir;
  CniConfig config{.bridge = "skiffclaim0", .subnet = "10.213.0.0/16", .state_dir = "/var/x"};
  auto first = ClaimBridge(config, dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = ClaimBridge(config, dir.path());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_THAT(std::string(second.status().message()),
              AllOf(HasSubstr("bridge: skiffclaim0 is in use by another skiffd (pid "),
                    HasSubstr("subnet 10.213.0.0/16, state dir /var/x"),
                    HasSubstr("--bridge and --subnet")));
  // Another bridge is another claim; the first is free again once released.
  config.bridge = "skiffclaim1";
  EXPECT_TRUE(ClaimBridge(config, dir.path()).ok());
  config.bridge = "skiffclaim0";
  first->reset();
  EXPECT_TRUE(ClaimBridge(config, dir.path()).ok());
}

}  // namespace
}  // namespace skiff::network

#include "skiff/network/etc_files.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::network {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(EtcFilesTest, HostsHaveLocalhostTheContainerAndItsExtraHosts) {
  const std::string hosts =
      HostsFile("web", "10.213.0.7", {{"db.internal", "10.0.0.5"}, {"cache", "10.0.0.6"}});
  EXPECT_THAT(hosts, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(hosts, HasSubstr("10.213.0.7\tweb\n"));
  EXPECT_THAT(hosts, HasSubstr("10.0.0.5\tdb.internal\n10.0.0.6\tcache\n"));
}

TEST(EtcFilesTest, ResolvConfTakesTheDefinitionsServersAndSearchDomains) {
  const std::string host = "nameserver 192.168.1.1\nsearch corp.example\noptions ndots:2\n";
  EXPECT_EQ(ResolvConf({"10.0.0.2"}, {"svc.local"}, host),
            "search svc.local\nnameserver 10.0.0.2\noptions ndots:2\n");
}

TEST(EtcFilesTest, ResolvConfFallsBackToTheHostsNonLoopbackResolvers) {
  const std::string host =
      "# generated\nnameserver 127.0.0.53\nnameserver 192.168.1.1\nnameserver ::1\n"
      "search corp.example lab.example\n";
  const std::string resolv = ResolvConf({}, {}, host);
  EXPECT_EQ(resolv, "search corp.example lab.example\nnameserver 192.168.1.1\n");
  EXPECT_THAT(resolv, Not(HasSubstr("127.0.0.53")));
}

}  // namespace
TEST(EtcFilesTest, WithDiscoveryTheNodesResolverAndTheClustersDomainComeFirst) {
  const std::string host =
      "nameserver 192.168.1.1\nnameserver 127.0.0.53\nsearch corp.example\noptions ndots:2\n";
  const DiscoveryDns discovery{.nameserver = "10.213.0.1", .search = "default.skiff.internal"};
  // The node's resolver alone: it forwards other names to the host's resolvers itself.
  EXPECT_EQ(ResolvConf({}, {}, host, discovery),
            "search default.skiff.internal corp.example\nnameserver 10.213.0.1\n"
            "options ndots:2\n");
}

TEST(EtcFilesTest, WithDiscoveryTheDefinitionsOwnSettingsStillWin) {
  const std::string host = "nameserver 192.168.1.1\nsearch corp.example\n";
  const DiscoveryDns discovery{.nameserver = "10.213.0.1", .search = "default.skiff.internal"};
  EXPECT_EQ(ResolvConf({"10.0.0.2"}, {"svc.local"}, host, discovery),
            "search svc.local\nnameserver 10.0.0.2\n");
  EXPECT_EQ(ResolvConf({"10.0.0.2"}, {}, host, discovery),
            "search default.skiff.internal corp.example\nnameserver 10.0.0.2\n");
  EXPECT_EQ(ResolvConf({}, {"svc.local"}, host, discovery),
            "search svc.local\nnameserver 10.213.0.1\n");
}

}  // namespace skiff::network

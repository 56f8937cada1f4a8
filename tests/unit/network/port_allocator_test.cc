#include "skiff/network/port_allocator.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::network {
namespace {

using ::testing::ElementsAre;

PortAllocatorOptions Small(std::set<int> busy = {},
                           std::set<std::pair<std::string, int>> redirected = {}) {
  return {.dynamic_low = 50000,
          .dynamic_high = 50003,
          .reserved = {22, 50001},
          .in_use = [busy](int port, const std::string&) { return busy.contains(port); },
          .redirected = [redirected] { return redirected; }};
}

TEST(PortAllocatorTest, FixedPortsAreHeldUntilReleased) {
  PortAllocator ports(Small());
  auto first = ports.Allocate("t1", {{.container_port = 80, .host_port = 8080}});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(*first, ElementsAre(PortBinding{80, 8080, "tcp"}));
  auto second = ports.Allocate("t2", {{.container_port = 80, .host_port = 8080}});
  EXPECT_TRUE(absl::IsResourceExhausted(second.status()));
  EXPECT_EQ(second.status().message(), "RESOURCE:PORTS");
  // The same number in udp is another port.
  EXPECT_TRUE(ports.Allocate("t2", {{.container_port = 53, .host_port = 8080, .protocol = "udp"}})
                  .ok());
  ports.Release("t1");
  EXPECT_TRUE(ports.Allocate("t3", {{.container_port = 80, .host_port = 8080}}).ok());
}

TEST(PortAllocatorTest, ReservedAndHostBoundPortsAreRefusedWithEcsReasons) {
  PortAllocator ports(Small({9000}));
  EXPECT_EQ(ports.Check({{.container_port = 22, .host_port = 22}}), "RESOURCE:PORTS");
  EXPECT_EQ(ports.Check({{.container_port = 9000, .host_port = 9000, .protocol = "udp"}}),
            "RESOURCE:PORTS_UDP");
  EXPECT_EQ(ports.Check({{.container_port = 80, .host_port = 8080}}), "");
  // A task that names one host port twice cannot have both.
  EXPECT_EQ(ports.Check({{.container_port = 80, .host_port = 8080},
                         {.container_port = 81, .host_port = 8080}}),
            "RESOURCE:PORTS");
}

TEST(PortAllocatorTest, DynamicPortsSkipReservedBusyAndHeldOnesAndRotate) {
  PortAllocator ports(Small({50002}));
  // 50001 is reserved and 50002 bound on the host: 50000 and 50003 are what there is.
  auto a = ports.Allocate("a", {{.container_port = 80}});
  auto b = ports.Allocate("b", {{.container_port = 80}});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0].host_port, 50000);
  EXPECT_EQ((*b)[0].host_port, 50003);
  EXPECT_EQ(ports.Check({{.container_port = 80}}), "RESOURCE:PORTS");
  auto c = ports.Allocate("c", {{.container_port = 80}});
  EXPECT_EQ(c.status().message(), "RESOURCE:PORTS");
  // A failed allocation holds nothing; a released port comes back.
  ports.Release("a");
  auto d = ports.Allocate("d", {{.container_port = 80}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0].host_port, 50000);
}

TEST(PortAllocatorTest, AFailedAllocationReleasesItsOtherPorts) {
  PortAllocator ports(Small());
  ASSERT_TRUE(ports.Allocate("a", {{.container_port = 1, .host_port = 7000}}).ok());
  auto failed = ports.Allocate("b", {{.container_port = 1, .host_port = 7001},
                                     {.container_port = 2, .host_port = 7000}});
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(ports.Check({{.container_port = 1, .host_port = 7001}}), "");
}

TEST(PortAllocatorTest, HeldBindingsOfALoadedTaskCount) {
  PortAllocator ports(Small());
  ports.Hold("loaded", {{80, 8080, "tcp"}, {80, 50000, "tcp"}});
  EXPECT_EQ(ports.Check({{.container_port = 80, .host_port = 8080}}), "RESOURCE:PORTS");
  auto dynamic = ports.Allocate("new", {{.container_port = 80}});
  ASSERT_TRUE(dynamic.ok());
  EXPECT_NE((*dynamic)[0].host_port, 50000);
}

TEST(PortAllocatorTest, APortRangeGetsContiguousHostPorts) {
  PortAllocatorOptions options = Small({50005});
  options.dynamic_high = 50009;  // 50001 reserved, 50005 bound: runs 50002-50004, 50006-50009.
  PortAllocator ports(options);
  EXPECT_EQ(ports.Check({{.container_port = 8000, .count = 5}}), "RESOURCE:PORTS");
  EXPECT_EQ(ports.Check({{.container_port = 8000, .count = 4}}), "");
  // Two runs that fit only one after the other, and a single port beside them.
  EXPECT_EQ(ports.Check({{.container_port = 8000, .count = 4},
                         {.container_port = 9000, .count = 3},
                         {.container_port = 80}}),
            "");
  EXPECT_EQ(ports.Check({{.container_port = 8000, .count = 4},
                         {.container_port = 9000, .count = 4}}),
            "RESOURCE:PORTS");
  auto range = ports.Allocate("a", {{.container_port = 8000, .count = 3}});
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_THAT(*range, ElementsAre(PortBinding{8000, 50002, "tcp"}));
  // Every port of the run is held.
  EXPECT_EQ(ports.Check({{.container_port = 1, .host_port = 50004}}), "RESOURCE:PORTS");
  auto next = ports.Allocate("b", {{.container_port = 7000, .count = 3}});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ((*next)[0].host_port, 50006);
  EXPECT_FALSE(ports.Allocate("c", {{.container_port = 7000, .count = 2}}).ok());
  ports.Release("a");
  EXPECT_TRUE(ports.Allocate("c", {{.container_port = 7000, .count = 2}}).ok());
}

TEST(PortAllocatorTest, HostPortInUseSeesAListener) {
  // A socket of this test on an ephemeral port of loopback's wildcard.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int port = ntohs(address.sin_port);
  EXPECT_TRUE(HostPortInUse(port, "tcp"));
  close(fd);
  EXPECT_FALSE(HostPortInUse(port, "tcp"));
}

// Seen: a stale DNAT rule of another skiffd sent the host port a task was given to an address
// that no longer existed ("No route to host"). Such ports are not handed out, fixed or dynamic.
TEST(PortAllocatorTest, PortsThatTheHostRedirectsAreNotHandedOut) {
  PortAllocator ports(Small({}, {{"tcp", 50000}, {"tcp", 8080}}));
  auto fixed = ports.Allocate("t1", {{.container_port = 80, .host_port = 8080}});
  EXPECT_EQ(fixed.status().message(), "RESOURCE:PORTS");
  // The same number in udp is not redirected.
  EXPECT_TRUE(ports.Allocate("t1", {{.container_port = 80, .host_port = 8080, .protocol = "udp"}})
                  .ok());
  auto dynamic = ports.Allocate("t2", {{.container_port = 80}, {.container_port = 81}});
  ASSERT_TRUE(dynamic.ok()) << dynamic.status();
  // 50000 is redirected and 50001 reserved.
  EXPECT_THAT(*dynamic, ElementsAre(PortBinding{80, 50002, "tcp"}, PortBinding{81, 50003, "tcp"}));
  EXPECT_EQ(ports.Check({{.container_port = 82}}), "RESOURCE:PORTS");
}

TEST(PortAllocatorTest, RedirectedPortsAreReadFromTheNatTable) {
  const std::string save = R"(# Generated by iptables-save v1.8.9 (nf_tables)
*filter
-A FORWARD -p tcp -m tcp --dport 9999 -j DNAT --to-destination 10.0.0.9:80
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"skiff-skiff0\"" -m multiport --dports 32769 -j CNI-DN-1
-A CNI-DN-1 -s 10.213.0.0/16 -p tcp -m tcp --dport 32769 -j CNI-HOSTPORT-SETMARK
-A CNI-DN-1 -p tcp -m tcp --dport 32769 -j DNAT --to-destination 10.213.0.7:80
-A DOCKER ! -i docker0 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.2:53
-A DOCKER -p tcp -m multiport --dports 8000:8002,9000 -j DNAT --to-destination 172.17.0.3
-A OUTPUT -p tcp -m tcp ! --dport 22 -j REDIRECT --to-ports 3128
-A OUTPUT -p tcp -m tcp --dport 80 -j ACCEPT
COMMIT
)";
  EXPECT_EQ(ParseRedirectedPorts(save),
            (std::set<std::pair<std::string, int>>{{"tcp", 8000},
                                                   {"tcp", 8001},
                                                   {"tcp", 8002},
                                                   {"tcp", 9000},
                                                   {"tcp", 32769},
                                                   {"udp", 5353}}));
  EXPECT_TRUE(ParseRedirectedPorts("").empty());
}

}  // namespace
}  // namespace skiff::network

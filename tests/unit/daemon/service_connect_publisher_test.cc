// ServiceConnectPublisher's pure part: a service's aliases as the ELB manager takes them, each
// with the ready tasks that map its portName at their container port.
#include "skiff/daemon/service_connect_publisher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(AliasSpecsTest, EachAliasGetsTheReadyTasksAtItsPortNamesContainerPort) {
  const scheduler::ConnectConfig config{
      .ns = "internal",
      .aliases = {{.port_name = "http",
                   .discovery_name = "web",
                   .dns_name = "backend",
                   .port = 80,
                   .service_path = "serviceConnectConfiguration.services[0]",
                   .alias_path = "serviceConnectConfiguration.services[0].clientAliases[0]"},
                  {.port_name = "admin", .discovery_name = "admin", .dns_name = "admin",
                   .port = 81}}};
  const std::vector<scheduler::Endpoint> ready = {
      {.task_id = "t1",
       .address = "10.213.0.5",
       .ports = {{.name = "http", .address = "10.213.0.5", .port = 8080},
                 {.name = "admin", .address = "10.213.0.6", .port = 9090}}},
      {.task_id = "t2", .address = "10.213.0.7",
       .ports = {{.name = "http", .address = "10.213.0.7", .port = 8080}}}};
  const std::vector<elb::AliasSpec> specs = AliasSpecs("default/web", config, ready);
  ASSERT_THAT(specs, SizeIs(2));
  EXPECT_EQ(specs[0].alias.owner, "default/web");
  EXPECT_EQ(specs[0].alias.ns, "internal");
  EXPECT_EQ(specs[0].alias.dns_name, "backend");
  EXPECT_EQ(specs[0].alias.discovery_name, "web");
  EXPECT_EQ(specs[0].port, 80);
  EXPECT_EQ(specs[0].alias_path, "serviceConnectConfiguration.services[0].clientAliases[0]");
  EXPECT_THAT(specs[0].targets,
              ElementsAre(elb::AliasTarget{.task_id = "t1", .address = "10.213.0.5", .port = 8080},
                          elb::AliasTarget{.task_id = "t2", .address = "10.213.0.7",
                                           .port = 8080}));
  // A bridge task's named port is at its own container's address.
  EXPECT_THAT(specs[1].targets, ElementsAre(elb::AliasTarget{.task_id = "t1",
                                                             .address = "10.213.0.6",
                                                             .port = 9090}));
  EXPECT_THAT(AliasSpecs("default/web", config, {})[0].targets, IsEmpty());
}

}  // namespace
}  // namespace skiff::daemon

#include "network/cni_result.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::network {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr char kWhat[] = "CNI bridge ADD";

// What the bridge plugin of containernetworking-plugins 1.x prints after ADD.
constexpr char kBridgeResult[] = R"({
  "cniVersion": "1.0.0",
  "interfaces": [
    {"name": "skiff0", "mac": "6a:10:00:00:00:01"},
    {"name": "veth1", "mac": "6a:10:00:00:00:02"},
    {"name": "eth0", "mac": "0a:58:0a:d5:00:05", "sandbox": "/run/skiff/netns/t1"}
  ],
  "ips": [{"interface": 2, "address": "10.213.0.5/16", "gateway": "10.213.0.1"}],
  "routes": [{"dst": "0.0.0.0/0"}],
  "dns": {}
})";

absl::StatusOr<Attachment> AddressOf(const std::string& output) {
  absl::StatusOr<json> result = ParsePluginResult(kWhat, output);
  if (!result.ok()) return result.status();
  return AddressFromResult(kWhat, *result);
}

// The bridge's result with the first address replaced.
std::string WithIp(const json& ip) {
  json result = json::parse(kBridgeResult);
  result["ips"][0] = ip;
  return result.dump();
}

TEST(CniResultTest, ReadsTheAddressGatewayAndMacOfTheBridgesResult) {
  absl::StatusOr<Attachment> a = AddressOf(kBridgeResult);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ip, "10.213.0.5");
  EXPECT_EQ(a->prefix_length, 16);
  EXPECT_EQ(a->gateway, "10.213.0.1");
  EXPECT_EQ(a->mac, "0a:58:0a:d5:00:05");
}

TEST(CniResultTest, GatewayAndInterfaceAreOptional) {
  absl::StatusOr<Attachment> a = AddressOf(R"({"ips": [{"address": "10.213.0.9/24"}]})");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ip, "10.213.0.9");
  EXPECT_EQ(a->prefix_length, 24);
  EXPECT_EQ(a->gateway, "");
  EXPECT_EQ(a->mac, "");
}

TEST(CniResultTest, TruncatedOutputIsNotJson) {
  const std::string output = std::string(kBridgeResult).substr(0, 120);
  absl::StatusOr<json> result = ParsePluginResult(kWhat, output);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("CNI bridge ADD: plugin result: not JSON"), HasSubstr("cniVersion")));
}

TEST(CniResultTest, EmptyOutputIsAnError) {
  for (const char* output : {"", "  \n"}) {
    absl::StatusOr<json> result = ParsePluginResult(kWhat, output);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(result.status().message(), "CNI bridge ADD: plugin result: empty");
  }
}

TEST(CniResultTest, OutputThatIsNotAnObjectIsAnError) {
  absl::StatusOr<json> result = ParsePluginResult(kWhat, R"(["10.213.0.5/16"])");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(result.status().message(),
            "CNI bridge ADD: plugin result: not a JSON object but an array");
}

TEST(CniResultTest, ControlBytesOfGarbageAreEscapedAndLongOutputCut) {
  const std::string output = "\x01\x02" + std::string(5000, 'x');
  absl::StatusOr<json> result = ParsePluginResult(kWhat, output);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("\\x01\\x02xxx"), HasSubstr("5002 bytes")));
  EXPECT_LT(result.status().message().size(), 300u);
}

TEST(CniResultTest, ACniErrorObjectIsAnErrorWithItsMessage) {
  absl::StatusOr<json> result = ParsePluginResult(
      kWhat,
      R"({"cniVersion": "1.0.0", "code": 7, "msg": "no IP addresses available in range set",
          "details": "10.213.0.1-10.213.255.254"})");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(result.status().message(),
            "CNI bridge ADD: plugin error 7: no IP addresses available in range set: "
            "10.213.0.1-10.213.255.254");
}

TEST(CniResultTest, IpsThatAreNotAnArrayAreNamed) {
  absl::StatusOr<Attachment> a = AddressOf(R"({"ips": {"address": "10.213.0.5/16"}})");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(a.status().message(), "CNI bridge ADD: plugin result: ips: not an array but an object");
}

TEST(CniResultTest, MissingOrEmptyIpsMeanNoAddress) {
  for (const char* output : {R"({"cniVersion": "1.0.0"})", R"({"ips": []})"}) {
    absl::StatusOr<Attachment> a = AddressOf(output);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInternal) << output;
    EXPECT_THAT(a.status().message(),
                AllOf(HasSubstr("CNI bridge ADD: plugin result: ips: "), HasSubstr("no address")));
  }
}

TEST(CniResultTest, AnAddressThatIsANumberIsNamed) {
  absl::StatusOr<Attachment> a = AddressOf(WithIp({{"address", 175964165}}));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(a.status().message(),
            "CNI bridge ADD: plugin result: ips[0].address: not a string but a number");
}

TEST(CniResultTest, AnIpThatIsNotAnObjectIsNamed) {
  absl::StatusOr<Attachment> a = AddressOf(R"({"ips": ["10.213.0.5/16"]})");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(a.status().message(), "CNI bridge ADD: plugin result: ips[0]: not an object");
}

TEST(CniResultTest, AMissingOrMalformedAddressIsNamed) {
  for (const json& ip : {json{{"gateway", "10.213.0.1"}}, json{{"address", "10.213.0.5"}},
                         json{{"address", "10.213.0.5/x"}}, json{{"address", "10.213.0.5/40"}},
                         json{{"address", "fd00::5/64"}}}) {
    absl::StatusOr<Attachment> a = AddressOf(WithIp(ip));
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInternal) << ip;
    EXPECT_THAT(a.status().message(), HasSubstr("CNI bridge ADD: plugin result: ips[0].address: "))
        << ip;
  }
}

TEST(CniResultTest, WronglyTypedGatewayInterfaceAndMacAreNamed) {
  struct Case {
    std::string output;
    std::string message;
  };
  json mac_number = json::parse(kBridgeResult);
  mac_number["interfaces"][2]["mac"] = 42;
  json interfaces_object = json::parse(kBridgeResult);
  interfaces_object["interfaces"] = {{"eth0", {{"mac", "0a:58:0a:d5:00:05"}}}};
  const Case cases[] = {
      {WithIp({{"address", "10.213.0.5/16"}, {"gateway", false}}),
       "ips[0].gateway: not a string but a boolean"},
      {WithIp({{"address", "10.213.0.5/16"}, {"interface", "eth0"}}),
       "ips[0].interface: not an index (a non-negative integer)"},
      {WithIp({{"address", "10.213.0.5/16"}, {"interface", -1}}),
       "ips[0].interface: not an index (a non-negative integer)"},
      {WithIp({{"address", "10.213.0.5/16"}, {"interface", 9}}),
       "ips[0].interface: 9 is past the 3 interfaces"},
      {mac_number.dump(), "interfaces[2].mac: not a string"},
      {interfaces_object.dump(), "interfaces: not an array"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Attachment> a = AddressOf(c.output);
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInternal) << c.output;
    EXPECT_EQ(a.status().message(), absl::StrCat("CNI bridge ADD: plugin result: ", c.message));
  }
}

TEST(CniResultTest, PluginErrorMessageTakesMsgAndDetailsElseStderrElseTheExitStatus) {
  EXPECT_EQ(PluginErrorMessage(R"({"code": 11, "msg": "try again", "details": "busy"})", "", 1),
            "try again: busy");
  EXPECT_EQ(PluginErrorMessage(R"({"code": 11, "msg": "try again", "details": ""})", "", 1),
            "try again");
  // A message of the wrong type is not one: stderr says what happened.
  EXPECT_EQ(PluginErrorMessage(R"({"code": 11, "msg": 5})", "failed to lock\n", 1),
            "failed to lock");
  EXPECT_EQ(PluginErrorMessage(R"({"code": 11, "msg": "x", "details": []})", "", 1), "x");
  EXPECT_EQ(PluginErrorMessage("{\"code\": 11, \"msg", "", 1), "{\"code\": 11, \"msg");
  EXPECT_EQ(PluginErrorMessage("", "", 2), "exit status 2");
}

TEST(CniResultTest, ARecordReadsBackWhatWasWritten) {
  AttachmentRecord record{.netns = "/run/skiff/netns/t1",
                          .ports = {{.container_port = 80, .host_port = 8080, .protocol = "tcp"},
                                    {.container_port = 53, .host_port = 5353, .protocol = "udp"}},
                          .result = json::parse(kBridgeResult)};
  absl::StatusOr<AttachmentRecord> read = ParseAttachmentRecord(RecordJson(record).dump());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->netns, record.netns);
  EXPECT_EQ(read->ports, record.ports);
  EXPECT_EQ(read->result, record.result);

  // Before the first plugin answered there is no result.
  read = ParseAttachmentRecord(RecordJson({.netns = "/n"}).dump());
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->result.is_null());
  EXPECT_TRUE(read->ports.empty());
}

TEST(CniResultTest, ADamagedRecordIsDataLossNamingTheField) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {R"({"netns": "/n", "ports": [)", "network record: (top): not JSON"},
      {"[]", "network record: (top): not an object"},
      {R"({"netns": 7})", "network record: netns: not a string but a number"},
      {R"({"ports": {"hostPort": 80}})", "network record: ports: not an array"},
      {R"({"ports": [80]})", "network record: ports[0]: not an object"},
      {R"({"ports": [{"hostPort": 80}, {"hostPort": "80"}]})",
       "network record: ports[1].hostPort: not a port number"},
      {R"({"ports": [{"containerPort": 70000}]})",
       "network record: ports[0].containerPort: not a port number"},
      {R"({"ports": [{"protocol": null}]})",
       "network record: ports[0].protocol: not a string but null"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<AttachmentRecord> read = ParseAttachmentRecord(c.text);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << c.text;
    EXPECT_EQ(read.status().message(), c.message) << c.text;
  }
}

TEST(CniResultTest, PortsJsonIsWhatPortmapsRuntimeConfigTakes) {
  EXPECT_EQ(PortsJson({{.container_port = 80, .host_port = 8080, .protocol = "tcp"}}),
            json::parse(R"([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}])"));
}

}  // namespace
}  // namespace skiff::network

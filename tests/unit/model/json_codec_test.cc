#include "skiff/model/json_codec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::model {
namespace {

using ::testing::HasSubstr;

absl::Status Decode(const std::string& text) {
  v1::RegisterTaskDefinitionRequest request;
  return DecodeMessageText(text, &request);
}

TEST(JsonCodecTest, DecodesNestedMembersByEcsName) {
  v1::RegisterTaskDefinitionRequest r;
  ASSERT_TRUE(DecodeMessageText(R"({"family": "web", "networkMode": "awsvpc",
      "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64,
        "essential": false, "dockerLabels": {"team": "a"},
        "healthCheck": {"command": ["CMD", "true"], "interval": 10}}]})", &r)
                  .ok());
  EXPECT_EQ(r.family(), "web");
  EXPECT_EQ(r.network_mode(), "awsvpc");
  ASSERT_EQ(r.container_definitions_size(), 1);
  const auto& c = r.container_definitions(0);
  EXPECT_EQ(c.memory(), 64);
  EXPECT_TRUE(c.has_essential());
  EXPECT_FALSE(c.essential());
  EXPECT_FALSE(c.has_cpu());  // Absent stays absent: ECS echoes only what was given.
  EXPECT_EQ(c.docker_labels().at("team"), "a");
  EXPECT_EQ(c.health_check().interval(), 10);
}

struct BadDocument {
  const char* name;
  std::string json;
  std::string error;  // The exact error message.
};

class JsonCodecErrorTest : public ::testing::TestWithParam<BadDocument> {};

TEST_P(JsonCodecErrorTest, NamesTheJsonPath) {
  absl::Status s = Decode(GetParam().json);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), GetParam().error);
}

const char* const kContainer = R"("containerDefinitions": [{"name": "a", "image": "b"}])";

INSTANTIATE_TEST_SUITE_P(
    Table, JsonCodecErrorTest,
    ::testing::Values(
        BadDocument{"UnknownTopLevel", R"({"family": "x", "famly": 1})",
                    "famly: unknown field"},
        BadDocument{"UnknownNested",
                    R"({"family": "x", "containerDefinitions": [{"name": "a"}, {"name": "b",
                        "healthCheck": {"command": ["CMD", "x"], "intervall": 5}}]})",
                    "containerDefinitions[1].healthCheck.intervall: unknown field"},
        BadDocument{"WrongTypeString", R"({"family": 7})", "family: must be a string, got an integer"},
        BadDocument{"WrongTypeInt",
                    R"({"family": "x", "containerDefinitions": [{"memory": "512"}]})",
                    "containerDefinitions[0].memory: must be an integer, got a string"},
        BadDocument{"FloatForInt",
                    R"({"family": "x", "containerDefinitions": [{"cpu": 1.5}]})",
                    "containerDefinitions[0].cpu: must be an integer, got a number"},
        BadDocument{"IntOutOfRange",
                    R"({"family": "x", "containerDefinitions": [{"cpu": 4294967296}]})",
                    "containerDefinitions[0].cpu: integer out of range"},
        BadDocument{"WrongTypeBool",
                    R"({"family": "x", "containerDefinitions": [{"essential": "yes"}]})",
                    "containerDefinitions[0].essential: must be a boolean, got a string"},
        BadDocument{"ListExpected", R"({"family": "x", "containerDefinitions": {}})",
                    "containerDefinitions: must be an array, got an object"},
        BadDocument{"ObjectExpected", R"({"family": "x", "containerDefinitions": [3]})",
                    "containerDefinitions[0]: must be an object, got an integer"},
        BadDocument{"NullRequiredMember", std::string(R"({"family": null, )") + kContainer + "}",
                    "family: required"},
        BadDocument{"NullListItem",
                    R"({"family": "x", "containerDefinitions": [null]})",
                    "containerDefinitions[0]: must not be null"},
        BadDocument{"EnumValue", std::string(R"({"family": "x", "networkMode": "bridged", )") +
                                     kContainer + "}",
                    "networkMode: must be one of bridge, host, awsvpc, none; got \"bridged\""},
        BadDocument{"EnumInList",
                    R"({"family": "x", "containerDefinitions": [{"dependsOn": [{"containerName":
                        "a", "condition": "READY"}]}]})",
                    "containerDefinitions[0].dependsOn[0].condition: must be one of START, "
                    "COMPLETE, SUCCESS, HEALTHY; got \"READY\""},
        BadDocument{"RequiredListEmpty", R"({"family": "x", "containerDefinitions": []})",
                    "containerDefinitions: must have at least one item"},
        BadDocument{"RequiredTopLevel", std::string("{") + kContainer + "}", "family: required"},
        BadDocument{"RequiredNested",
                    R"({"family": "x", "containerDefinitions": [{"dependsOn": [{"condition":
                        "START"}]}]})",
                    "containerDefinitions[0].dependsOn[0].containerName: required"},
        BadDocument{"RestartPolicyWithoutEnabled",
                    R"({"family": "x", "containerDefinitions": [{"restartPolicy":
                        {"restartAttemptPeriod": 60}}]})",
                    "containerDefinitions[0].restartPolicy.enabled: required"},
        BadDocument{"MapValueType",
                    R"({"family": "x", "containerDefinitions": [{"dockerLabels": {"a": 1}}]})",
                    "containerDefinitions[0].dockerLabels.a: must be a string, got an integer"},
        BadDocument{"NotAnObject", "[1, 2]", "input: must be an object, got an array"}),
    [](const auto& info) { return info.param.name; });

// Console exports, describe output and CodeDeploy's taskdef.json are full of nulls, which the
// ECS deploy action strips before it registers: null is absent, for any member, known or not.
TEST(JsonCodecTest, NullIsAbsentEverywhere) {
  v1::RegisterTaskDefinitionRequest request;
  absl::Status s = DecodeMessageText(
      R"({"family": "x", "ipcMode": null, "pidMode": null, "someFutureMember": null,
          "containerDefinitions": [{"name": "a", "image": "busybox", "memory": null,
            "secrets": null, "dockerLabels": {"kept": "1", "dropped": null},
            "logConfiguration": {"logDriver": "awslogs", "secretOptions": null}}]})",
      &request);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(request.has_ipc_mode());
  const v1::ContainerDefinition& c = request.container_definitions(0);
  EXPECT_FALSE(c.has_memory());
  EXPECT_EQ(c.secrets_size(), 0);
  EXPECT_EQ(c.docker_labels().size(), 1u);
  EXPECT_EQ(c.docker_labels().at("kept"), "1");
  EXPECT_EQ(c.log_configuration().log_driver(), "awslogs");
}

TEST(JsonCodecTest, RejectsInvalidJsonWithItsPosition) {
  absl::Status s = Decode(R"({"family": "x",)");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("input: invalid JSON"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("column"));
}

TEST(JsonCodecTest, RejectsInvalidUtf8) {
  absl::Status s = Decode("{\"family\": \"caf\xe9\"}");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("invalid JSON"));
}

// nlohmann reports a number beyond a double (1e999) with an out_of_range exception, not a
// parse_error; found by fuzz/codec_fuzz. Uncaught, it ended skiffd on one signed request.
TEST(JsonCodecTest, RejectsNumbersBeyondADouble) {
  for (const std::string text : {"1e999", R"({"family": "x", "cpu": -1.5E400})"}) {
    absl::StatusOr<nlohmann::ordered_json> parsed = ParseJsonText(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr("input: invalid JSON: number overflow"));
  }
}

TEST(JsonCodecTest, RejectsDocumentsOverTheSizeLimit) {
  std::string big = R"({"family": ")" + std::string(70 * 1024, 'a') + R"("})";
  absl::Status s = Decode(big);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the limit is 65536"));
}

TEST(JsonCodecTest, RejectsDeepNestingBeforeBuildingIt) {
  std::string deep = std::string(10000, '[') + std::string(10000, ']');
  absl::Status s = Decode(deep);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nested deeper than 32"));
}

TEST(JsonCodecTest, EncodesPresentFieldsInModelOrderWithEcsNames) {
  v1::TaskDefinition td;
  td.set_family("web");
  td.set_revision(3);
  td.set_registered_at(1700000000.5);
  auto* c = td.add_container_definitions();
  c->set_name("app");
  c->set_cpu(0);
  (*c->mutable_docker_labels())["b"] = "2";
  (*c->mutable_docker_labels())["a"] = "1";
  const std::string text = EncodeMessageCompact(td);
  EXPECT_EQ(text,
            R"({"containerDefinitions":[{"name":"app","cpu":0,"portMappings":[],)"
            R"("environment":[],"mountPoints":[],"volumesFrom":[],)"
            R"("dockerLabels":{"a":"1","b":"2"}}],"family":"web","revision":3,"volumes":[],)"
            R"("requiresAttributes":[],"placementConstraints":[],"compatibilities":[],)"
            R"("registeredAt":1700000000.5})");
}

TEST(JsonCodecTest, EmptyListingsAreEmptyLists) {
  EXPECT_EQ(EncodeMessageCompact(v1::ListTaskDefinitionsResponse()), R"({"taskDefinitionArns":[]})");
  EXPECT_EQ(EncodeMessageCompact(v1::ListTaskDefinitionFamiliesResponse()), R"({"families":[]})");
}

TEST(JsonCodecTest, HostileValuesDoNotBloatErrors) {
  const std::string long_value(10000, 'x');
  absl::Status s = Decode(R"({"family": "x", "networkMode": ")" + long_value + R"("})");
  EXPECT_LT(s.message().size(), 200u);
  EXPECT_THAT(std::string(s.message()), HasSubstr("xxx\"..."));
  s = Decode(R"({")" + long_value + R"(": 1})");
  EXPECT_LT(s.message().size(), 200u);
  s = Decode("{\"family\": \"x\", \"networkMode\": \"a\\u0007b\"}");
  EXPECT_THAT(std::string(s.message()), HasSubstr(R"("a\x07b")"));
}

TEST(JsonCodecTest, IntegersBeyondInt64AreOutOfRange) {
  absl::Status s = Decode(R"({"family": "x", "containerDefinitions": [{"memory": 99999999999999999999999}]})");
  EXPECT_EQ(s.message(), "containerDefinitions[0].memory: integer out of range");
}

TEST(JsonCodecTest, RoundTripsThroughJson) {
  v1::RegisterTaskDefinitionRequest in;
  ASSERT_TRUE(DecodeMessageText(R"({"family": "w", "cpu": "1 vCPU", "tags": [{"key": "k",
      "value": "v"}], "containerDefinitions": [{"name": "a", "image": "i", "memory": 8,
      "ulimits": [{"name": "nofile", "softLimit": 10, "hardLimit": 20}]}]})", &in)
                  .ok());
  v1::RegisterTaskDefinitionRequest out;
  ASSERT_TRUE(DecodeMessageText(EncodeMessageCompact(in), &out).ok());
  EXPECT_EQ(in.SerializeAsString(), out.SerializeAsString());
}

TEST(JsonCodecTest, CheckShapeFindsMissingRequiredAndBadEnumsInProtoInput) {
  v1::RegisterTaskDefinitionRequest r;
  EXPECT_EQ(CheckShape(r).message(), "family: required");
  r.set_family("x");
  r.add_container_definitions()->add_depends_on()->set_container_name("a");
  EXPECT_EQ(CheckShape(r).message(), "containerDefinitions[0].dependsOn[0].condition: required");
  r.mutable_container_definitions(0)->mutable_depends_on(0)->set_condition("SOON");
  EXPECT_EQ(CheckShape(r).message(),
            "containerDefinitions[0].dependsOn[0].condition: must be one of START, COMPLETE, "
            "SUCCESS, HEALTHY; got \"SOON\"");
}

}  // namespace
}  // namespace skiff::model

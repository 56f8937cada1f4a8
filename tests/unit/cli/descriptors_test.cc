// The CLI's split descriptor pool (cli/descriptors.h) against the API's whole descriptor set
// (protoc's, from which the split files are cut): every message of the API is the same in both
// (fields, numbers, types, JSON names, options, nested types). And the CLI's lite generated
// classes (skiff_cli_api), which have no descriptors, cross to the split pool and back as bytes
// unchanged.
#include "cli/descriptors.h"

#include <fstream>
#include <memory>
#include <string>
#include <type_traits>

#include "gtest/gtest.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "skiff/model/json_codec.h"
#include "skiff/secretsmanager/v1/secretsmanager.pb.h"
#include "skiff/v1/options.pb.h"

namespace skiff::cli {
namespace {

using google::protobuf::DescriptorPool;

constexpr const char* kApiFiles[] = {
    "skiff/v1/string_list.proto",
    "skiff/v1/ecs.proto",
    "skiff/v1/skiff.proto",
    "skiff/elbv2/v1/elbv2.proto",
    "skiff/autoscaling/v1/autoscaling.proto",
    "skiff/secretsmanager/v1/secretsmanager.proto",
    "skiff/ssm/v1/ssm.proto",
};  // The files with messages (the service.proto files hold services only).

// The API's files as protoc describes them whole (build/gen/skiff_cli/api.desc).
const DescriptorPool& WholeApi() {
  static const DescriptorPool* const pool = [] {
    google::protobuf::FileDescriptorSet set;
    std::ifstream in(SKIFF_CLI_API_DESC, std::ios::binary);
    EXPECT_TRUE(set.ParseFromIstream(&in)) << SKIFF_CLI_API_DESC;
    auto* built = new DescriptorPool();
    for (const auto& file : set.file()) EXPECT_NE(built->BuildFile(file), nullptr) << file.name();
    return built;
  }();
  return *pool;
}

// A message of the whole API, decoded from JSON.
std::unique_ptr<google::protobuf::Message> DecodeWhole(const std::string& type,
                                                       const std::string& text) {
  static google::protobuf::DynamicMessageFactory factory;
  const google::protobuf::Descriptor* d = WholeApi().FindMessageTypeByName(type);
  EXPECT_NE(d, nullptr) << type;
  if (d == nullptr) return nullptr;
  std::unique_ptr<google::protobuf::Message> message(factory.GetPrototype(d)->New());
  EXPECT_TRUE(model::DecodeMessageText(text, message.get()).ok()) << text;
  return message;
}

// Sets each field's json_name as the descriptor has it (CopyTo leaves it out).
void SetJsonNames(const google::protobuf::Descriptor* d, google::protobuf::DescriptorProto* p) {
  for (int i = 0; i < d->field_count(); ++i) {
    p->mutable_field(i)->set_json_name(d->field(i)->json_name());
  }
  for (int i = 0; i < d->nested_type_count(); ++i) {
    SetJsonNames(d->nested_type(i), p->mutable_nested_type(i));
  }
}

TEST(DescriptorsTest, EveryMessageOfTheApiIsTheOneOfTheWholeSet) {
  int messages = 0;
  for (const char* name : kApiFiles) {
    const google::protobuf::FileDescriptor* file = WholeApi().FindFileByName(name);
    ASSERT_NE(file, nullptr) << name;
    for (int i = 0; i < file->message_type_count(); ++i) {
      const google::protobuf::Descriptor* whole = file->message_type(i);
      const google::protobuf::Descriptor* split = FindMessageType(whole->full_name());
      ASSERT_NE(split, nullptr) << whole->full_name();
      google::protobuf::DescriptorProto want, got;
      whole->CopyTo(&want);
      split->CopyTo(&got);
      SetJsonNames(whole, &want);
      SetJsonNames(split, &got);
      EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString()) << whole->full_name();
      EXPECT_EQ(split->file()->syntax(), file->syntax()) << whole->full_name();
      ++messages;
    }
  }
  EXPECT_GT(messages, 300);
  EXPECT_EQ(FindMessageType("skiff.v1.NoSuchMessage"), nullptr);
}

TEST(DescriptorsTest, TheOptionsThatCarryTheModelsRulesAreThere) {
  const google::protobuf::Descriptor* run = FindMessageType("skiff.v1.RunTaskRequest");
  ASSERT_NE(run, nullptr);
  const google::protobuf::FieldDescriptor* definition = run->FindFieldByName("task_definition");
  ASSERT_NE(definition, nullptr);
  EXPECT_TRUE(definition->options().GetExtension(skiff::v1::required));
  const google::protobuf::FieldDescriptor* launch = run->FindFieldByName("launch_type");
  ASSERT_NE(launch, nullptr);
  EXPECT_GT(launch->options().ExtensionSize(skiff::v1::allowed), 0);
}

TEST(DescriptorsTest, TheCliClassesAreLiteAndCrossAsBytes) {
  // Lite: no descriptor, so nothing registered at start-up (cli/descriptor_gen.cc).
  static_assert(!std::is_base_of_v<google::protobuf::Message, v1::RunTaskRequest>);
  static_assert(std::is_base_of_v<google::protobuf::MessageLite, v1::RunTaskRequest>);
  const std::unique_ptr<google::protobuf::Message> whole = DecodeWhole(
      "skiff.v1.RunTaskRequest",
      R"({"taskDefinition": "web:3", "count": 2, "startedBy": "ci",
          "overrides": {"containerOverrides": [{"name": "app",
           "environment": [{"name": "A", "value": "1"}]}]},
          "tags": [{"key": "team", "value": "shop"}]})");
  ASSERT_NE(whole, nullptr);
  v1::RunTaskRequest typed;
  ASSERT_TRUE(typed.ParseFromString(whole->SerializeAsString()));
  EXPECT_EQ(typed.task_definition(), "web:3");
  EXPECT_EQ(typed.count(), 2);
  ASSERT_EQ(typed.overrides().container_overrides_size(), 1);
  EXPECT_EQ(typed.overrides().container_overrides(0).environment(0).value(), "1");
  EXPECT_EQ(typed.tags(0).value(), "shop");

  const std::unique_ptr<google::protobuf::Message> dynamic = ToDynamic(typed);
  EXPECT_EQ(dynamic->GetDescriptor(), FindMessageType("skiff.v1.RunTaskRequest"));
  EXPECT_EQ(model::EncodeMessageCompact(*dynamic), model::EncodeMessageCompact(*whole));
  EXPECT_EQ(FromDynamic<v1::RunTaskRequest>(*dynamic).SerializeAsString(),
            typed.SerializeAsString());

  // A map of lists (skiff.v1.StringList) both ways through the JSON codec.
  const std::string versions =
      R"({"Name":"db","VersionIdsToStages":{"v1":["AWSCURRENT","AWSPENDING"]}})";
  std::unique_ptr<google::protobuf::Message> described =
      NewMessage("skiff.secretsmanager.v1.DescribeSecretResponse");
  ASSERT_TRUE(model::DecodeMessageText(versions, described.get()).ok());
  const secretsmanager::v1::DescribeSecretResponse generated =
      FromDynamic<secretsmanager::v1::DescribeSecretResponse>(*described);
  ASSERT_EQ(generated.version_ids_to_stages().at("v1").values_size(), 2);
  EXPECT_EQ(generated.version_ids_to_stages().at("v1").values(1), "AWSPENDING");
  EXPECT_EQ(model::EncodeMessageCompact(*ToDynamic(generated)),
            model::EncodeMessageCompact(*DecodeWhole(
                "skiff.secretsmanager.v1.DescribeSecretResponse", versions)));
}

}  // namespace
}  // namespace skiff::cli

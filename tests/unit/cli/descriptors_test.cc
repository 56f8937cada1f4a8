// The CLI's split descriptor pool (cli/descriptors.h) against the generated one: every message of
// the API is the same there (fields, numbers, types, JSON names, options, nested types), and a
// message crosses between the two as bytes unchanged.
#include "cli/descriptors.h"

#include <string>

#include "gtest/gtest.h"
#include "google/protobuf/descriptor.pb.h"
#include "skiff/model/json_codec.h"
#include "skiff/secretsmanager/v1/secretsmanager.pb.h"
#include "skiff/v1/options.pb.h"

namespace skiff::cli {
namespace {

using google::protobuf::DescriptorPool;

constexpr const char* kApiFiles[] = {
    "skiff/v1/options.proto",
    "skiff/v1/ecs.proto",
    "skiff/v1/skiff.proto",
    "skiff/elbv2/v1/elbv2.proto",
    "skiff/autoscaling/v1/autoscaling.proto",
    "skiff/secretsmanager/v1/secretsmanager.proto",
    "skiff/ssm/v1/ssm.proto",
};  // The files with messages (the service.proto files hold services only).

// Sets each field's json_name as the descriptor has it: protoc writes it into the generated
// code's descriptors for a map entry's key and value, but not into a descriptor set.
void SetJsonNames(const google::protobuf::Descriptor* d, google::protobuf::DescriptorProto* p) {
  for (int i = 0; i < d->field_count(); ++i) {
    p->mutable_field(i)->set_json_name(d->field(i)->json_name());
  }
  for (int i = 0; i < d->nested_type_count(); ++i) {
    SetJsonNames(d->nested_type(i), p->mutable_nested_type(i));
  }
}

TEST(DescriptorsTest, EveryMessageOfTheApiIsTheGeneratedOne) {
  int messages = 0;
  for (const char* name : kApiFiles) {
    const google::protobuf::FileDescriptor* file =
        DescriptorPool::generated_pool()->FindFileByName(name);
    ASSERT_NE(file, nullptr) << name;
    for (int i = 0; i < file->message_type_count(); ++i) {
      const google::protobuf::Descriptor* generated = file->message_type(i);
      const google::protobuf::Descriptor* split = FindMessageType(generated->full_name());
      ASSERT_NE(split, nullptr) << generated->full_name();
      EXPECT_NE(split, generated);
      google::protobuf::DescriptorProto want, got;
      generated->CopyTo(&want);
      split->CopyTo(&got);
      SetJsonNames(generated, &want);
      SetJsonNames(split, &got);
      EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString()) << generated->full_name();
      EXPECT_EQ(split->file()->syntax(), file->syntax()) << generated->full_name();
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

TEST(DescriptorsTest, AMessageCrossesAsBytesAndPrintsTheSame) {
  v1::RunTaskRequest typed;
  ASSERT_TRUE(model::DecodeMessageText(
                  R"({"taskDefinition": "web:3", "count": 2, "startedBy": "ci",
                      "overrides": {"containerOverrides": [{"name": "app",
                       "environment": [{"name": "A", "value": "1"}]}]},
                      "tags": [{"key": "team", "value": "shop"}]})",
                  &typed)
                  .ok());
  const std::unique_ptr<google::protobuf::Message> dynamic = ToDynamic(typed);
  EXPECT_EQ(dynamic->GetDescriptor(), FindMessageType("skiff.v1.RunTaskRequest"));
  EXPECT_EQ(model::EncodeMessageCompact(*dynamic), model::EncodeMessageCompact(typed));
  EXPECT_EQ(FromDynamic<v1::RunTaskRequest>(*dynamic).SerializeAsString(),
            typed.SerializeAsString());

  // A map of lists (skiff.v1.StringList) both ways through the JSON codec.
  const std::string versions =
      R"({"Name":"db","VersionIdsToStages":{"v1":["AWSCURRENT","AWSPENDING"]}})";
  std::unique_ptr<google::protobuf::Message> described =
      NewMessage("skiff.secretsmanager.v1.DescribeSecretResponse");
  ASSERT_TRUE(model::DecodeMessageText(versions, described.get()).ok());
  secretsmanager::v1::DescribeSecretResponse generated;
  ASSERT_TRUE(model::DecodeMessageText(versions, &generated).ok());
  ASSERT_EQ(generated.version_ids_to_stages().at("v1").values_size(), 2);
  EXPECT_EQ(model::EncodeMessageCompact(*described), model::EncodeMessageCompact(generated));
  EXPECT_EQ(described->SerializeAsString(), generated.SerializeAsString());
}

}  // namespace
}  // namespace skiff::cli

// EncodeMessageText must write exactly what EncodeMessageCompact (the json tree, dumped) writes:
// the AWS API answers with the first, everything else uses the second.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::model {
namespace {

void ExpectSameText(const google::protobuf::Message& message) {
  EXPECT_EQ(EncodeMessageText(message), EncodeMessageCompact(message))
      << message.GetDescriptor()->full_name();
}

TEST(JsonTextTest, EveryExampleTaskDefinitionEncodesTheSame) {
  const std::filesystem::path dir =
      std::filesystem::path(SKIFF_SOURCE_DIR) / "examples" / "task-definitions";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    v1::RegisterTaskDefinitionRequest request;
    ASSERT_TRUE(DecodeMessageText(text.str(), &request).ok()) << entry.path();
    ExpectSameText(request);
    ++count;
  }
  EXPECT_GE(count, 10);
}

TEST(JsonTextTest, StringsNumbersMapsAndEmptyListsEncodeTheSame) {
  v1::DescribeTaskDefinitionResponse response;
  v1::TaskDefinition& td = *response.mutable_task_definition();
  td.set_family("quote\" back\\ tab\t nl\n cr\r bell\x07 del\x7f utf8 \xc3\xa9 \xe2\x82\xac");
  td.set_revision(-2147483647);
  for (double at : {0.0, 0.1, 3.0, 1700000000.5, 1e21, -1.25e-7, 1796000000.123456}) {
    td.set_registered_at(at);
    ExpectSameText(response);
  }
  v1::ContainerDefinition& c = *td.add_container_definitions();
  c.set_name("app");
  c.set_essential(false);
  (*c.mutable_docker_labels())["z"] = "last";
  (*c.mutable_docker_labels())["a"] = "fi\"rst";
  (*c.mutable_docker_labels())[""] = "";
  c.add_command("sh");
  c.add_command("");
  ExpectSameText(response);
  ExpectSameText(v1::ListServicesResponse());  // {"serviceArns":[]}
  EXPECT_EQ(EncodeMessageText(v1::ListServicesResponse()), R"({"serviceArns":[]})");
  v1::DescribeServicesResponse services;
  services.add_services()->set_service_name("web");
  services.add_failures()->set_reason("MISSING");
  ExpectSameText(services);
}

}  // namespace
}  // namespace skiff::model

// skiffd and skiff as a user runs them: real processes, a private containerd, the example task
// definitions, kill -9 and restarts.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

const std::string kExamples = std::string(SKIFF_SOURCE_DIR) + "/examples/task-definitions/";

class SkiffdTest : public E2eTest {
 protected:
  SkiffdTest() { namespace_prefix_ = "skiff-e2e"; }
};

TEST_F(SkiffdTest, TaskDefinitionsSurviveKill9) {
  StartSkiffd();
  EXPECT_THAT(skiffd_->Log(), HasSubstr("containerd 1."));

  const std::string web = "file://" + kExamples + "web-frontend.json";
  json first = Ok({"register-task-definition", "--cli-input-json", web});
  EXPECT_EQ(first["taskDefinition"]["revision"], 1);
  EXPECT_EQ(first["taskDefinition"]["taskDefinitionArn"],
            "arn:aws:ecs:local:000000000000:task-definition/web-frontend:1");
  EXPECT_EQ(first["taskDefinition"]["status"], "ACTIVE");
  EXPECT_EQ(Ok({"register-task-definition", "--cli-input-json", web})["taskDefinition"]["revision"],
            2);
  Ok({"register-task-definition", "--cli-input-json",
      "file://" + kExamples + "payments-api-fargate.json"});

  json described = Ok({"describe-task-definition", "--task-definition", "web-frontend"});
  EXPECT_EQ(described["taskDefinition"]["revision"], 2);
  json deregistered =
      Ok({"deregister-task-definition", "--task-definition", "web-frontend:2"});
  EXPECT_EQ(deregistered["taskDefinition"]["status"], "INACTIVE");

  ASSERT_EQ(*skiffd_->Signal(SIGKILL), 128 + SIGKILL);
  StartSkiffd();

  EXPECT_EQ(Ok({"describe-task-definition", "--task-definition", "web-frontend"})
                ["taskDefinition"]["revision"],
            1);
  json two = Ok({"describe-task-definition", "--task-definition", "web-frontend:2"});
  EXPECT_EQ(two["taskDefinition"]["status"], "INACTIVE");
  EXPECT_TRUE(two["taskDefinition"].contains("deregisteredAt"));
  EXPECT_EQ(Ok({"list-task-definitions"})["taskDefinitionArns"],
            json({"arn:aws:ecs:local:000000000000:task-definition/payments-api-fargate:1",
                  "arn:aws:ecs:local:000000000000:task-definition/web-frontend:1"}));
  EXPECT_EQ(Ok({"list-task-definition-families"})["families"],
            json({"payments-api-fargate", "web-frontend"}));
  // Revisions are never reused, even after a crash.
  EXPECT_EQ(Ok({"register-task-definition", "--cli-input-json", web})["taskDefinition"]["revision"],
            3);
  // The example round-trips: what went in comes back out.
  json input = json::parse(std::ifstream(kExamples + "web-frontend.json"));
  json stored = Ok({"describe-task-definition", "--task-definition", "web-frontend:3",
                    "--include", "TAGS"});
  EXPECT_EQ(stored["tags"], input["tags"]);
  EXPECT_EQ(stored["taskDefinition"]["containerDefinitions"][0]["command"],
            input["containerDefinitions"][0]["command"]);
}

TEST_F(SkiffdTest, ErrorsNameTheFieldWithSpecExitCodes) {
  StartSkiffd();
  auto bad = Skiff({"register-task-definition", "--family", "web", "--container-definitions",
                    R"([{"name": "a", "image": "i", "memory": 64,
                                  "healthCheck": {"command": ["CMD", "x"], "interval": 1}}])"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.stderr_text,
            "error: (ClientException) containerDefinitions[0].healthCheck.interval: must be "
            "between 5 and 300; got 1\n");

  auto unknown = Skiff({"register-task-definition", "--cli-input-json",
                        R"({"family": "w", "containerDefinitions": [{"nme": "a"}]})"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.stderr_text, HasSubstr("containerDefinitions[0].nme: unknown field"));

  auto missing = Skiff({"describe-task-definition", "--task-definition", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.stderr_text, HasSubstr("error: (ClientException) Unable to describe"));

  auto usage = Skiff({"describe-task-definition", "--no-such-flag"});
  EXPECT_EQ(usage.exit_code, 2);

  auto not_a_file = Skiff({"register-task-definition", "--cli-input-json", "file:///dev/zero"});
  EXPECT_EQ(not_a_file.exit_code, 2);
  EXPECT_EQ(not_a_file.stderr_text,
            "error: --cli-input-json: cannot read /dev/zero: not a regular file\n");

  // A pretty-printed file over 64 KiB whose request is under it: aws accepts it, so must we.
  json big = json::parse(std::ifstream(kExamples + "web-frontend.json"));
  big["family"] = "padded";
  big["containerDefinitions"][0]["environment"] = json::array();
  for (int i = 0; i < 300; ++i) {
    big["containerDefinitions"][0]["environment"].push_back(
        {{"name", "VAR_" + std::to_string(i)}, {"value", std::string(150, 'v')}});
  }
  const std::string padded = skiffd_->dir() + "/padded.json";
  std::ofstream(padded) << big.dump(8);
  ASSERT_GT(std::filesystem::file_size(padded), 64u * 1024);
  ASSERT_LT(big.dump().size(), 64u * 1024);
  auto accepted = Skiff({"register-task-definition", "--cli-input-json", "file://" + padded});
  EXPECT_EQ(accepted.exit_code, 0) << accepted.stderr_text;

  auto unreachable = skiff::testing::RunCommand(
      {SKIFF_BINARY, "--socket", skiffd_->dir() + "/absent.sock", "list-task-definitions"},
      absl::Seconds(60));
  ASSERT_TRUE(unreachable.ok());
  EXPECT_EQ(unreachable->exit_code, 3);
  EXPECT_THAT(unreachable->stderr_text, HasSubstr("cannot reach skiffd"));
}

TEST_F(SkiffdTest, OneSkiffdPerStateDir) {
  StartSkiffd();
  auto second = SkiffdProcess::Create();
  ASSERT_TRUE(second.ok());
  // Same state dir, another socket.
  (*second)->set_state_dir(skiffd_->state_dir());
  ASSERT_TRUE((*second)->Start(ContainerdFlags()).ok());
  absl::StatusOr<int> code = (*second)->WaitExit();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_NE(*code, 0);
  EXPECT_THAT((*second)->Log(), HasSubstr("is in use by another skiffd (pid "));
  // The first one is unharmed.
  EXPECT_TRUE(Ok({"list-task-definition-families"}).is_object());
}

// Seen: a second skiffd with a state dir of its own but the default bridge and subnet of a
// running one handed out the same task addresses (three tasks, one answering).
TEST_F(SkiffdTest, OneSkiffdPerBridge) {
  StartSkiffd();
  auto second = SkiffdProcess::Create();
  ASSERT_TRUE(second.ok());
  (*second)->set_network(skiffd_->bridge(), skiffd_->subnet());
  ASSERT_TRUE((*second)->Start(ContainerdFlags()).ok());
  absl::StatusOr<int> code = (*second)->WaitExit();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_NE(*code, 0);
  EXPECT_THAT((*second)->Log(),
              AllOf(HasSubstr(absl::StrCat("bridge: ", skiffd_->bridge(),
                                           " is in use by another skiffd (pid ", skiffd_->pid())),
                    HasSubstr("--bridge and --subnet")));
  EXPECT_TRUE(Ok({"list-task-definition-families"}).is_object());
}

TEST_F(SkiffdTest, SigtermExitsZeroAndSocketIsPrivate) {
  StartSkiffd();
  struct stat st {};
  ASSERT_EQ(stat(skiffd_->socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(stat(skiffd_->state_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  absl::StatusOr<int> code = skiffd_->Signal(SIGTERM);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << skiffd_->Log();
  EXPECT_THAT(skiffd_->Log(), HasSubstr("skiffd stopped"));
}

TEST_F(SkiffdTest, ServesTaskDefinitionsWhileContainerdIsAway) {
  ASSERT_TRUE(skiffd_->Start({"--containerd-address", skiffd_->dir() + "/no-containerd.sock"})
                  .ok());
  ASSERT_TRUE(skiffd_->WaitReady("without containerd").ok()) << skiffd_->Log();
  EXPECT_THAT(skiffd_->Log(), HasSubstr("cannot reach containerd at"));
  EXPECT_THAT(skiffd_->Log(), ::testing::Not(HasSubstr("skiffd ready")));
  json registered = Ok({"register-task-definition", "--cli-input-json",
                        "file://" + kExamples + "web-frontend.json"});
  EXPECT_EQ(registered["taskDefinition"]["revision"], 1);
}

TEST_F(SkiffdTest, ConfigFileSetsFlagsAndRejectsUnknownKeys) {
  const std::string config = skiffd_->dir() + "/skiffd.json";
  {
    std::ofstream out(config);
    out << json({{"containerd-address", containerd_->socket_path()},
                 {"namespace", ns_},
                 {"log-level", "debug"},
                 {"region", "eu-west-1"}})
               .dump();
  }
  ASSERT_TRUE(skiffd_->Start({"--config", config}).ok());
  ASSERT_TRUE(skiffd_->WaitReady().ok()) << skiffd_->Log();
  json registered = Ok({"register-task-definition", "--cli-input-json",
                        "file://" + kExamples + "web-frontend.json"});
  EXPECT_EQ(registered["taskDefinition"]["taskDefinitionArn"],
            "arn:aws:ecs:eu-west-1:000000000000:task-definition/web-frontend:1");
  ASSERT_EQ(*skiffd_->Signal(SIGTERM), 0);

  {
    std::ofstream out(config);
    out << R"({"state-dirr": "/tmp/x"})";
  }
  ASSERT_TRUE(skiffd_->Start({"--config", config}).ok());
  absl::StatusOr<int> code = skiffd_->WaitExit();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(skiffd_->Log(), HasSubstr("state-dirr"));
}

TEST_F(SkiffdTest, ServesTheStandardHealthService) {
  StartSkiffd();
  auto channel = grpc::CreateChannel("unix:" + skiffd_->socket(),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  // An empty HealthCheckRequest asks about the server as a whole.
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&done](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const auto& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01"));  // HealthCheckResponse{status: SERVING}
}

}  // namespace
}  // namespace skiff::e2e

// A third-party client against skiffd's AWS JSON API: the AWS SDK for JavaScript v3
// (@aws-sdk/client-ecs) runs tests/e2e/aws_sdk/ecs_scenario.mjs, which registers, runs, scales,
// tags, pages, stops and deletes through the SDK's own serializers, error parsing and SigV4
// signer, with the credentials file skiffd created. The scenario asserts each answer itself;
// this test starts skiffd, hands the scenario its endpoint and credentials, and wants exit 0.
//
// The SDK is installed by scripts/install-test-clients.sh into SKIFF_AWS_SDK_DIR (the build
// tree's aws_sdk, where CMake copies the scenario); without it or Node the test is skipped, and
// fails in CI.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "e2e_test.h"
#include "gtest/gtest.h"
#include "support/subprocess.h"

namespace skiff::e2e {
namespace {

constexpr char kSdkDir[] = SKIFF_AWS_SDK_DIR;
// Its own waits are bounded at 60 s each; a few of them on a loaded machine, with room to spare.
constexpr absl::Duration kScenarioTimeout = absl::Minutes(4);

// Empty when Node 20 or later and the SDK are installed; otherwise what to install.
std::string MissingNodeOrSdk() {
  const std::string install = absl::StrCat("run scripts/install-test-clients.sh ", kSdkDir);
  if (skiff::testing::FindInPath("node").empty()) {
    return "node not found: install Node.js 20 or later, then " + install;
  }
  absl::StatusOr<skiff::testing::CommandResult> version = skiff::testing::RunCommand(
      {"node", "-p", "process.versions.node.split('.')[0]"}, absl::Seconds(30));
  int major = 0;
  if (!version.ok() || version->exit_code != 0 ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(version->stdout_text), &major) || major < 20) {
    return "node is not Node.js 20 or later, which the AWS SDK for JavaScript needs";
  }
  if (!std::filesystem::exists(
          absl::StrCat(kSdkDir, "/node_modules/@aws-sdk/client-ecs/package.json"))) {
    return "the AWS SDK for JavaScript is not installed: " + install;
  }
  return "";
}

class AwsSdkTest : public E2eTest {
 protected:
  AwsSdkTest() { namespace_prefix_ = "skiff-sdk"; }
};

TEST_F(AwsSdkTest, JavaScriptSdkDrivesTasksServicesTagsAndErrors) {
  SKIFF_REQUIRE_NOTHING_MISSING(MissingNodeOrSdk());
  ASSERT_NO_FATAL_FAILURE(StartSkiffd());
  ASSERT_NO_FATAL_FAILURE(LoadTestImage());
  const std::string endpoint = skiffd_->HttpEndpoint();
  ASSERT_FALSE(endpoint.empty()) << "skiffd logged no AWS API address";

  // A clean environment, so that nothing of the host's AWS setup (keys in the environment,
  // ~/.aws, an endpoint or a proxy) reaches the SDK: its default chain finds the profile in
  // skiffd's credentials file and nothing else. No instance metadata either, so a credentials
  // mistake fails at once rather than after the SDK's metadata timeouts.
  const char* path = std::getenv("PATH");
  const std::vector<std::string> argv = {
      "env",
      "-i",
      absl::StrCat("PATH=", path != nullptr ? path : "/usr/bin:/bin"),
      absl::StrCat("HOME=", skiffd_->dir()),
      absl::StrCat("SKIFF_ENDPOINT=", endpoint),
      absl::StrCat("SKIFF_IMAGE=", skiff::testing::kTestImageRef),
      absl::StrCat("AWS_SHARED_CREDENTIALS_FILE=", skiffd_->aws_credentials()),
      "AWS_PROFILE=skiff",
      absl::StrCat("AWS_CONFIG_FILE=", skiffd_->dir(), "/no-aws-config"),
      "AWS_REGION=us-east-1",
      "AWS_EC2_METADATA_DISABLED=true",
      "node",
      absl::StrCat(kSdkDir, "/ecs_scenario.mjs")};
  const absl::Time start = absl::Now();
  absl::StatusOr<skiff::testing::CommandResult> run =
      skiff::testing::RunCommand(argv, kScenarioTimeout);
  ASSERT_TRUE(run.ok()) << run.status();
  std::cout << "--- ecs_scenario.mjs (" << absl::FormatDuration(absl::Now() - start) << ") ---\n"
            << run->stdout_text;
  EXPECT_EQ(run->exit_code, 0) << "stdout:\n"
                               << run->stdout_text << "stderr:\n"
                               << run->stderr_text;
}

}  // namespace
}  // namespace skiff::e2e

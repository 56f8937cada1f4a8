// Every task definition under examples/ must be accepted by skiff as it is (the botocore side of
// the same promise is tests/compat/validate_examples.py). The compatibility corpus
// (tests/compat/corpus, its verdicts in MANIFEST.json; the botocore side is
// tests/compat/validate_corpus.py): what ECS accepts registers, what it refuses is refused
// naming the field, and where skiff is more lenient the manifest says why.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "skiff/model/described_task_definition.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/task_definition.h"

namespace skiff::model {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status Register(const std::string& text) {
  v1::RegisterTaskDefinitionRequest request;
  absl::Status s = DecodeMessageText(text, &request);
  if (s.ok()) s = ValidateRegisterTaskDefinition(request);
  return s;
}

TEST(ExamplesTest, SkiffAcceptsEveryExampleTaskDefinition) {
  const std::filesystem::path dir =
      std::filesystem::path(SKIFF_SOURCE_DIR) / "examples" / "task-definitions";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    const absl::Status s = Register(ReadFile(entry.path()));
    EXPECT_TRUE(s.ok()) << entry.path().filename() << ": " << s;
  }
  EXPECT_GE(count, 10) << "examples/task-definitions should hold at least 10 examples";
}

TEST(ExamplesTest, TheCorpusRegistersWhatEcsAcceptsAndNamesTheFieldOfTheRest) {
  const std::filesystem::path dir =
      std::filesystem::path(SKIFF_SOURCE_DIR) / "tests" / "compat" / "corpus";
  const nlohmann::json manifest = nlohmann::json::parse(ReadFile(dir / "MANIFEST.json"));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name == "MANIFEST.json") continue;
    ++files;
    ASSERT_TRUE(manifest.contains(name)) << name << " has no verdict in MANIFEST.json";
    const nlohmann::json& verdict = manifest[name];
    const bool ecs = verdict.at("ecs").get<bool>();
    const bool skiff = verdict.at("skiff").get<bool>();
    // Never stricter than ECS; more lenient only with a reason given.
    EXPECT_TRUE(!ecs || skiff) << name << ": ECS accepts it, so skiff must";
    if (skiff && !ecs) {
      EXPECT_TRUE(verdict.contains("lenient")) << name << ": more lenient than ECS, say why";
    }
    // As `skiff register-task-definition --cli-input-json` takes it.
    nlohmann::ordered_json input = nlohmann::ordered_json::parse(ReadFile(entry.path()));
    AdoptDescribedTaskDefinition(&input);
    const absl::Status s = Register(input.dump());
    if (skiff) {
      EXPECT_TRUE(s.ok()) << name << ": " << s;
    } else {
      EXPECT_FALSE(s.ok()) << name << " registered";
      EXPECT_THAT(std::string(s.message()),
                  ::testing::HasSubstr(verdict.at("field").get<std::string>()))
          << name;
    }
  }
  EXPECT_EQ(files, static_cast<int>(manifest.size())) << "a verdict without its file";
  EXPECT_GE(files, 15);
}

}  // namespace
}  // namespace skiff::model

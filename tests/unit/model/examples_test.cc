// Every task definition under examples/ must be accepted by skiff as it is (the botocore side of
// the same promise is tests/compat/validate_examples.py).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/task_definition.h"

namespace skiff::model {
namespace {

TEST(ExamplesTest, SkiffAcceptsEveryExampleTaskDefinition) {
  const std::filesystem::path dir =
      std::filesystem::path(SKIFF_SOURCE_DIR) / "examples" / "task-definitions";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    v1::RegisterTaskDefinitionRequest request;
    absl::Status s = DecodeMessageText(text.str(), &request);
    if (s.ok()) s = ValidateRegisterTaskDefinition(request);
    EXPECT_TRUE(s.ok()) << entry.path().filename() << ": " << s;
  }
  EXPECT_GE(count, 10) << "examples/task-definitions should hold at least 10 examples";
}

}  // namespace
}  // namespace skiff::model

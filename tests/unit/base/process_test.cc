#include "skiff/base/process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "skiff/base/files.h"

namespace skiff {
namespace {

TEST(ProcessTest, ReadPidFileTakesOnlyAPidAboveOne) {
  fakes::TempDir dir;
  const std::string path = dir.path() + "/x.pid";
  EXPECT_EQ(ReadPidFile(path).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomically(path, "1234\n").ok());
  EXPECT_EQ(ReadPidFile(path).value_or(-1), 1234);
  for (const std::string bad : {"", "1\n", "0", "-5", "12ab", "pid 12"}) {
    ASSERT_TRUE(WriteFileAtomically(path, bad).ok());
    EXPECT_EQ(ReadPidFile(path).status().code(), absl::StatusCode::kNotFound) << bad;
  }
}

TEST(ProcessTest, LiveCommandLineIsTheArgvOfALiveProcessOnly) {
  const std::vector<std::string> self = LiveCommandLine(getpid());
  ASSERT_FALSE(self.empty());
  EXPECT_THAT(self[0], ::testing::HasSubstr("base_test"));
  EXPECT_TRUE(LiveCommandLine(0).empty());
  EXPECT_TRUE(LiveCommandLine(-1).empty());
}

TEST(ProcessTest, SpawnInNewSessionGivesTheChildASessionOfItsOwn) {
  fakes::TempDir dir;
  const std::string out = dir.path() + "/out";
  const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  absl::StatusOr<pid_t> pid =
      SpawnInNewSession({"/bin/sh", "-c", "ps -o sid= -p $$; echo $$"}, fd);
  close(fd);
  ASSERT_TRUE(pid.ok()) << pid.status();
  int status = 0;
  ASSERT_EQ(waitpid(*pid, &status, 0), *pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The session id is the child's own pid: it leads a new session.
  const std::vector<std::string> lines =
      absl::StrSplit(ReadWholeFile(out).value_or(""), '\n', absl::SkipWhitespace());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(lines[0])), lines[1]);
  EXPECT_EQ(SpawnInNewSession({"/nonexistent/program"}, 2).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff

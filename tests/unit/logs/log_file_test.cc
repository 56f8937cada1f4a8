#include "skiff/logs/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::logs {
namespace {

using ::testing::HasSubstr;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// A StatusOr that is ok and whose value matches.
MATCHER_P(Holds, expected, "") {
  if (!arg.ok()) {
    *result_listener << "status " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(expected, *arg, result_listener);
}

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// Writes like containerd's shim: one fd opened O_APPEND and kept open across rotations.
class ShimWriter {
 public:
  explicit ShimWriter(const std::string& path)
      : fd_(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) {}
  ~ShimWriter() {
    if (fd_ >= 0) close(fd_);
  }
  ShimWriter(const ShimWriter&) = delete;
  ShimWriter& operator=(const ShimWriter&) = delete;

  void Write(const std::string& data) {
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(write(fd_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }

 private:
  int fd_;
};

class LogFileTest : public ::testing::Test {
 protected:
  fakes::TempDir dir_;  // Before log_, which is made from it.
  std::string log_ = dir_.path() + "/app.log";
};

// --- RotateIfLarger ------------------------------------------------------------------------

TEST_F(LogFileTest, RotatesOnlyWhenLargerThanMaxBytes) {
  WriteFile(log_, std::string(100, 'x'));
  EXPECT_THAT(RotateIfLarger(log_, {.max_bytes = 100, .keep = 1}), Holds(false));
  EXPECT_FALSE(Exists(log_ + ".1"));
  EXPECT_EQ(ReadFile(log_).size(), 100u);

  WriteFile(log_, std::string(101, 'x'));
  EXPECT_THAT(RotateIfLarger(log_, {.max_bytes = 100, .keep = 1}), Holds(true));
  EXPECT_EQ(ReadFile(log_ + ".1"), std::string(101, 'x'));
  EXPECT_EQ(ReadFile(log_), "");
  EXPECT_FALSE(Exists(log_ + ".1.tmp"));
}

TEST_F(LogFileTest, RotateOfMissingFileIsFalse) {
  EXPECT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 1}), Holds(false));
  EXPECT_FALSE(Exists(log_ + ".1"));
}

TEST_F(LogFileTest, KeepOneDropsTheOlderCopy) {
  WriteFile(log_ + ".2", "left by keep=2\n");
  WriteFile(log_, "first\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 1}), Holds(true));
  WriteFile(log_, "second\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 1}), Holds(true));

  EXPECT_EQ(ReadFile(log_ + ".1"), "second\n");
  EXPECT_FALSE(Exists(log_ + ".2"));
}

TEST_F(LogFileTest, KeepTwoShiftsCopies) {
  for (const char* generation : {"first\n", "second\n", "third\n"}) {
    WriteFile(log_, generation);
    ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 2}), Holds(true));
  }
  EXPECT_EQ(ReadFile(log_ + ".1"), "third\n");
  EXPECT_EQ(ReadFile(log_ + ".2"), "second\n");
  EXPECT_FALSE(Exists(log_ + ".3"));
}

TEST_F(LogFileTest, KeepZeroOnlyTruncates) {
  WriteFile(log_ + ".1", "old\n");
  WriteFile(log_, "live\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 0}), Holds(true));
  EXPECT_EQ(ReadFile(log_), "");
  EXPECT_FALSE(Exists(log_ + ".1"));
}

TEST_F(LogFileTest, CopyKeepsTheLiveFilesMode) {
  WriteFile(log_, "secret\n");
  ASSERT_EQ(chmod(log_.c_str(), 0640), 0);
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 1}), Holds(true));
  struct stat st {};
  ASSERT_EQ(stat((log_ + ".1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(LogFileTest, ShimFdKeepsWritingToTheLiveFileAfterRotation) {
  ShimWriter shim(log_);
  shim.Write("before rotation\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 4, .keep = 1}), Holds(true));
  shim.Write("after\n");

  EXPECT_EQ(ReadFile(log_ + ".1"), "before rotation\n");
  // O_APPEND puts the write at the new end (0), not at the old offset behind a hole of zeros.
  EXPECT_EQ(ReadFile(log_), "after\n");
}

// --- ReadTail --------------------------------------------------------------------------------

TEST_F(LogFileTest, TailSpansRotatedAndLiveFilesOldestFirst) {
  WriteFile(log_ + ".2", "a\nb\n");
  WriteFile(log_ + ".1", "c\nd\n");
  WriteFile(log_, "e\n");

  EXPECT_THAT(ReadTail(log_, 3, /*keep=*/2), Holds("c\nd\ne\n"));
  EXPECT_THAT(ReadTail(log_, 4, /*keep=*/2), Holds("b\nc\nd\ne\n"));
  EXPECT_THAT(ReadTail(log_, 100, /*keep=*/2), Holds("a\nb\nc\nd\ne\n"));
  EXPECT_THAT(ReadTail(log_, -1, /*keep=*/2), Holds("a\nb\nc\nd\ne\n"));
  // keep bounds which copies are read: path.2 is not part of a keep=1 log.
  EXPECT_THAT(ReadTail(log_, -1, /*keep=*/1), Holds("c\nd\ne\n"));
}

TEST_F(LogFileTest, TailJoinsALineSplitByRotation) {
  WriteFile(log_ + ".1", "whole\npart");
  WriteFile(log_, "ial\n");
  EXPECT_THAT(ReadTail(log_, 1), Holds("partial\n"));
  EXPECT_THAT(ReadTail(log_, 2), Holds("whole\npartial\n"));
}

TEST_F(LogFileTest, TailCountsALastLineWithoutNewline) {
  WriteFile(log_, "a\nb\nc");
  EXPECT_THAT(ReadTail(log_, 1), Holds("c"));
  EXPECT_THAT(ReadTail(log_, 2), Holds("b\nc"));
  EXPECT_THAT(ReadTail(log_, 5), Holds("a\nb\nc"));
}

TEST_F(LogFileTest, TailKeepsEmptyLines) {
  WriteFile(log_, "a\n\n\n");
  EXPECT_THAT(ReadTail(log_, 2), Holds("\n\n"));
  EXPECT_THAT(ReadTail(log_, 3), Holds("a\n\n\n"));
}

TEST_F(LogFileTest, TailZeroIsEmpty) {
  WriteFile(log_, "a\nb\n");
  EXPECT_THAT(ReadTail(log_, 0), Holds(""));
}

TEST_F(LogFileTest, TailOfAnEmptyLiveFileIsEmpty) {
  WriteFile(log_, "");
  EXPECT_THAT(ReadTail(log_, 10), Holds(""));
}

TEST_F(LogFileTest, TailOfABigFileReturnsOnlyTheLastLines) {
  std::string big;
  for (int i = 0; big.size() < (6u << 20); ++i) big += "line " + std::to_string(i) + "\n";
  WriteFile(log_, big);
  size_t third_last = big.rfind('\n', big.rfind('\n', big.rfind('\n', big.size() - 2) - 1) - 1);
  EXPECT_THAT(ReadTail(log_, 3), Holds(big.substr(third_last + 1)));
}

TEST_F(LogFileTest, TailReturnsALineLongerThanAReadBlock) {
  std::string long_line(300 << 10, 'z');
  WriteFile(log_, "short\n" + long_line + "\n");
  EXPECT_THAT(ReadTail(log_, 1), Holds(long_line + "\n"));
  EXPECT_THAT(ReadTail(log_, 2), Holds("short\n" + long_line + "\n"));
}

TEST_F(LogFileTest, TailOfMissingLogIsNotFound) {
  absl::StatusOr<std::string> tail = ReadTail(log_, 10);
  EXPECT_EQ(tail.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tail.status().message(), HasSubstr(log_));
}

TEST_F(LogFileTest, TailWithOnlyARotatedCopyReadsIt) {
  WriteFile(log_ + ".1", "rotated\n");
  EXPECT_THAT(ReadTail(log_, 10), Holds("rotated\n"));
}

// --- LogFollower -----------------------------------------------------------------------------

TEST_F(LogFileTest, FollowerReadsWhatIsAppended) {
  ShimWriter shim(log_);
  shim.Write("old\n");
  LogFollower follower(log_, LogFollower::SizeOf(log_));
  EXPECT_THAT(follower.ReadNew(), Holds(""));

  shim.Write("new 1\n");
  EXPECT_THAT(follower.ReadNew(), Holds("new 1\n"));
  EXPECT_THAT(follower.ReadNew(), Holds(""));
  shim.Write("new 2\n");
  shim.Write("new 3\n");
  EXPECT_THAT(follower.ReadNew(), Holds("new 2\nnew 3\n"));
}

TEST_F(LogFileTest, FollowerReturnsAtMostMaxBytes) {
  WriteFile(log_, "0123456789");
  LogFollower follower(log_, 0);
  EXPECT_THAT(follower.ReadNew(4), Holds("0123"));
  EXPECT_THAT(follower.ReadNew(4), Holds("4567"));
  EXPECT_THAT(follower.ReadNew(4), Holds("89"));
  EXPECT_THAT(follower.ReadNew(4), Holds(""));
}

TEST_F(LogFileTest, FollowerContinuesAtTheStartAfterTruncation) {
  ShimWriter shim(log_);
  shim.Write("before truncation\n");
  LogFollower follower(log_, 0);
  ASSERT_THAT(follower.ReadNew(), Holds("before truncation\n"));

  ASSERT_EQ(truncate(log_.c_str(), 0), 0);  // No copy: nothing to recover.
  shim.Write("fresh\n");
  EXPECT_THAT(follower.ReadNew(), Holds("fresh\n"));
  shim.Write("more\n");
  EXPECT_THAT(follower.ReadNew(), Holds("more\n"));
}

TEST_F(LogFileTest, FollowerReturnsWhatWasRotatedAwayBetweenReads) {
  ShimWriter shim(log_);
  shim.Write("one\n");
  LogFollower follower(log_, 0);
  ASSERT_THAT(follower.ReadNew(), Holds("one\n"));

  shim.Write("two\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 1}), Holds(true));
  shim.Write("three\n");
  EXPECT_THAT(follower.ReadNew(), Holds("two\nthree\n"));
  shim.Write("four\n");
  EXPECT_THAT(follower.ReadNew(), Holds("four\n"));
}

TEST_F(LogFileTest, FollowerSeesARotationEvenWhenTheFileRegrewPastItsPosition) {
  ShimWriter shim(log_);
  shim.Write("one\n");
  LogFollower follower(log_, 0);
  ASSERT_THAT(follower.ReadNew(), Holds("one\n"));

  shim.Write("two\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 1}), Holds(true));
  shim.Write("three, longer than the old position\n");
  EXPECT_THAT(follower.ReadNew(), Holds("two\nthree, longer than the old position\n"));
}

TEST_F(LogFileTest, FollowerFinishesARotatedCopyOverSeveralReads) {
  ShimWriter shim(log_);
  shim.Write("ab");
  LogFollower follower(log_, 0);
  ASSERT_THAT(follower.ReadNew(), Holds("ab"));

  shim.Write("cdefgh");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 1}), Holds(true));
  shim.Write("ijk");
  EXPECT_THAT(follower.ReadNew(4), Holds("cdef"));
  EXPECT_THAT(follower.ReadNew(4), Holds("ghij"));
  EXPECT_THAT(follower.ReadNew(4), Holds("k"));
  EXPECT_THAT(follower.ReadNew(4), Holds(""));
}

TEST_F(LogFileTest, FollowerSkipsToTheLiveFileAfterTwoRotationsBetweenReads) {
  ShimWriter shim(log_);
  shim.Write("one\n");
  LogFollower follower(log_, 0);
  ASSERT_THAT(follower.ReadNew(), Holds("one\n"));

  shim.Write("two\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 2}), Holds(true));
  shim.Write("three\n");
  ASSERT_THAT(RotateIfLarger(log_, {.max_bytes = 1, .keep = 2}), Holds(true));
  shim.Write("four\n");
  // The documented loss: path.1 is not the copy of the file it was reading.
  EXPECT_THAT(follower.ReadNew(), Holds("four\n"));
}

TEST_F(LogFileTest, FollowerOfMissingFileIsNotFoundUntilItAppears) {
  LogFollower follower(log_, LogFollower::SizeOf(log_));
  EXPECT_EQ(follower.ReadNew().status().code(), absl::StatusCode::kNotFound);

  ShimWriter shim(log_);
  shim.Write("started\n");
  EXPECT_THAT(follower.ReadNew(), Holds("started\n"));
}

}  // namespace
}  // namespace skiff::logs

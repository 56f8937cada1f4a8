#include "skiff/aws/credentials.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::aws {
namespace {

using ::testing::MatchesRegex;

class CredentialsTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  std::string Write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    const std::string path = Path(name);
    std::ofstream(path) << content;
    chmod(path.c_str(), mode);
    return path;
  }

  static mode_t Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  fakes::TempDir dir_;
  SeededRandom random_{7};
};

TEST_F(CredentialsTest, CreatesAPrivateFileWithANewKeyThatLoadsBack) {
  const std::string path = Path("etc/skiff/aws-credentials");
  absl::StatusOr<CredentialsFile> created = LoadOrCreateCredentials(path, random_);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  ASSERT_EQ(created->keys.size(), 1u);
  EXPECT_THAT(created->keys[0].access_key_id, MatchesRegex("AKIA[A-Z2-7]{16}"));
  EXPECT_THAT(created->keys[0].secret_access_key, MatchesRegex("[A-Za-z0-9+/]{40}"));
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(Mode(Path("etc/skiff")), 0700u);
  EXPECT_EQ(Mode(Path("etc")), 0700u);

  absl::StatusOr<CredentialsFile> loaded = LoadOrCreateCredentials(path, random_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->created);
  ASSERT_EQ(loaded->keys.size(), 1u);
  EXPECT_EQ(loaded->keys[0].access_key_id, created->keys[0].access_key_id);
  EXPECT_EQ(loaded->keys[0].secret_access_key, created->keys[0].secret_access_key);
  // No temporary file left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(Path("etc/skiff")),
                          std::filesystem::directory_iterator()),
            1);
}

TEST_F(CredentialsTest, LeavesAnExistingDirectoryAsItIs) {
  std::filesystem::create_directory(Path("shared"));
  chmod(Path("shared").c_str(), 0755);
  ASSERT_TRUE(LoadOrCreateCredentials(Path("shared/creds"), random_).ok());
  EXPECT_EQ(Mode(Path("shared")), 0755u);
}

TEST_F(CredentialsTest, CryptoRandomKeysDiffer) {
  CryptoRandom random;
  auto a = LoadOrCreateCredentials(Path("a"), random);
  auto b = LoadOrCreateCredentials(Path("b"), random);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->keys[0].access_key_id, b->keys[0].access_key_id);
  EXPECT_NE(a->keys[0].secret_access_key, b->keys[0].secret_access_key);
}

TEST_F(CredentialsTest, OnlyTheSkiffProfileCounts) {
  const std::string path = Write("credentials",
                                 "# a comment\n"
                                 "; another\n"
                                 "[default]\n"
                                 "aws_access_key_id = AKIADEFAULT\n"
                                 "aws_secret_access_key = default-secret\n"
                                 "\n"
                                 "[skiff]\n"
                                 "region = us-east-1\n"
                                 "aws_access_key_id=AKIASKIFF0000000000\n"
                                 "  # indented comment\n"
                                 "aws_secret_access_key =  abc/def+ghi  ; trailing comment\n"
                                 "[other]\n"
                                 "aws_access_key_id = AKIAOTHER\n");
  absl::StatusOr<CredentialsFile> file = LoadOrCreateCredentials(path, random_);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_FALSE(file->created);
  ASSERT_EQ(file->keys.size(), 1u);
  EXPECT_EQ(file->keys[0].access_key_id, "AKIASKIFF0000000000");
  EXPECT_EQ(file->keys[0].secret_access_key, "abc/def+ghi");
}

TEST_F(CredentialsTest, RefusesAFileOthersMayRead) {
  const std::string path = Write("credentials", "[skiff]\n", 0644);
  absl::StatusOr<CredentialsFile> file = LoadOrCreateCredentials(path, random_);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(file.status().message(),
            path + ": must not be readable by group or others (mode 0644); chmod 600 it");
  chmod(path.c_str(), 0620);
  EXPECT_EQ(LoadOrCreateCredentials(path, random_).status().message(),
            path + ": must not be writable by group or others (mode 0620); chmod 600 it");
}

TEST_F(CredentialsTest, NamesTheLineOfAMissingKey) {
  const std::string path = Write("credentials",
                                 "[default]\n"
                                 "aws_secret_access_key = x\n"
                                 "[skiff]\n"
                                 "aws_access_key_id = AKIASKIFF\n");
  absl::StatusOr<CredentialsFile> file = LoadOrCreateCredentials(path, random_);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(file.status().message(),
            path + ":4: profile [skiff] has aws_access_key_id but no aws_secret_access_key");
}

TEST_F(CredentialsTest, RefusesAFileWithoutTheProfile) {
  const std::string path = Write("credentials", "[default]\naws_access_key_id = A\n");
  EXPECT_EQ(LoadOrCreateCredentials(path, random_).status().message(),
            path + ": no profile [skiff] with aws_access_key_id and aws_secret_access_key");
}

TEST_F(CredentialsTest, NamesTheLineOfABadOrRepeatedEntry) {
  const std::string twice = Write("twice",
                                  "[skiff]\n"
                                  "aws_access_key_id = A\n"
                                  "aws_secret_access_key = s\n"
                                  "aws_access_key_id = B\n");
  EXPECT_EQ(LoadOrCreateCredentials(twice, random_).status().message(),
            twice + ":4: aws_access_key_id given twice in [skiff]");
  const std::string bad = Write("bad", "[skiff]\naws_access_key_id = A\nnonsense\n");
  EXPECT_EQ(LoadOrCreateCredentials(bad, random_).status().message(),
            bad + ":3: not a [section] or a name = value line");
  const std::string empty = Write("empty", "[skiff]\naws_access_key_id =\n");
  EXPECT_EQ(LoadOrCreateCredentials(empty, random_).status().message(),
            empty + ":2: aws_access_key_id is empty");
}

TEST_F(CredentialsTest, RefusesAnUnreadableFile) {
  const std::string path = Write("credentials", "[skiff]\n", 0600);
  std::filesystem::remove(path);
  std::filesystem::create_directory(path);  // exists, but is no file
  EXPECT_EQ(LoadOrCreateCredentials(path, random_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::aws

// TarArchive against tarballs written here byte by byte, so each test controls exactly the
// header feature (long names, pax records, checksums) or the defect it is about.
#include "containerd/image_archive.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "containerd/archive_source.h"

namespace skiff::runtime {
namespace {

using ::testing::HasSubstr;

// Builds a tar archive in memory.
class TarWriter {
 public:
  // One header plus data; `magic` chooses GNU ("ustar  \0") or POSIX ("ustar\0" "00").
  TarWriter& Add(const std::string& name, char type, const std::string& data,
                 const std::string& link = "", bool posix = false,
                 const std::string& prefix = "") {
    std::string header(512, '\0');
    name.copy(header.data(), std::min<size_t>(name.size(), 100));
    std::snprintf(header.data() + 100, 8, "%07o", 0644);
    std::snprintf(header.data() + 108, 8, "%07o", 0);
    std::snprintf(header.data() + 116, 8, "%07o", 0);
    std::snprintf(header.data() + 124, 12, "%011zo", data.size());
    std::snprintf(header.data() + 136, 12, "%011o", 0);
    header[156] = type;
    link.copy(header.data() + 157, std::min<size_t>(link.size(), 100));
    if (posix) {
      std::memcpy(header.data() + 257, "ustar\0" "00", 8);
      prefix.copy(header.data() + 345, std::min<size_t>(prefix.size(), 155));
    } else {
      std::memcpy(header.data() + 257, "ustar  \0", 8);
    }
    std::memset(header.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : header) sum += c;
    std::snprintf(header.data() + 148, 8, "%06o", sum);
    header[155] = ' ';
    last_header_ = bytes_.size();
    bytes_ += header;
    bytes_ += data;
    bytes_.append((512 - data.size() % 512) % 512, '\0');
    return *this;
  }
  TarWriter& File(const std::string& name, const std::string& data) {
    return Add(name, '0', data);
  }
  TarWriter& LongName(const std::string& name, const std::string& data) {
    Add("././@LongLink", 'L', name + '\0');
    return Add(name.substr(0, 99), '0', data);
  }
  TarWriter& Pax(char type, const std::map<std::string, std::string>& records) {
    std::string body;
    for (const auto& [key, value] : records) {
      const std::string rest = absl::StrCat(" ", key, "=", value, "\n");
      size_t length = rest.size() + 1;
      while (absl::StrCat(length).size() + rest.size() != length) ++length;
      absl::StrAppend(&body, length, rest);
    }
    return Add("PaxHeaders/x", type, body);
  }
  TarWriter& End() {
    bytes_.append(1024, '\0');
    return *this;
  }
  size_t last_header() const { return last_header_; }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
  size_t last_header_ = 0;
};

class ImageArchiveTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& bytes) {
    const std::string path = absl::StrCat(dir_.path(), "/archive-", ++count_, ".tar");
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  absl::StatusOr<std::unique_ptr<TarArchive>> Open(const std::string& bytes) {
    return TarArchive::Open(Write(bytes));
  }
  std::string Read(const TarArchive& archive, const std::string& path) {
    const TarEntry* entry = archive.Find(path);
    if (entry == nullptr) return "<missing>";
    auto data = archive.ReadFile(*entry, 1 << 20);
    return data.ok() ? *data : data.status().ToString();
  }

  fakes::TempDir dir_;
  int count_ = 0;
};

TEST_F(ImageArchiveTest, FindsFilesByCleanedPath) {
  TarWriter tar;
  tar.Add("./", '5', "").Add("./blobs/", '5', "").File("./blobs/sha256/abc", "layer").File(
      "index.json", "{}");
  auto archive = Open(tar.End().bytes());
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ(Read(**archive, "blobs/sha256/abc"), "layer");
  EXPECT_EQ(Read(**archive, "./blobs//sha256/abc"), "layer");
  EXPECT_EQ(Read(**archive, "./index.json"), "{}");
  EXPECT_EQ((*archive)->Find("blobs"), nullptr);  // A directory, not a file.
  EXPECT_EQ((*archive)->Find("nope"), nullptr);
  const TarEntry* entry = (*archive)->Find("blobs/sha256/abc");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->size, 5);
  char buffer[3];
  ASSERT_TRUE((*archive)->ReadAt(*entry, 1, buffer, 3).ok());
  EXPECT_EQ(std::string(buffer, 3), "aye");
  EXPECT_FALSE((*archive)->ReadAt(*entry, 3, buffer, 3).ok());
}

TEST_F(ImageArchiveTest, ReadsGnuLongNames) {
  const std::string long_name = "blobs/sha256/" + std::string(150, 'a');
  TarWriter tar;
  tar.LongName(long_name, "long").File("short", "s");
  auto archive = Open(tar.End().bytes());
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ(Read(**archive, long_name), "long");
  // The long name applies to one entry only.
  EXPECT_EQ(Read(**archive, "short"), "s");
}

TEST_F(ImageArchiveTest, ReadsUstarPrefix) {
  TarWriter tar;
  tar.Add("file", '0', "p", "", /*posix=*/true, /*prefix=*/"some/dir");
  auto archive = Open(tar.End().bytes());
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ(Read(**archive, "some/dir/file"), "p");
}

TEST_F(ImageArchiveTest, PaxPathAndSizeOverrideTheHeader) {
  const std::string long_name = "dir/" + std::string(200, 'p');
  TarWriter tar;
  tar.Pax('x', {{"path", long_name}}).File("ignored", "pax");
  tar.Pax('g', {{"comment", "global"}}).File("plain", "x");
  auto archive = Open(tar.End().bytes());
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ(Read(**archive, long_name), "pax");
  EXPECT_EQ((*archive)->Find("ignored"), nullptr);
  EXPECT_EQ(Read(**archive, "plain"), "x");

  // A pax size makes the reader take that many data bytes, whatever the header says.
  TarWriter sized;
  sized.Pax('x', {{"size", "3"}}).Add("f", '0', "abc");
  // Rewrite the header's size to 0 while keeping the checksum right.
  std::string& bytes = sized.bytes();
  const size_t header = sized.last_header();
  std::snprintf(bytes.data() + header + 124, 12, "%011o", 0);
  std::memset(bytes.data() + header + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(bytes[header + i]);
  std::snprintf(bytes.data() + header + 148, 8, "%06o", sum);
  auto second = Open(sized.End().bytes());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Read(**second, "f"), "abc");
}

TEST_F(ImageArchiveTest, FollowsLinksInsideTheArchive) {
  TarWriter tar;
  tar.File("blobs/sha256/abc", "data").Add("layers/1/layer.tar", '2', "", "../../blobs/sha256/abc");
  tar.Add("hard", '1', "", "blobs/sha256/abc");
  auto archive = Open(tar.End().bytes());
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ(Read(**archive, "layers/1/layer.tar"), "data");
  EXPECT_EQ(Read(**archive, "hard"), "data");
}

TEST_F(ImageArchiveTest, RejectsPathsThatEscapeTheRoot) {
  for (const std::string name : {"../escape", "blobs/../../escape", "a/.."}) {
    TarWriter tar;
    tar.File("ok", "x").File(name, "evil");
    auto archive = Open(tar.End().bytes());
    EXPECT_EQ(archive.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(archive.status().message(), HasSubstr("escapes the root")) << name;
    EXPECT_THAT(archive.status().message(), HasSubstr(name));
  }
  TarWriter link;
  link.Add("up", '2', "", "../../etc/passwd");
  auto archive = Open(link.End().bytes());
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(archive.status().message(), HasSubstr("escapes the root"));
}

TEST_F(ImageArchiveTest, RejectsAbsolutePaths) {
  TarWriter tar;
  tar.File("/etc/passwd", "root");
  auto archive = Open(tar.End().bytes());
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(archive.status().message(), HasSubstr("\"/etc/passwd\" is an absolute path"));
}

TEST_F(ImageArchiveTest, RejectsBadHeaderChecksums) {
  TarWriter tar;
  tar.File("first", "1").File("second", "2");
  std::string bytes = tar.End().bytes();
  bytes[tar.last_header() + 10] = 'X';  // Inside the second entry's name field.
  auto archive = Open(bytes);
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(archive.status().message(), HasSubstr("bad header checksum"));
  EXPECT_THAT(archive.status().message(), HasSubstr("\"second\""));
}

TEST_F(ImageArchiveTest, RejectsTruncatedArchives) {
  TarWriter tar;
  tar.File("index.json", "{}").File("blobs/sha256/big", std::string(5000, 'b'));
  const std::string whole = tar.End().bytes();
  ASSERT_TRUE(Open(whole).ok());

  auto in_data = Open(whole.substr(0, tar.last_header() + 512 + 100));
  EXPECT_EQ(in_data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(in_data.status().message(), HasSubstr("truncated"));
  EXPECT_THAT(in_data.status().message(), HasSubstr("blobs/sha256/big"));

  auto in_header = Open(whole.substr(0, tar.last_header() + 200));
  EXPECT_EQ(in_header.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(in_header.status().message(), HasSubstr("truncated"));

  auto no_end = Open(whole.substr(0, whole.size() - 1024));
  EXPECT_EQ(no_end.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_end.status().message(), HasSubstr("end-of-archive"));

  auto empty = Open("");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageArchiveTest, RejectsGarbage) {
  auto archive = Open(std::string(4096, 'g'));
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageArchiveTest, CapsWholeFileReads) {
  TarWriter tar;
  tar.File("manifest.json", std::string(2000, '['));
  auto archive = Open(tar.End().bytes());
  ASSERT_TRUE(archive.ok()) << archive.status();
  auto data = (*archive)->ReadFile(*(*archive)->Find("manifest.json"), 1000);
  EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(data.status().message(), HasSubstr("manifest.json"));
}

// The layout's version comes from the tarball: of another type, it is an error, not a throw.
TEST_F(ImageArchiveTest, AnOciLayoutVersionThatIsNotAStringIsInvalid) {
  TarWriter tar;
  tar.File("oci-layout", R"({"imageLayoutVersion": 1.0})");
  tar.File("index.json", R"({"schemaVersion": 2, "manifests": []})");
  auto archive = Open(tar.End().bytes());
  ASSERT_TRUE(archive.ok()) << archive.status();
  ArchiveSource source(archive->get());
  auto targets = source.Targets();
  EXPECT_EQ(targets.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(targets.status().message(), HasSubstr("imageLayoutVersion"));
}

TEST_F(ImageArchiveTest, AMissingFileIsNotFound) {
  auto archive = TarArchive::Open(dir_.path() + "/absent.tar");
  EXPECT_EQ(archive.status().code(), absl::StatusCode::kNotFound);
}

TEST(ImageArchivePathTest, CleanArchivePathCleans) {
  EXPECT_EQ(*CleanArchivePath("./a//b/./c/"), "a/b/c");
  EXPECT_EQ(*CleanArchivePath("."), "");
  EXPECT_FALSE(CleanArchivePath("a/../b").ok());
  EXPECT_FALSE(CleanArchivePath("/a").ok());
}

}  // namespace
}  // namespace skiff::runtime

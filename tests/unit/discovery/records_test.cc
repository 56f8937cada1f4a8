#include "skiff/discovery/records.h"

#include <sys/stat.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "fakes/temp_dir.h"

namespace skiff::discovery {
namespace {

Records Sample() {
  Records r;
  r.a["web.default.skiff.internal"] = {"10.213.0.5", "10.213.0.6"};
  r.a["idle.default.skiff.internal"] = {};
  r.srv["_http._tcp.web.default.skiff.internal"] = {{"10.213.0.5", 8080}, {"10.213.0.6", 8080}};
  return r;
}

TEST(RecordsTest, EncodeThenDecodeGivesTheSameRecords) {
  absl::StatusOr<Records> back = DecodeRecords(EncodeRecords(Sample()));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Sample());
}

TEST(RecordsTest, DecodeRefusesWhatEncodeNeverWritesNamingTheMember) {
  EXPECT_EQ(DecodeRecords("[1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeRecords(R"({"zone":"skiff.internal"})").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status outside =
      DecodeRecords(R"({"zone":"skiff.internal","a":{"web.example.com":[]},"srv":{}})").status();
  EXPECT_EQ(outside.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(outside.message().find("a: web.example.com"), std::string::npos) << outside;
  absl::Status bad_ip =
      DecodeRecords(R"({"zone":"z","a":{"w.z":["10.0.0.300"]},"srv":{}})").status();
  EXPECT_NE(bad_ip.message().find("a.w.z: 10.0.0.300"), std::string::npos) << bad_ip;
  absl::Status bad_port = DecodeRecords(
      R"({"zone":"z","a":{},"srv":{"_h._tcp.w.z":[{"address":"10.0.0.1","port":0}]}})")
                              .status();
  EXPECT_NE(bad_port.message().find("srv._h._tcp.w.z"), std::string::npos) << bad_port;
}

TEST(RecordsTest, ServiceConnectNamespacesRoundTripAndAreCheckedToo) {
  Records r = Sample();
  r.connect["internal"] = {.clients = {{"10.213.0.9", "default.skiff.internal"}},
                           .aliases = {{"backend", "10.213.0.1"}, {"api.internal", "10.213.0.1"}}};
  absl::StatusOr<Records> back = DecodeRecords(EncodeRecords(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  absl::Status bad_client = DecodeRecords(
      R"({"zone":"z","a":{},"srv":{},"connect":{"ns":{"clients":{"x":"z"},"aliases":{}}}})")
                                .status();
  EXPECT_NE(bad_client.message().find("connect.ns.clients: x"), std::string::npos) << bad_client;
  absl::Status upper = DecodeRecords(
      R"({"zone":"z","a":{},"srv":{},"connect":{"ns":{"clients":{},)"
      R"("aliases":{"Backend":"10.0.0.1"}}}})")
                           .status();
  EXPECT_NE(upper.message().find("connect.ns.aliases: Backend"), std::string::npos) << upper;
}

TEST(RecordsTest, TheFileIsReplacedWholeAndReadableByAll) {
  fakes::TempDir dir;
  const std::string path = RecordsPath(dir.path());
  ASSERT_TRUE(WriteRecordsFile(path, Records{}).ok());
  ASSERT_TRUE(WriteRecordsFile(path, Sample()).ok());
  absl::StatusOr<Records> read = ReadRecordsFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, Sample());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
  EXPECT_EQ(ReadRecordsFile(dir.path() + "/none.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DnsLabelTest, MapsEcsNamesToLabelsOrSaysWhyNot) {
  EXPECT_EQ(DnsLabel("web").value(), "web");
  EXPECT_EQ(DnsLabel("My_Web-2").value(), "my-web-2");
  EXPECT_EQ(DnsLabel(std::string(63, 'a')).value(), std::string(63, 'a'));
  absl::Status too_long = DnsLabel(std::string(64, 'a')).status();
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.message().find("63"), std::string::npos);
  EXPECT_EQ(DnsLabel("_web").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DnsLabel("web-").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DnsLabel("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DnsLabel("a.b").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::discovery

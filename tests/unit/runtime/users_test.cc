#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/runtime/oci_spec.h"

namespace skiff::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const ImageAccounts kAccounts = {
    .passwd = "root:x:0:0:root:/root:/bin/sh\n"
              "# a comment\n"
              "\n"
              "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
              "broken line\n"
              "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
              "app:x:1000:1000::/home/app:/bin/sh\n",
    .group = "root:x:0:\n"
             "daemon:x:1:\n"
             "adm:x:4:app,daemon\n"
             "www-data:x:33:\n"
             "staff:x:50: app \n"
             "app:x:1000:\n"
             "wheel:x:10:root\n",
};

ResolvedUser Resolve(const std::string& user, const ImageAccounts& accounts = kAccounts) {
  absl::StatusOr<ResolvedUser> r = ResolveUser(user, accounts);
  EXPECT_TRUE(r.ok()) << user << ": " << r.status();
  return r.value_or(ResolvedUser{});
}

TEST(ResolveUserTest, EmptyIsRootWithRootsGroups) {
  ResolvedUser u = Resolve("");
  EXPECT_EQ(u.uid, 0u);
  EXPECT_EQ(u.gid, 0u);
  EXPECT_THAT(u.additional_gids, ElementsAre(10u));
}

TEST(ResolveUserTest, EmptyWithoutAccountsIsRoot) {
  ResolvedUser u = Resolve("", ImageAccounts{});
  EXPECT_EQ(u.uid, 0u);
  EXPECT_EQ(u.gid, 0u);
  EXPECT_THAT(u.additional_gids, IsEmpty());
}

TEST(ResolveUserTest, NameTakesUidPrimaryGidAndMemberships) {
  ResolvedUser u = Resolve("app");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 1000u);
  EXPECT_THAT(u.additional_gids, ElementsAre(4u, 50u));
}

TEST(ResolveUserTest, NumericUidWithEntryIsLookedUp) {
  ResolvedUser u = Resolve("33");
  EXPECT_EQ(u.uid, 33u);
  EXPECT_EQ(u.gid, 33u);
  EXPECT_THAT(u.additional_gids, IsEmpty());
  EXPECT_THAT(Resolve("1000").additional_gids, ElementsAre(4u, 50u));
}

TEST(ResolveUserTest, NumericUidWithoutEntryGetsGidZero) {
  ResolvedUser u = Resolve("4242");
  EXPECT_EQ(u.uid, 4242u);
  EXPECT_EQ(u.gid, 0u);
  EXPECT_THAT(u.additional_gids, IsEmpty());
}

TEST(ResolveUserTest, UidGidNeedsNoFiles) {
  ResolvedUser u = Resolve("4242:77", ImageAccounts{});
  EXPECT_EQ(u.uid, 4242u);
  EXPECT_EQ(u.gid, 77u);
  EXPECT_THAT(u.additional_gids, IsEmpty());
}

TEST(ResolveUserTest, ExplicitGroupReplacesPrimaryAndDropsSupplementary) {
  ResolvedUser u = Resolve("app:staff");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 50u);
  EXPECT_THAT(u.additional_gids, IsEmpty());

  u = Resolve("1000:adm");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 4u);

  u = Resolve("app:99");
  EXPECT_EQ(u.uid, 1000u);
  EXPECT_EQ(u.gid, 99u);

  u = Resolve(":adm");  // No user part: root with that group.
  EXPECT_EQ(u.uid, 0u);
  EXPECT_EQ(u.gid, 4u);
}

TEST(ResolveUserTest, UnknownNameOrGroupNamesIt) {
  absl::StatusOr<ResolvedUser> r = ResolveUser("x", kAccounts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "user \"x\": no such user in the image's /etc/passwd");

  r = ResolveUser("app:nogroup", kAccounts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "user \"app:nogroup\": no such group in the image's /etc/group");

  r = ResolveUser("app", ImageAccounts{});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveUserTest, IdsOutsideRangeAreRejected) {
  EXPECT_EQ(Resolve("2147483647").uid, 2147483647u);
  for (const char* user : {"2147483648", "1:2147483648", "99999999999999999999", "a:b:c"}) {
    absl::StatusOr<ResolvedUser> r = ResolveUser(user, kAccounts);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << user;
  }
  EXPECT_EQ(ResolveUser("2147483648", kAccounts).status().message(),
            "user \"2147483648\": uid 2147483648 is outside 0..2147483647");
}

TEST(ResolveUserTest, NegativeIdIsAName) {
  // "-1" is not a decimal id, so it can only be a (missing) name, as with runc.
  EXPECT_EQ(ResolveUser("-1", kAccounts).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UserNeedsAccountsTest, OnlyUidGidIsSelfContained) {
  EXPECT_FALSE(UserNeedsAccounts("1000:1000"));
  EXPECT_FALSE(UserNeedsAccounts("0:0"));
  EXPECT_TRUE(UserNeedsAccounts(""));
  EXPECT_TRUE(UserNeedsAccounts("1000"));
  EXPECT_TRUE(UserNeedsAccounts("app"));
  EXPECT_TRUE(UserNeedsAccounts("app:1000"));
  EXPECT_TRUE(UserNeedsAccounts("1000:staff"));
}

}  // namespace
}  // namespace skiff::runtime

#include "skiff/model/resources.h"

#include "gtest/gtest.h"

namespace skiff::model {
namespace {

TEST(ResourcesTest, CpuInUnitsOrVcpus) {
  EXPECT_EQ(*ParseCpuUnits("256"), 256);
  EXPECT_EQ(*ParseCpuUnits("1 vCPU"), 1024);
  EXPECT_EQ(*ParseCpuUnits("0.25 vcpu"), 256);
  EXPECT_EQ(*ParseCpuUnits(" 2vCPU "), 2048);
  EXPECT_EQ(ParseCpuUnits("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCpuUnits("1 core").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCpuUnits("0").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCpuUnits("1.5").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResourcesTest, MemoryInMibOrGb) {
  EXPECT_EQ(*ParseMemoryMiB("512"), 512);
  EXPECT_EQ(*ParseMemoryMiB("2GB"), 2048);
  EXPECT_EQ(*ParseMemoryMiB("0.5 GB"), 512);
  EXPECT_EQ(*ParseMemoryMiB("3 gib"), 3072);
  EXPECT_EQ(*ParseMemoryMiB("100 MiB"), 100);
  EXPECT_EQ(ParseMemoryMiB("2TB").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMemoryMiB("-1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResourcesTest, FargateTable) {
  EXPECT_TRUE(IsValidFargateSize(256, 512));
  EXPECT_TRUE(IsValidFargateSize(256, 2048));
  EXPECT_FALSE(IsValidFargateSize(256, 3072));
  EXPECT_TRUE(IsValidFargateSize(512, 4096));
  EXPECT_FALSE(IsValidFargateSize(512, 512));
  EXPECT_TRUE(IsValidFargateSize(4096, 30720));
  EXPECT_FALSE(IsValidFargateSize(4096, 31744));
  EXPECT_TRUE(IsValidFargateSize(8192, 20480));
  EXPECT_FALSE(IsValidFargateSize(8192, 17408));  // Steps of 4 GiB there.
  EXPECT_TRUE(IsValidFargateSize(16384, 122880));
  EXPECT_FALSE(IsValidFargateSize(300, 1024));
}

}  // namespace
}  // namespace skiff::model

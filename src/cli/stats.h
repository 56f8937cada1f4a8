// `skiff stats`: the containers of running tasks as `docker stats` shows them (CONTAINER, TASK,
// CPU %, MEM USAGE / LIMIT, MEM %, PIDS), then each service's utilization as ECS computes it for
// autoscaling. It refreshes every sampling interval until interrupted; --no-stream prints once.
// --output json prints the response instead. CLI main thread only.
#ifndef SKIFF_SRC_CLI_STATS_H_
#define SKIFF_SRC_CLI_STATS_H_

#include <string>

#include "cli/streams.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::cli {

int RunStats(const Connection& connection, const v1::DescribeStatsRequest& request);

// The table of one response (what RunStats prints each round).
std::string RenderStatsTable(const v1::DescribeStatsResponse& response);

// Bytes as docker prints them: binary units, two decimals ("1.50MiB").
std::string HumanBytes(int64_t bytes);

}  // namespace skiff::cli

#endif  // SKIFF_SRC_CLI_STATS_H_

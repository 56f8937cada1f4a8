#include "cli/stats.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/descriptors.h"
#include "skiff/cli/app.h"
#include "skiff/model/json_codec.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::cli {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(30);

std::string Percent(bool has, double value) {
  return has ? absl::StrFormat("%.2f%%", value) : std::string("-");
}

// The task id: the last part of its ARN.
std::string TaskId(const std::string& arn) { return arn.substr(arn.rfind('/') + 1); }

// Rows of cells printed in columns, each as wide as its widest cell plus three spaces.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 3, ' ');
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace

std::string HumanBytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, "B") : absl::StrFormat("%.2f%s", value, kUnits[unit]);
}

std::string RenderStatsTable(const v1::DescribeStatsResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER", "TASK", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"}};
  for (const v1::TaskStats& task : response.tasks()) {
    for (const v1::ContainerStats& c : task.containers()) {
      if (!c.has_sampled_at()) {
        rows.push_back({c.container_name(), TaskId(task.task_arn()), "-", "-", "-", "-"});
        continue;
      }
      const bool limited = c.has_memory_limit_bytes() && c.memory_limit_bytes() > 0;
      const double mem_percent =
          limited ? 100.0 * static_cast<double>(c.memory_working_set_bytes()) /
                        static_cast<double>(c.memory_limit_bytes())
                  : 0;
      rows.push_back({c.container_name(), TaskId(task.task_arn()),
                      Percent(c.has_cpu_percent(), c.cpu_percent()),
                      absl::StrCat(HumanBytes(c.memory_working_set_bytes()), " / ",
                                   limited ? HumanBytes(c.memory_limit_bytes()) : "-"),
                      Percent(limited, mem_percent), absl::StrCat(c.pids())});
    }
  }
  std::string out = Columns(rows);
  if (response.services_size() == 0) return out;
  std::vector<std::vector<std::string>> services = {
      {"SERVICE", "RUNNING", "CPU UTILIZATION", "MEMORY UTILIZATION"}};
  for (const v1::ServiceUtilization& s : response.services()) {
    services.push_back({s.service_name(), absl::StrCat(s.running_tasks()),
                        Percent(s.has_cpu_utilization(), s.cpu_utilization()),
                        Percent(s.has_memory_utilization(), s.memory_utilization())});
  }
  return absl::StrCat(out, "\n", Columns(services));
}

int RunStats(const Connection& connection, const v1::DescribeStatsRequest& request) {
  const bool json = connection.output_chosen && connection.output == "json";
  const bool stream = !request.has_stream() || request.stream();
  // As docker stats: on a terminal each round replaces the last.
  const bool redraw = stream && !json && isatty(STDOUT_FILENO);
  v1::Node::Stub stub(connection.channel);
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    v1::DescribeStatsResponse response;
    grpc::Status status = stub.DescribeStats(&context, request, &response);
    if (!status.ok()) return ReportError(connection, context, status);
    if (redraw) std::cout << "\033[2J\033[H";
    std::cout << (json ? model::EncodeMessagePretty(*ToDynamic(response))
                       : RenderStatsTable(response))
              << std::flush;
    if (!stream) return kExitOk;
    const double interval = std::max(1.0, response.interval_seconds());
    std::this_thread::sleep_for(absl::ToChronoSeconds(absl::Seconds(interval)));
  }
}

}  // namespace skiff::cli

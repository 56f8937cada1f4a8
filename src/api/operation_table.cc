#include "api/operation_table.h"

#include "skiff/base/check.h"
#include "spdlog/spdlog.h"

namespace skiff::api {

OperationTable::OperationTable(std::vector<Operation> rows) : rows_(std::move(rows)) {
  for (const Operation& row : rows_) {
    // The table is fixed at build time: a duplicate is a bug that every start would hit.
    if (!by_name_.emplace(row.name, &row).second) {
      CheckFailed("two operation rows named " + row.name, __FILE__, __LINE__);
    }
  }
}

const Operation* OperationTable::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

bool RunOnLoop(scheduler::EventLoop* loop, const Operation& operation,
               std::unique_ptr<Message> request, std::function<void(Reply)> done) {
  return loop->Post([&operation, request = std::move(request), done = std::move(done)] {
    Reply reply = operation.run(*request);
    if (!reply.ok()) {
      const absl::StatusCode code = reply.status().code();
      if (code == absl::StatusCode::kInternal || code == absl::StatusCode::kDataLoss ||
          code == absl::StatusCode::kUnavailable) {
        spdlog::error("{}: {}", operation.name, reply.status().ToString());
      }
    }
    done(std::move(reply));
  });
}

}  // namespace skiff::api

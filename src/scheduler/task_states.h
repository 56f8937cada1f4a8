// The stages of a task's lastStatus and the moves between them, shared by the files of
// TaskManager (task_manager.cc, task_ordering.cc, task_queries.cc). Private to the scheduler.
#ifndef SKIFF_SRC_SCHEDULER_TASK_STATES_H_
#define SKIFF_SRC_SCHEDULER_TASK_STATES_H_

#include <iterator>

#include "absl/strings/string_view.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

inline bool IsStopped(const v1::Task& task) { return task.last_status() == "STOPPED"; }

// The stage order; a task's lastStatus only moves to a later one.
inline int StageOf(absl::string_view status) {
  static constexpr absl::string_view kOrder[] = {"PROVISIONING", "PENDING",        "ACTIVATING",
                                                 "RUNNING",      "DEACTIVATING",   "STOPPING",
                                                 "DEPROVISIONING", "STOPPED"};
  for (size_t i = 0; i < std::size(kOrder); ++i) {
    if (kOrder[i] == status) return static_cast<int>(i);
  }
  return -1;
}

inline void Advance(v1::Task& task, absl::string_view status) {
  if (StageOf(status) > StageOf(task.last_status())) task.set_last_status(std::string(status));
}

}  // namespace skiff::scheduler

#endif  // SKIFF_SRC_SCHEDULER_TASK_STATES_H_

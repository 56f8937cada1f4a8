#include "skiff/scheduler/service_planner.h"

namespace skiff::scheduler {

ServicePlanner::ServicePlanner(ServicePlannerOptions options, RandomSource* random)
    : options_(std::move(options)), random_(random) {}

}  // namespace skiff::scheduler

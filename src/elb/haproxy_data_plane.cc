#include "skiff/elb/haproxy_data_plane.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "elb/errors.h"

namespace skiff::elb {

HaproxyDataPlane::HaproxyDataPlane(lb::DataPlaneSyncOptions options,
                                   std::function<void(DataPlaneView)> on_report)
    : options_(options), process_(options.paths) {
  options_.render.admin_socket = options_.paths.admin_socket();
  sync_ = std::make_unique<lb::DataPlaneSync>(
      options, [on_report = std::move(on_report)](const lb::DataPlaneReport& report) {
        DataPlaneView view{.generation = report.generation,
                           .running = report.running,
                           .status = report.status,
                           .servers = report.servers};
        view.admitted.insert(report.admitted.begin(), report.admitted.end());
        on_report(std::move(view));
      });
}

HaproxyDataPlane::~HaproxyDataPlane() = default;

absl::Status HaproxyDataPlane::Check(const lb::DataPlane& plane) {
  if (access(options_.paths.binary.c_str(), X_OK) != 0) {
    return absl::UnavailableError(absl::StrCat("load balancing is unavailable: HAProxy (",
                                               options_.paths.binary,
                                               ") cannot run: ", std::strerror(errno)));
  }
  absl::StatusOr<std::string> config = lb::RenderHaproxyConfig(plane, options_.render);
  if (!config.ok()) return Invalid(config.status().message());
  absl::Status valid = process_.Validate(*config);
  if (absl::IsInvalidArgument(valid)) {
    return Invalid(absl::StrCat("HAProxy refuses the configuration: ", valid.message()));
  }
  if (!valid.ok()) {
    return absl::UnavailableError(
        absl::StrCat("load balancing is unavailable: ", valid.message()));
  }
  return absl::OkStatus();
}

void HaproxyDataPlane::Want(lb::DataPlane plane, uint64_t generation) {
  sync_->Want(std::move(plane), generation);
}

absl::Status HaproxyDataPlane::Shutdown(bool stop_haproxy) {
  return sync_->Shutdown(stop_haproxy);
}

}  // namespace skiff::elb

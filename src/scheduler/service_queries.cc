#include "skiff/scheduler/service_manager.h"

namespace skiff::scheduler {
namespace {
absl::Status NotYet() { return absl::UnimplementedError("not implemented yet"); }
}  // namespace

absl::StatusOr<v1::CreateServiceResponse> ServiceManager::CreateService(
    const v1::CreateServiceRequest&) { return NotYet(); }
absl::StatusOr<v1::UpdateServiceResponse> ServiceManager::UpdateService(
    const v1::UpdateServiceRequest&) { return NotYet(); }
absl::StatusOr<v1::DeleteServiceResponse> ServiceManager::DeleteService(
    const v1::DeleteServiceRequest&) { return NotYet(); }
absl::StatusOr<v1::DescribeServicesResponse> ServiceManager::DescribeServices(
    const v1::DescribeServicesRequest&) { return NotYet(); }
absl::StatusOr<v1::ListServicesResponse> ServiceManager::ListServices(
    const v1::ListServicesRequest&) { return NotYet(); }
int ServiceManager::ActiveServiceCount(const std::string&) const { return 0; }
absl::StatusOr<std::vector<v1::Tag>> ServiceManager::Tags(const std::string&,
                                                          const std::string&) const {
  return NotYet();
}
absl::Status ServiceManager::SetTags(const std::string&, const std::string&, std::vector<v1::Tag>) {
  return NotYet();
}

}  // namespace skiff::scheduler

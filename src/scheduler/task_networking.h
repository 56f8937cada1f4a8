// How a task's network mode becomes namespaces, host ports and /etc files, for TaskManager.
// Private to the scheduler.
//
// bridge: every container has a namespace of its own on skiff's bridge (attachment id = its
// runtime id), with its portMappings published on the host; hostPort 0 or absent is a dynamic
// port. awsvpc: one namespace per task (attachment id = the task id) that its containers share,
// so they reach each other on localhost; its ports are reached at the task's address, not
// published on the host (as an ENI's are not). host: the containers' ports are the host's, and
// count as held. none: nothing.
#ifndef SKIFF_SRC_SCHEDULER_TASK_NETWORKING_H_
#define SKIFF_SRC_SCHEDULER_TASK_NETWORKING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/network/port_allocator.h"
#include "skiff/network/task_network.h"
#include "skiff/runtime/container_spec.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

enum class TaskNetworkMode { kHost, kNone, kBridge, kAwsvpc };

TaskNetworkMode NetworkModeOf(const v1::TaskDefinition& definition);
inline bool HasNamespaces(TaskNetworkMode mode) {
  return mode == TaskNetworkMode::kBridge || mode == TaskNetworkMode::kAwsvpc;
}

// The host ports a container holds while its task runs (hostPort 0: a dynamic one).
std::vector<network::PortRequest> HostPortRequests(TaskNetworkMode mode,
                                                   const v1::ContainerDefinition& container);

// Records what a request of `count` ports got on the container: one networkBinding, with
// containerPortRange and hostPortRange for a range.
void RecordBinding(const network::PortBinding& binding, int count, v1::Container& container);

// A container's networkBindings (the host ports it was given at placement), a range's ports one
// by one.
std::vector<network::PortBinding> BindingsOf(const v1::Container& container);

// The attachments of a task: its containers' runtime ids (bridge), the task id (awsvpc), none.
std::vector<std::string> AttachmentIds(TaskNetworkMode mode, const std::string& task_id,
                                       const std::vector<std::string>& runtime_ids);

// ECS's form of the awsvpc attachment id (a UUID) for a task id of 32 hex digits.
std::string AttachmentUuid(const std::string& task_id);

// On a worker thread: attaches the task's namespaces, writes each one's hosts and resolv.conf
// under task_dir/network/<attachment id>/, and points the container specs (parallel to the
// definition's containers named in them) at them. `bindings` holds each spec's host ports. With
// `dns_search` ("CLUSTER.ZONE": discovery is on) the containers resolve through the node's
// resolver on the bridge's gateway, with that search domain first. On error what was attached
// is detached again. The attachments come back parallel to specs.
absl::StatusOr<std::vector<network::Attachment>> AttachTask(
    network::TaskNetwork* network, TaskNetworkMode mode, const std::string& task_id,
    const v1::TaskDefinition& definition, const std::string& task_dir,
    const std::vector<std::vector<network::PortBinding>>& bindings, const std::string& dns_search,
    std::vector<runtime::ContainerSpec>& specs);

// Records what AttachTask made on the task, as ECS shows it: awsvpc tasks get one
// ElasticNetworkInterface attachment (ATTACHED) and every container its networkInterfaces entry;
// in bridge mode each container's networkInterfaces holds its own address.
void RecordAttachments(TaskNetworkMode mode, const std::string& task_id,
                       const std::vector<network::Attachment>& attachments, v1::Task& task);

}  // namespace skiff::scheduler

#endif  // SKIFF_SRC_SCHEDULER_TASK_NETWORKING_H_

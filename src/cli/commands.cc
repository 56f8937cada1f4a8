#include "cli/commands.h"

#include <utility>

#include "cli/descriptors.h"
#include "cli/stats.h"
#include "skiff/autoscaling/v1/service.grpc.pb.h"
#include "skiff/secretsmanager/v1/service.grpc.pb.h"
#include "skiff/ssm/v1/service.grpc.pb.h"
#include "skiff/cli/app.h"
#include "skiff/elbv2/v1/service.grpc.pb.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::cli {
namespace {

using google::protobuf::Message;

template <typename Stub, typename Request, typename Response>
Command MakeCommand(std::string name, std::string help,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                 Response*)) {
  return Command{
      .name = std::move(name),
      .help = std::move(help),
      .request_type = TypeName<Request>::kValue,
      .call = [method](const Connection& connection, grpc::ClientContext* context,
                       const Message& request, std::unique_ptr<Message>* response) {
        Stub stub(connection.channel);
        Response typed;
        grpc::Status status = (stub.*method)(context, FromDynamic<Request>(request), &typed);
        if (status.ok()) *response = ToDynamic(typed);
        return status;
      }};
}

Command WithJudge(Command command, int (*judge)(const Message&, std::ostream&)) {
  command.judge = judge;
  return command;
}

template <typename Request>
Command MakeStreamCommand(std::string parent, std::string name, std::string help,
                          int (*run)(const Connection&, const Request&)) {
  return Command{.parent = std::move(parent),
                 .name = std::move(name),
                 .help = std::move(help),
                 .request_type = TypeName<Request>::kValue,
                 .run = [run](const Connection& connection, const Message& request) {
                   return run(connection, FromDynamic<Request>(request));
                 }};
}

// run-task's failures on `err`, one a line as `failure: ARN: REASON (DETAIL)`; kExitDaemonError
// when no task started (a script must not go on with an empty task ARN).
int JudgeRunTask(const Message& response, std::ostream& err) {
  const auto run = FromDynamic<v1::RunTaskResponse>(response);
  for (const v1::Failure& f : run.failures()) {
    err << "failure: " << (f.arn().empty() ? "-" : f.arn()) << ": " << f.reason();
    if (!f.detail().empty()) err << " (" << f.detail() << ")";
    err << "\n";
  }
  if (run.tasks_size() > 0) return kExitOk;
  err << "error: no task was started\n";
  return kExitDaemonError;
}

std::vector<Command> EcsCommands() {
  using S = v1::Ecs::Stub;
  return {
      MakeCommand("register-task-definition", "Register a task definition (a new revision)",
                  &S::RegisterTaskDefinition),
      MakeCommand("describe-task-definition", "Describe a task definition (FAMILY[:REV] or ARN)",
                  &S::DescribeTaskDefinition),
      MakeCommand("list-task-definitions", "List task definition ARNs",
                  &S::ListTaskDefinitions),
      MakeCommand("list-task-definition-families", "List task definition families",
                  &S::ListTaskDefinitionFamilies),
      MakeCommand("deregister-task-definition", "Mark a task definition revision INACTIVE",
                  &S::DeregisterTaskDefinition),
      MakeCommand("delete-task-definitions",
                  "Delete INACTIVE revisions (DELETE_IN_PROGRESS until no task uses them)",
                  &S::DeleteTaskDefinitions),
      WithJudge(MakeCommand("run-task", "Start one-off tasks from a task definition", &S::RunTask),
                JudgeRunTask),
      MakeCommand("stop-task", "Stop a task (SIGTERM, stopTimeout, then SIGKILL)", &S::StopTask),
      MakeCommand("describe-tasks", "Describe tasks by id or ARN", &S::DescribeTasks),
      MakeCommand("list-tasks", "List task ARNs", &S::ListTasks),
      MakeCommand("update-task-protection",
                  "Protect tasks of a service from scale-in (--protection-enabled), or stop",
                  &S::UpdateTaskProtection),
      MakeCommand("get-task-protection", "Show the scale-in protection of tasks",
                  &S::GetTaskProtection),
      MakeCommand("create-cluster", "Create a cluster (an existing one is returned as it is)",
                  &S::CreateCluster),
      MakeCommand("describe-clusters", "Describe clusters by name or ARN (none: default)",
                  &S::DescribeClusters),
      MakeCommand("list-clusters", "List cluster ARNs", &S::ListClusters),
      MakeCommand("delete-cluster", "Delete a cluster without services or unstopped tasks",
                  &S::DeleteCluster),
      MakeCommand("describe-container-instances",
                  "Describe this node as a container instance of the cluster",
                  &S::DescribeContainerInstances),
      MakeCommand("tag-resource", "Add or overwrite tags of a cluster, service or task definition",
                  &S::TagResource),
      MakeCommand("untag-resource", "Remove tags by key", &S::UntagResource),
      MakeCommand("list-tags-for-resource", "List the tags of a resource",
                  &S::ListTagsForResource),
      MakeCommand("create-service", "Create a service that keeps desiredCount tasks running",
                  &S::CreateService),
      MakeCommand("update-service",
                  "Change a service's desired count, task definition or deployment settings",
                  &S::UpdateService),
      MakeCommand("delete-service", "Delete a service (--force when its desired count is not 0)",
                  &S::DeleteService),
      MakeCommand("describe-services", "Describe services, with deployments and events",
                  &S::DescribeServices),
      MakeCommand("list-services", "List service ARNs", &S::ListServices),
      MakeCommand("list-service-deployments",
                  "List a service's deployments, newest first, with their outcome",
                  &S::ListServiceDeployments),
      MakeCommand("describe-service-deployments",
                  "Describe service deployments: revisions, circuit breaker, rollback",
                  &S::DescribeServiceDeployments),
      MakeCommand("describe-service-revisions",
                  "Describe service revisions (the task definition a deployment rolled out)",
                  &S::DescribeServiceRevisions),
      MakeStreamCommand("", "execute-command",
                        "Run a command in a task's container (--interactive: a session, with a "
                        "terminal when stdin is one)",
                        &RunExecuteCommand),
      MakeStreamCommand("wait", "tasks-running", "Wait until the tasks are RUNNING",
                        &RunWaitTasksRunning),
      MakeStreamCommand("wait", "tasks-stopped", "Wait until the tasks are STOPPED",
                        &RunWaitTasksStopped),
      MakeStreamCommand("wait", "services-stable",
                        "Wait until the services have one deployment and run as many tasks as "
                        "they want",
                        &RunWaitServicesStable),
  };
}

std::vector<Command> NodeCommands() {
  using N = v1::Node::Stub;
  return {
      MakeCommand("list-images", "List the images in skiffd's containerd namespace",
                  &N::ListImages),
      MakeCommand("remove-image", "Remove an image by reference", &N::RemoveImage),
      MakeCommand("prune-images", "Remove every image that no task (running or pending) uses",
                  &N::PruneImages),
      MakeCommand("describe-container-health",
                  "Show the health checks of a task's containers, with the last check's output",
                  &N::DescribeContainerHealth),
      MakeStreamCommand("", "load-image", "Load an OCI-layout or docker-archive tarball",
                        &RunLoadImage),
      MakeStreamCommand("", "pull-image",
                        "Pull an image from its registry (progress on a terminal)",
                        &RunPullImage),
      MakeStreamCommand("", "logs", "Print a task's container output", &RunLogs),
      MakeStreamCommand("", "stats",
                        "CPU and memory of running tasks' containers, as docker stats, and "
                        "services' utilization (--no-stream: once)",
                        &RunStats),
  };
}

std::vector<Command> Elbv2Commands() {
  using E = elbv2::v1::Elbv2::Stub;
  return {
      MakeCommand("create-load-balancer", "Create a load balancer", &E::CreateLoadBalancer),
      MakeCommand("describe-load-balancers", "Describe load balancers by ARN or name (none: all)",
                  &E::DescribeLoadBalancers),
      MakeCommand("delete-load-balancer", "Delete a load balancer and its listeners",
                  &E::DeleteLoadBalancer),
      MakeCommand("create-target-group", "Create a target group, with its health check",
                  &E::CreateTargetGroup),
      MakeCommand("describe-target-groups",
                  "Describe target groups by ARN, name or load balancer (none: all)",
                  &E::DescribeTargetGroups),
      MakeCommand("modify-target-group", "Change a target group's health check",
                  &E::ModifyTargetGroup),
      MakeCommand("delete-target-group", "Delete a target group that no action uses",
                  &E::DeleteTargetGroup),
      MakeCommand("modify-target-group-attributes",
                  "Set target group attributes (deregistration delay, ...)",
                  &E::ModifyTargetGroupAttributes),
      MakeCommand("describe-target-group-attributes", "Describe a target group's attributes",
                  &E::DescribeTargetGroupAttributes),
      MakeCommand("create-listener", "Create a listener on a load balancer's port",
                  &E::CreateListener),
      MakeCommand("describe-listeners", "Describe listeners by ARN or load balancer",
                  &E::DescribeListeners),
      MakeCommand("modify-listener", "Change a listener's port, protocol or default actions",
                  &E::ModifyListener),
      MakeCommand("delete-listener", "Delete a listener and its rules", &E::DeleteListener),
      MakeCommand("create-rule", "Add a rule (conditions, actions, priority) to a listener",
                  &E::CreateRule),
      MakeCommand("describe-rules", "Describe rules by ARN or listener", &E::DescribeRules),
      MakeCommand("modify-rule", "Change a rule's conditions or actions", &E::ModifyRule),
      MakeCommand("delete-rule", "Delete a rule (not a listener's default rule)",
                  &E::DeleteRule),
      MakeCommand("register-targets", "Register targets (ID and port) with a target group",
                  &E::RegisterTargets),
      MakeCommand("deregister-targets", "Deregister targets: they drain, then leave",
                  &E::DeregisterTargets),
      MakeCommand("describe-target-health", "Describe the health of a target group's targets",
                  &E::DescribeTargetHealth),
      MakeCommand("add-tags", "Add or overwrite tags of load balancers or target groups",
                  &E::AddTags),
      MakeCommand("describe-tags", "Describe the tags of load balancers or target groups",
                  &E::DescribeTags),
      MakeCommand("remove-tags", "Remove tags by key", &E::RemoveTags),
  };
}

std::vector<Command> AutoScalingCommands() {
  using A = autoscaling::v1::ApplicationAutoScaling::Stub;
  return {
      MakeCommand("register-scalable-target",
                  "Register a service's desired count as a scalable target, or update one",
                  &A::RegisterScalableTarget),
      MakeCommand("deregister-scalable-target",
                  "Deregister a scalable target, with its policies and scheduled actions",
                  &A::DeregisterScalableTarget),
      MakeCommand("describe-scalable-targets", "Describe scalable targets",
                  &A::DescribeScalableTargets),
      MakeCommand("put-scaling-policy", "Create or update a target tracking scaling policy",
                  &A::PutScalingPolicy),
      MakeCommand("delete-scaling-policy", "Delete a scaling policy", &A::DeleteScalingPolicy),
      MakeCommand("describe-scaling-policies", "Describe scaling policies",
                  &A::DescribeScalingPolicies),
      MakeCommand("describe-scaling-activities", "Describe scaling activities, newest first",
                  &A::DescribeScalingActivities),
      MakeCommand("put-scheduled-action",
                  "Create or update a scheduled action (at(), rate() or cron())",
                  &A::PutScheduledAction),
      MakeCommand("delete-scheduled-action", "Delete a scheduled action",
                  &A::DeleteScheduledAction),
      MakeCommand("describe-scheduled-actions", "Describe scheduled actions",
                  &A::DescribeScheduledActions),
  };
}

std::vector<Command> SecretsManagerCommands() {
  using S = secretsmanager::v1::SecretsManager::Stub;
  return {
      MakeCommand("create-secret", "Create a secret, with its first value if given",
                  &S::CreateSecret),
      MakeCommand("put-secret-value",
                  "Store a new version of a secret's value (it becomes AWSCURRENT)",
                  &S::PutSecretValue),
      MakeCommand("get-secret-value", "Print a secret's value (AWSCURRENT unless told)",
                  &S::GetSecretValue),
      MakeCommand("describe-secret", "Describe a secret, without its value", &S::DescribeSecret),
      MakeCommand("list-secrets", "List secrets, without their values", &S::ListSecrets),
      MakeCommand("delete-secret",
                  "Schedule a secret's deletion (a recovery window), or delete it at once",
                  &S::DeleteSecret),
  };
}

std::vector<Command> SsmCommands() {
  using P = ssm::v1::Ssm::Stub;
  return {
      MakeCommand("put-parameter", "Create a parameter, or a new version with --overwrite",
                  &P::PutParameter),
      MakeCommand("get-parameter", "Print a parameter (name, ARN or name:version)",
                  &P::GetParameter),
      MakeCommand("get-parameters", "Print up to 10 parameters; missing ones are listed",
                  &P::GetParameters),
      MakeCommand("get-parameters-by-path",
                  "Print the parameters under a path (--recursive for every level)",
                  &P::GetParametersByPath),
      MakeCommand("delete-parameter", "Delete a parameter and its versions",
                  &P::DeleteParameter),
  };
}

void Append(Group group, std::vector<Command> commands, std::vector<Command>* out) {
  for (Command& command : commands) {
    command.group = group;
    out->push_back(std::move(command));
  }
}

}  // namespace

std::vector<Command> Commands() {
  std::vector<Command> out;
  Append(Group::kEcs, EcsCommands(), &out);
  Append(Group::kNode, NodeCommands(), &out);
  Append(Group::kElbv2, Elbv2Commands(), &out);
  Append(Group::kAutoScaling, AutoScalingCommands(), &out);
  Append(Group::kSecretsManager, SecretsManagerCommands(), &out);
  Append(Group::kSsm, SsmCommands(), &out);
  return out;
}

}  // namespace skiff::cli

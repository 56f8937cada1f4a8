#include "absl/strings/string_view.h"
#include "skiff/cli/app.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "skiff/cli/output.h"
#include "streams.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/v1/options.pb.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using json = nlohmann::ordered_json;

constexpr char kDefaultSocket[] = "/run/skiff/skiffd.sock";
constexpr absl::Duration kCallTimeout = absl::Seconds(60);


// One subcommand: its request type and how to call its RPC. Unary calls use `call` and print
// the response; streams and waiters use `run`, which prints and returns the exit status.
struct Command {
  std::string parent;  // "wait" for `skiff wait tasks-running`; "" for top-level commands.
  std::string name;
  std::string help;
  const Descriptor* request;
  std::function<grpc::Status(const Connection&, grpc::ClientContext*, const Message&,
                             std::unique_ptr<Message>*)>
      call;
  std::function<int(const Connection&, const Message&)> run;
};

template <typename Stub, typename Request, typename Response>
Command MakeCommand(std::string name, std::string help,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                 Response*)) {
  return Command{
      "", std::move(name), std::move(help), Request::descriptor(),
      [method](const Connection& connection, grpc::ClientContext* context, const Message& request,
               std::unique_ptr<Message>* response) {
        Stub stub(connection.channel);
        auto typed = std::make_unique<Response>();
        grpc::Status status =
            (stub.*method)(context, static_cast<const Request&>(request), typed.get());
        *response = std::move(typed);
        return status;
      },
      nullptr};
}

template <typename Request>
Command MakeStreamCommand(std::string parent, std::string name, std::string help,
                          int (*run)(const Connection&, const Request&)) {
  return Command{std::move(parent), std::move(name), std::move(help), Request::descriptor(),
                 nullptr, [run](const Connection& connection, const Message& request) {
                   return run(connection, static_cast<const Request&>(request));
                 }};
}

std::vector<Command> Commands() {
  using S = v1::Ecs::Stub;
  using N = v1::Node::Stub;
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
      MakeCommand("run-task", "Start one-off tasks from a task definition", &S::RunTask),
      MakeCommand("stop-task", "Stop a task (SIGTERM, stopTimeout, then SIGKILL)", &S::StopTask),
      MakeCommand("describe-tasks", "Describe tasks by id or ARN", &S::DescribeTasks),
      MakeCommand("list-tasks", "List task ARNs", &S::ListTasks),
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
      MakeStreamCommand("", "execute-command", "Run a command in a task's container",
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

// "containerDefinitions" -> "container-definitions", as the aws CLI names its flags (botocore's
// xform_name): a run of capitals is one word, "enableECSManagedTags" -> "enable-ecs-managed-tags".
std::string Kebab(absl::string_view camel) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const char c = camel[i];
    if (!upper(c)) {
      out += c;
      continue;
    }
    const bool after_word = i > 0 && lower_or_digit(camel[i - 1]);
    const bool ends_acronym = i > 0 && upper(camel[i - 1]) && i + 1 < camel.size() &&
                              camel[i + 1] >= 'a' && camel[i + 1] <= 'z';
    if (after_word || ends_acronym) out += '-';
    out += static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct UsageError {
  std::string message;
};

// Input text the CLI will read. ECS's 64 KiB applies to the compact request and is checked by
// the daemon; a pretty-printed file that aws accepts may be larger than that.
constexpr model::JsonLimits kInputLimits{.max_bytes = 1 << 20, .max_depth = 32};

// "file://PATH" reads a regular file of at most kInputLimits.max_bytes; anything else is the text
// itself.
std::string ReadArgument(const std::string& flag, const std::string& value) {
  if (!absl::StartsWith(value, "file://")) return value;
  const std::string path = value.substr(7);
  auto fail = [&](absl::string_view why) {
    return UsageError{absl::StrCat("--", flag, ": cannot read ", path, ": ", why)};
  };
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) throw fail(ec.message());
  if (!std::filesystem::is_regular_file(status)) throw fail("not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw fail(ec.message());
  if (size > kInputLimits.max_bytes) {
    throw fail(absl::StrCat(size, " bytes; the limit is ", kInputLimits.max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw fail(std::strerror(errno));
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

json ParseJsonArgument(const std::string& flag, const std::string& text) {
  if (text.empty()) throw UsageError{absl::StrCat("--", flag, ": empty value")};
  absl::StatusOr<json> parsed = model::ParseJsonText(ReadArgument(flag, text), kInputLimits);
  if (!parsed.ok()) throw UsageError{absl::StrCat("--", flag, ": ", parsed.status().message())};
  return *std::move(parsed);
}

// The JSON value of one flag for field: strings stay strings; everything else is JSON text.
json FlagValue(const FieldDescriptor* field, const std::string& flag,
               const std::vector<std::string>& values) {
  const bool is_string = field->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
  // Structures and lists of structures: the value is their JSON, taken as it is.
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (values.size() != 1) throw UsageError{absl::StrCat("--", flag, ": takes one value")};
    return ParseJsonArgument(flag, values[0]);
  }
  if (field->is_repeated()) {
    if (values.size() == 1 && absl::StartsWith(values[0], "[")) {
      return ParseJsonArgument(flag, values[0]);
    }
    json list = json::array();
    for (const auto& v : values) list.push_back(is_string ? json(v) : ParseJsonArgument(flag, v));
    return list;
  }
  if (values.size() != 1) throw UsageError{absl::StrCat("--", flag, ": takes one value")};
  return is_string ? json(values[0]) : ParseJsonArgument(flag, values[0]);
}

// What a flag takes, from its field: the JSON type, a string enum's values, required or not.
std::string FlagHelp(const FieldDescriptor* field) {
  std::string help;
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE || field->is_map()) {
    help = field->is_repeated() && !field->is_map() ? "JSON list, or file://PATH"
                                                    : "JSON object, or file://PATH";
  } else {
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64: help = "integer"; break;
      case FieldDescriptor::CPPTYPE_BOOL: help = "true or false"; break;
      case FieldDescriptor::CPPTYPE_DOUBLE: help = "number"; break;
      default: help = "string"; break;
    }
    if (field->is_repeated()) help = absl::StrCat("one or more values (", help, "), or a JSON list");
    const auto& allowed = field->options().GetRepeatedExtension(skiff::v1::allowed);
    if (!allowed.empty()) absl::StrAppend(&help, ": ", absl::StrJoin(allowed, ", "));
  }
  if (field->options().GetExtension(skiff::v1::required)) absl::StrAppend(&help, " (required in the request)");
  return help;
}

class App {
 public:
  int Run(int argc, char** argv) {
    CLI::App app{"skiff: the Skiff CLI, with the commands and flags of `aws ecs`"};
    app.require_subcommand(1);
    app.fallthrough();  // Global flags may follow the subcommand, as with aws.
    app.set_version_flag("--version", SKIFF_VERSION);
    if (const char* env = std::getenv("SKIFF_SOCKET")) socket_ = env;
    app.add_option("--socket", socket_, "skiffd's API socket (env SKIFF_SOCKET)")
        ->capture_default_str();
    app.add_option("--output", output_, "json or table")
        ->check(CLI::IsMember({"json", "table"}))
        ->capture_default_str();
    cluster_flag_ = app.add_option("--cluster", cluster_, "cluster name")->capture_default_str();

    const std::vector<Command> commands = Commands();
    std::map<std::string, CLI::App*> parents;
    for (const Command& command : commands) {
      CLI::App* parent = &app;
      if (!command.parent.empty()) {
        CLI::App*& p = parents[command.parent];
        if (p == nullptr) {
          p = app.add_subcommand(command.parent, "Wait until a condition holds");
          p->require_subcommand(1);
        }
        parent = p;
      }
      AddCommand(parent, command);
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e);
      return code == 0 ? kExitOk : kExitUsage;
    }
    for (const Command& command : commands) {
      CLI::App* parent = command.parent.empty() ? &app : parents[command.parent];
      if (parent->got_subcommand(command.name)) return Execute(command);
    }
    return kExitUsage;
  }

 private:
  void AddCommand(CLI::App* app, const Command& command) {
    CLI::App* sub = app->add_subcommand(command.name, command.help);
    auto& flags = flags_[command.name];
    auto& lists = lists_[command.name];
    sub->add_option("--cli-input-json", cli_input_[command.name],
                    "the whole request as JSON, or file://PATH");
    for (int i = 0; i < command.request->field_count(); ++i) {
      const FieldDescriptor* field = command.request->field(i);
      const std::string flag = Kebab(field->json_name());
      // Lists of scalars take several values (--services a b); everything else takes one value,
      // JSON for structures. A std::string target keeps CLI11 from splitting "[a,b]".
      const bool many = field->is_repeated() && !field->is_map() &&
                        field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE;
      if (many) {
        sub->add_option("--" + flag, lists[field->json_name()], FlagHelp(field))
            ->expected(1, -1)
            ->allow_extra_args(true);
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && !field->is_repeated()) {
        // As aws does: --follow sets it, --no-follow clears it.
        std::optional<std::string>& value = flags[field->json_name()];
        sub->add_flag_function(
            "--" + flag + ",!--no-" + flag,
            [&value](int64_t count) { value = count > 0 ? "true" : "false"; },
            absl::StrCat("set ", field->json_name(), " (--no-", flag, " to clear it)"));
      } else {
        sub->add_option("--" + flag, flags[field->json_name()], FlagHelp(field));
      }
    }
  }

  // The request message: --cli-input-json first, then each flag over it, then the cluster.
  std::unique_ptr<Message> BuildRequest(const Command& command) {
    json input = json::object();
    if (const std::optional<std::string>& raw = cli_input_[command.name]) {
      input = ParseJsonArgument("cli-input-json", *raw);
      if (!input.is_object()) throw UsageError{"--cli-input-json: must be a JSON object"};
    }
    auto field_named = [&](const std::string& name) {
      const FieldDescriptor* field = nullptr;
      for (int i = 0; i < command.request->field_count(); ++i) {
        if (command.request->field(i)->json_name() == name) field = command.request->field(i);
      }
      return field;
    };
    for (const auto& [name, value] : flags_[command.name]) {
      if (value) input[name] = FlagValue(field_named(name), Kebab(name), {*value});
    }
    for (const auto& [name, values] : lists_[command.name]) {
      if (!values.empty()) input[name] = FlagValue(field_named(name), Kebab(name), values);
    }
    // ECS requires `interactive` (its sessions go through SSM); here a plain run is the default.
    if (command.name == "execute-command" && !input.contains("interactive")) {
      input["interactive"] = false;
    }
    // A cluster to delete is named on purpose, as aws requires, never taken from the default.
    const bool fill_cluster = command.name != "delete-cluster" || cluster_flag_->count() > 0;
    if (command.request->FindFieldByName("cluster") != nullptr && !input.contains("cluster") &&
        fill_cluster) {
      input["cluster"] = cluster_;
    }
    std::unique_ptr<Message> request(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(command.request)->New());
    absl::Status decoded = model::DecodeMessage(input, request.get());
    if (!decoded.ok()) throw UsageError{std::string(decoded.message())};
    return request;
  }

  int Execute(const Command& command) {
    std::unique_ptr<Message> request;
    try {
      request = BuildRequest(command);
    } catch (const UsageError& e) {
      std::cerr << "error: " << e.message << "\n";
      return kExitUsage;
    }
    const Connection connection{
        grpc::CreateChannel(absl::StrCat("unix:", socket_), grpc::InsecureChannelCredentials()),
        socket_, output_};
    if (command.run) return command.run(connection, *request);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    std::unique_ptr<Message> response;
    grpc::Status status = command.call(connection, &context, *request, &response);
    if (!status.ok()) return ReportError(connection, context, status);
    PrintResponse(connection, *response);
    return kExitOk;
  }

  std::string socket_ = kDefaultSocket;
  std::string output_ = "json";
  std::string cluster_ = "default";
  CLI::Option* cluster_flag_ = nullptr;
  std::map<std::string, std::optional<std::string>> cli_input_;
  // Per command, per ECS member: the flag's value(s) as typed.
  std::map<std::string, std::map<std::string, std::optional<std::string>>> flags_;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> lists_;
};

}  // namespace

int Main(int argc, char** argv) { return App().Run(argc, argv); }

}  // namespace skiff::cli

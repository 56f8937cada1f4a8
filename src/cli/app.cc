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

// One subcommand: its request type and how to call its RPC.
struct Command {
  std::string name;
  std::string help;
  const Descriptor* request;
  std::function<grpc::Status(v1::Ecs::Stub*, grpc::ClientContext*, const Message&,
                             std::unique_ptr<Message>*)>
      call;
};

template <typename Request, typename Response>
Command MakeCommand(std::string name, std::string help,
                    grpc::Status (v1::Ecs::Stub::*method)(grpc::ClientContext*, const Request&,
                                                          Response*)) {
  return Command{
      std::move(name), std::move(help), Request::descriptor(),
      [method](v1::Ecs::Stub* stub, grpc::ClientContext* context, const Message& request,
               std::unique_ptr<Message>* response) {
        auto typed = std::make_unique<Response>();
        grpc::Status status =
            (stub->*method)(context, static_cast<const Request&>(request), typed.get());
        *response = std::move(typed);
        return status;
      }};
}

std::vector<Command> Commands() {
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
  };
}

// "containerDefinitions" -> "container-definitions", as the aws CLI names its flags.
std::string Kebab(absl::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      out += '-';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
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
    app.add_option("--cluster", cluster_, "cluster name")->capture_default_str();

    const std::vector<Command> commands = Commands();
    for (const Command& command : commands) AddCommand(&app, command);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e);
      return code == 0 ? kExitOk : kExitUsage;
    }
    for (const Command& command : commands) {
      if (app.got_subcommand(command.name)) return Execute(command);
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
    if (command.request->FindFieldByName("cluster") != nullptr && !input.contains("cluster")) {
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
    auto channel = grpc::CreateChannel(absl::StrCat("unix:", socket_),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::Ecs::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
    std::unique_ptr<Message> response;
    grpc::Status status = command.call(stub.get(), &context, *request, &response);
    if (status.ok()) {
      std::cout << (output_ == "table" ? RenderTable(model::EncodeMessage(*response))
                                       : model::EncodeMessagePretty(*response));
      return kExitOk;
    }
    const auto& trailers = context.GetServerTrailingMetadata();
    auto exception = trailers.find(model::kExceptionMetadataKey);
    // Without the exception trailer the daemon never answered: it is down, or hangs.
    if (exception == trailers.end() &&
        (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)) {
      std::cerr << "error: cannot reach skiffd at " << socket_ << ": " << status.error_message()
                << "\n";
      return kExitUnreachable;
    }
    const std::string name = exception != trailers.end()
                                 ? std::string(exception->second.data(), exception->second.size())
                                 : "ServerException";
    std::cerr << "error: (" << name << ") " << status.error_message() << "\n";
    return kExitDaemonError;
  }

  std::string socket_ = kDefaultSocket;
  std::string output_ = "json";
  std::string cluster_ = "default";
  std::map<std::string, std::optional<std::string>> cli_input_;
  // Per command, per ECS member: the flag's value(s) as typed.
  std::map<std::string, std::map<std::string, std::optional<std::string>>> flags_;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> lists_;
};

}  // namespace

int Main(int argc, char** argv) { return App().Run(argc, argv); }

}  // namespace skiff::cli

#include "cli/command_line.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "CLI/CLI.hpp"
#include "cli/descriptors.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "skiff/model/described_task_definition.h"
#include "skiff/model/json_codec.h"
#include "skiff/v1/options.pb.h"

namespace skiff::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using json = nlohmann::ordered_json;

constexpr char kDefaultSocket[] = "/run/skiff/skiffd.sock";
constexpr int kMaxListWords = 1 << 16;  // The words one list flag takes.

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
    if (field->is_repeated()) {
      help = absl::StrCat("one or more values (", help, "), or a JSON list");
    }
    const auto& allowed = field->options().GetRepeatedExtension(skiff::v1::allowed);
    if (!allowed.empty()) absl::StrAppend(&help, ": ", absl::StrJoin(allowed, ", "));
  }
  if (field->options().GetExtension(skiff::v1::required)) {
    absl::StrAppend(&help, " (required in the request)");
  }
  return help;
}

class Parser {
 public:
  Parser(const std::vector<Command>& commands, int argc, const char* const* argv) {
    // A run adds only the commands that a word of its command line names: CLI11 builds a parser
    // for each subcommand added, ~30 k instructions apiece and 3 M for them all, a tenth of a
    // `skiff list-clusters`. When no word names one (`skiff --help`, `skiff elbv2`, a misspelt
    // command), all are added, so that help and errors list them.
    for (int i = 1; i < argc; ++i) {
      for (const Command& command : commands) {
        if (command.name == argv[i] || command.parent == argv[i]) named_.insert(argv[i]);
      }
    }
    // `skiff --version` needs no command at all (CLI11 prints the version even beside --help).
    const std::vector<std::string_view> words(argv + 1, argv + argc);
    const bool version_only =
        named_.empty() && std::ranges::find(words, "--version") != words.end();
    if (const char* env = std::getenv("SKIFF_SOCKET")) socket_ = env;
    app_.require_subcommand(1);
    app_.fallthrough();  // Global flags may follow the subcommand, as with aws.
    app_.set_version_flag("--version", SKIFF_VERSION);
    app_.add_option("--socket", socket_, "skiffd's API socket (env SKIFF_SOCKET)")
        ->capture_default_str();
    output_flag_ = app_.add_option("--output", output_, "json or table")
        ->check(CLI::IsMember({"json", "table"}))
        ->capture_default_str();
    cluster_flag_ = app_.add_option("--cluster", cluster_, "cluster name")->capture_default_str();

    if (!version_only) AddCommands(commands);
  }

  Invocation Parse(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    Invocation invocation;
    try {
      app_.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      if (std::string unknown = UnknownCommand(); !unknown.empty()) {
        err << "error: " << unknown << "\n";
        invocation.exit_code = kExitUsage;
        return invocation;
      }
      invocation.exit_code = app_.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
      return invocation;
    }
    Entry* chosen = nullptr;
    for (Entry& entry : entries_) {
      if (entry.app->parsed()) chosen = &entry;
    }
    if (chosen == nullptr) {  // require_subcommand makes this unreachable; be a usage error.
      invocation.exit_code = kExitUsage;
      return invocation;
    }
    try {
      invocation.request = BuildRequest(*chosen, err);
    } catch (const UsageError& e) {
      err << "error: " << e.message << "\n";
      invocation.exit_code = kExitUsage;
      return invocation;
    }
    invocation.command = chosen->command;
    invocation.socket = socket_;
    invocation.output = output_;
    invocation.output_chosen = output_flag_->count() > 0;
    return invocation;
  }

 private:
  // One subcommand where it was added (a command of the default group is added twice), and its
  // flags' values as typed.
  struct Entry {
    const Command* command;
    CLI::App* app;
    std::optional<std::string> cli_input;
    // By request member (JSON name).
    std::map<std::string, std::optional<std::string>> flags;
    std::map<std::string, std::vector<std::string>> lists;
  };

  // ECS's commands and skiff's own at the top, then the groups.
  void AddCommands(const std::vector<Command>& commands) {
    for (const Command& command : commands) {
      if (command.group == Group::kEcs || command.group == Group::kNode) Add(&app_, command);
    }
    CLI::App* ecs = AddGroup(
        "ecs", "The ECS commands again, as `aws ecs` names them: `skiff ecs <op>` is `skiff <op>`");
    for (const Command& command : commands) {
      if (command.group == Group::kEcs) Add(ecs, command);
    }
    CLI::App* elbv2 = AddGroup("elbv2", "Load balancers, listeners, rules and target groups, with "
                                        "the commands and flags of `aws elbv2`");
    for (const Command& command : commands) {
      if (command.group == Group::kElbv2) Add(elbv2, command);
    }
    CLI::App* autoscaling = AddGroup(
        "application-autoscaling", "Scalable targets, scaling policies and scheduled actions of "
                                   "services, with the commands and flags of "
                                   "`aws application-autoscaling`");
    for (const Command& command : commands) {
      if (command.group == Group::kAutoScaling) Add(autoscaling, command);
    }
    CLI::App* secretsmanager = AddGroup(
        "secretsmanager", "The node's secrets, with the commands and flags of "
                          "`aws secretsmanager`");
    CLI::App* ssm = AddGroup("ssm", "The node's Parameter Store, with the commands and flags of "
                                    "`aws ssm`");
    for (const Command& command : commands) {
      if (command.group == Group::kSecretsManager) Add(secretsmanager, command);
      if (command.group == Group::kSsm) Add(ssm, command);
    }
  }

  // After a failed parse: when a word where a command belongs named none ("skiff elbv2 nope"),
  // what to say about it; otherwise "" (CLI11's own message says it better). CLI11 would only say
  // "A subcommand is required", without the word or the group.
  std::string UnknownCommand() {
    const std::vector<std::string> rest = app_.remaining(/*recurse=*/true);
    if (rest.empty() || absl::StartsWith(rest.front(), "-")) return "";
    std::string path = "skiff";
    const CLI::App* app = &app_;
    while (!app->get_subcommands().empty()) {
      app = app->get_subcommands().front();
      absl::StrAppend(&path, " ", app->get_name());
    }
    if (app->get_require_subcommand_min() == 0) return "";
    return absl::StrCat(path, ": no command \"", rest.front(), "\" (", path,
                        " --help lists them)");
  }

  CLI::App* AddGroup(const std::string& name, const std::string& help) {
    CLI::App* group = app_.add_subcommand(name, help);
    group->require_subcommand(1);
    return group;
  }

  // Adds `command` under `group` (the app itself or a group), inside its parent ("wait") if any.
  void Add(CLI::App* group, const Command& command) {
    if (!named_.empty() && !named_.contains(command.name) &&
        (command.parent.empty() || !named_.contains(command.parent))) {
      return;
    }
    CLI::App* parent = group;
    if (!command.parent.empty()) {
      CLI::App*& p = parents_[{group, command.parent}];
      if (p == nullptr) {
        p = group->add_subcommand(command.parent, "Wait until a condition holds");
        p->require_subcommand(1);
      }
      parent = p;
    }
    Entry& entry = entries_.emplace_back(Entry{.command = &command,
                                               .app = parent->add_subcommand(command.name,
                                                                             command.help)});
    // CLI11 calls this once the subcommand is named, before it reads the subcommand's flags.
    entry.app->preparse_callback([this, &entry](std::size_t) { AddFlags(&entry); });
  }

  void AddFlags(Entry* entry) {
    CLI::App* sub = entry->app;
    const Descriptor* request = FindMessageType(entry->command->request_type);
    sub->add_option("--cli-input-json", entry->cli_input,
                    "the whole request as JSON, or file://PATH");
    for (int i = 0; i < request->field_count(); ++i) {
      const FieldDescriptor* field = request->field(i);
      const std::string flag = FlagName(field->json_name());
      // Lists of scalars take several values (--names a b) or a JSON list; everything else takes
      // one value, JSON for structures. A std::string target keeps CLI11 from splitting "[a,b]".
      const bool many = field->is_repeated() && !field->is_map() &&
                        field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE;
      if (many) {
        // One value of up to kMaxListWords words rather than extra values: with extra values
        // CLI11 takes a word "[...]" apart at its commas, which mangles a JSON list. CLI11 ends
        // each use of such a flag with an empty word; BuildRequest drops empty words.
        sub->add_option("--" + flag, entry->lists[field->json_name()], FlagHelp(field))
            ->type_size(1, kMaxListWords)
            ->allow_extra_args(false);
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && !field->is_repeated()) {
        // As aws does: --follow sets it, --no-follow clears it.
        std::optional<std::string>& value = entry->flags[field->json_name()];
        sub->add_flag_function(
            "--" + flag + ",!--no-" + flag,
            [&value](int64_t count) { value = count > 0 ? "true" : "false"; },
            absl::StrCat("set ", field->json_name(), " (--no-", flag, " to clear it)"));
      } else {
        sub->add_option("--" + flag, entry->flags[field->json_name()], FlagHelp(field));
      }
    }
  }

  // The request message: --cli-input-json first, then each flag over it, then the cluster.
  std::unique_ptr<Message> BuildRequest(Entry& entry, std::ostream& err) {
    const Command& command = *entry.command;
    const Descriptor* descriptor = FindMessageType(command.request_type);
    json input = json::object();
    if (entry.cli_input) {
      input = ParseJsonArgument("cli-input-json", *entry.cli_input);
      if (!input.is_object()) throw UsageError{"--cli-input-json: must be a JSON object"};
      if (command.name == "register-task-definition") {
        const std::vector<std::string> ignored = model::AdoptDescribedTaskDefinition(&input);
        if (!ignored.empty()) {
          err << "note: ignored what a registered task definition has and a new one cannot be "
                 "given: "
              << absl::StrJoin(ignored, ", ") << "\n";
        }
      }
    }
    auto field_named = [&](const std::string& name) {
      const FieldDescriptor* field = nullptr;
      for (int i = 0; i < descriptor->field_count(); ++i) {
        if (descriptor->field(i)->json_name() == name) field = descriptor->field(i);
      }
      return field;
    };
    for (const auto& [name, value] : entry.flags) {
      if (value) input[name] = FlagValue(field_named(name), FlagName(name), {*value});
    }
    for (const auto& [name, words] : entry.lists) {
      std::vector<std::string> values;
      std::copy_if(words.begin(), words.end(), std::back_inserter(values),
                   [](const std::string& word) { return !word.empty(); });
      if (!values.empty()) input[name] = FlagValue(field_named(name), FlagName(name), values);
    }
    if (command.group == Group::kEcs || command.group == Group::kNode) {
      FillEcsDefaults(command, descriptor, &input);
    }
    std::unique_ptr<Message> request = NewMessage(command.request_type);
    absl::Status decoded = model::DecodeMessage(input, request.get());
    if (!decoded.ok()) throw UsageError{std::string(decoded.message())};
    return request;
  }

  // What ECS's commands and skiff's own take from the CLI rather than from their flags.
  void FillEcsDefaults(const Command& command, const Descriptor* descriptor, json* input) {
    // ECS requires `interactive` (its sessions go through SSM); here a plain run is the default.
    if (command.name == "execute-command" && !input->contains("interactive")) {
      (*input)["interactive"] = false;
    }
    // A cluster to delete is named on purpose, as aws requires, never taken from the default.
    const bool fill_cluster = command.name != "delete-cluster" || cluster_flag_->count() > 0;
    if (descriptor->FindFieldByName("cluster") != nullptr && !input->contains("cluster") &&
        fill_cluster) {
      (*input)["cluster"] = cluster_;
    }
  }

  CLI::App app_{"skiff: the Skiff CLI, with the commands and flags of `aws ecs` (also as "
                "`skiff ecs <op>`), of `aws elbv2` (as `skiff elbv2 <op>`) and of "
                "`aws application-autoscaling` (as `skiff application-autoscaling <op>`), "
                "`aws secretsmanager` and `aws ssm` (as `skiff secretsmanager|ssm <op>`)"};
  std::string socket_ = kDefaultSocket;
  std::string output_ = "json";
  CLI::Option* output_flag_ = nullptr;
  std::string cluster_ = "default";
  CLI::Option* cluster_flag_ = nullptr;
  std::set<std::string> named_;  // The command names (and parents) the command line holds.
  std::map<std::pair<CLI::App*, std::string>, CLI::App*> parents_;
  std::deque<Entry> entries_;  // A deque: CLI11 keeps pointers into the entries.
};

}  // namespace

std::string FlagName(absl::string_view json_name) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  std::string out;
  for (size_t i = 0; i < json_name.size(); ++i) {
    const char c = json_name[i];
    if (!upper(c)) {
      out += c;
      continue;
    }
    const bool after_word = i > 0 && lower_or_digit(json_name[i - 1]);
    const bool ends_acronym = i > 0 && upper(json_name[i - 1]) && i + 1 < json_name.size() &&
                              json_name[i + 1] >= 'a' && json_name[i + 1] <= 'z';
    if (after_word || ends_acronym) out += '-';
    out += static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Invocation ParseCommandLine(const std::vector<Command>& commands, int argc,
                            const char* const* argv, std::ostream& out, std::ostream& err) {
  return Parser(commands, argc, argv).Parse(argc, argv, out, err);
}

}  // namespace skiff::cli

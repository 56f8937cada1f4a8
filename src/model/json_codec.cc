#include "absl/strings/string_view.h"
#include "skiff/model/json_codec.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "skiff/model/errors.h"
#include "skiff/v1/options.pb.h"

namespace skiff::model {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using json = nlohmann::ordered_json;

// Lists AWS returns even when empty (an absent list and an empty one look the same in proto3):
// every list of a response (`{"serviceArns": []}`, `"failures": []`: scripts run
// `jq '.serviceArns[]'`), and these members of the shapes inside.
bool AlwaysEncodedList(const FieldDescriptor* field) {
  if (absl::EndsWith(field->containing_type()->name(), "Response")) return true;
  static const absl::flat_hash_set<std::string> kAlways = {
      "skiff.v1.ContainerDefinition.port_mappings",
      "skiff.v1.ContainerDefinition.environment",
      "skiff.v1.ContainerDefinition.mount_points",
      "skiff.v1.ContainerDefinition.volumes_from",
      "skiff.v1.TaskDefinition.volumes",
      "skiff.v1.TaskDefinition.placement_constraints",
      "skiff.v1.TaskDefinition.requires_attributes",
      "skiff.v1.TaskDefinition.compatibilities",
      // ELBv2 lists a target group's load balancers even when it has none.
      "skiff.elbv2.v1.TargetGroup.load_balancer_arns",
  };
  return kAlways.contains(field->full_name());
}

std::string Join(const std::string& path, const std::string& name) {
  return path.empty() ? name : absl::StrCat(path, ".", name);
}

std::string PathOrInput(const std::string& path) { return path.empty() ? "input" : path; }

absl::Status Error(const std::string& path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(PathOrInput(path), ": ", message));
}

const char* TypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "a value";
  }
}

absl::Status WrongType(const std::string& path, absl::string_view want, const json& got) {
  return Error(path, absl::StrCat("must be ", want, ", got ", TypeName(got)));
}

absl::Status CheckAllowed(const FieldDescriptor* field, const std::string& value,
                          const std::string& path) {
  const auto& allowed = field->options().GetRepeatedExtension(skiff::v1::allowed);
  if (allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
    return absl::OkStatus();
  }
  return Error(path, absl::StrCat("must be one of ", absl::StrJoin(allowed, ", "), "; got ",
                                  QuoteValue(value)));
}

// Sets or adds one scalar value of `field` (repeated or not) from `value`.
absl::Status DecodeScalar(const json& value, const FieldDescriptor* field, Message* message,
                          const std::string& path) {
  const Reflection* reflection = message->GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (!value.is_string()) return WrongType(path, "a string", value);
      const std::string& s = value.get_ref<const std::string&>();
      absl::Status allowed = CheckAllowed(field, s, path);
      if (!allowed.ok()) return allowed;
      repeated ? reflection->AddString(message, field, s) : reflection->SetString(message, field, s);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64: {
      if (value.is_number_float() && std::isfinite(value.get<double>()) &&
          std::floor(value.get<double>()) == value.get<double>() &&
          std::fabs(value.get<double>()) >= 9.2e18) {
        return Error(path, "integer out of range");  // Too big even for the JSON parser's int64.
      }
      if (!value.is_number_integer()) return WrongType(path, "an integer", value);
      const bool is32 = field->cpp_type() == FieldDescriptor::CPPTYPE_INT32;
      const int64_t max = is32 ? std::numeric_limits<int32_t>::max()
                               : std::numeric_limits<int64_t>::max();
      const int64_t min = is32 ? std::numeric_limits<int32_t>::min()
                               : std::numeric_limits<int64_t>::min();
      if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(max)) {
        return Error(path, "integer out of range");
      }
      const int64_t n = value.get<int64_t>();
      if (n < min || n > max) return Error(path, "integer out of range");
      if (is32) {
        repeated ? reflection->AddInt32(message, field, static_cast<int32_t>(n))
                 : reflection->SetInt32(message, field, static_cast<int32_t>(n));
      } else {
        repeated ? reflection->AddInt64(message, field, n) : reflection->SetInt64(message, field, n);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!value.is_boolean()) return WrongType(path, "a boolean", value);
      repeated ? reflection->AddBool(message, field, value.get<bool>())
               : reflection->SetBool(message, field, value.get<bool>());
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (!value.is_number()) return WrongType(path, "a number", value);
      repeated ? reflection->AddDouble(message, field, value.get<double>())
               : reflection->SetDouble(message, field, value.get<double>());
      return absl::OkStatus();
    default:
      // ecs.proto has no other scalar types (the generator maps every ECS type to one above).
      return absl::InternalError(absl::StrCat(path, ": unsupported field type"));
  }
}

// skiff.v1.StringList, the only message a map holds (a list nested in a map in an AWS model), is
// a plain JSON array of strings. Known by name and read through reflection, so that a message
// of another pool than the generated one (the CLI's, cli/descriptors.h) is one too.
bool IsStringList(const Message& message) {
  return message.GetDescriptor()->full_name() == "skiff.v1.StringList";
}

std::vector<std::string> StringListValues(const Message& list) {
  const FieldDescriptor* values = list.GetDescriptor()->FindFieldByNumber(1);
  const Reflection* r = list.GetReflection();
  std::vector<std::string> out;
  for (int i = 0; i < r->FieldSize(list, values); ++i) {
    out.push_back(r->GetRepeatedString(list, values, i));
  }
  return out;
}

absl::Status DecodeStringList(const json& value, Message* message, const std::string& path) {
  if (!value.is_array()) return WrongType(path, "an array", value);
  const FieldDescriptor* values = message->GetDescriptor()->FindFieldByNumber(1);
  for (size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_string()) {
      return WrongType(absl::StrCat(path, "[", i, "]"), "a string", value[i]);
    }
    message->GetReflection()->AddString(message, values, value[i].get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status DecodeMap(const json& value, const FieldDescriptor* field, Message* message,
                       const std::string& path) {
  if (!value.is_object()) return WrongType(path, "an object", value);
  const Reflection* reflection = message->GetReflection();
  const FieldDescriptor* key_field = field->message_type()->map_key();
  const FieldDescriptor* value_field = field->message_type()->map_value();
  for (const auto& [key, item] : value.items()) {
    Message* entry = reflection->AddMessage(message, field);
    entry->GetReflection()->SetString(entry, key_field, key);
    if (item.is_null()) {  // Absent, as everywhere.
      reflection->RemoveLast(message, field);
      continue;
    }
    absl::Status s =
        value_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
            ? DecodeStringList(item, entry->GetReflection()->MutableMessage(entry, value_field),
                               absl::StrCat(path, ".", key))
            : DecodeScalar(item, value_field, entry, absl::StrCat(path, ".", key));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status DecodeField(const json& value, const FieldDescriptor* field, Message* message,
                         const std::string& path) {
  if (value.is_null()) return Error(path, "must not be null");
  if (field->is_map()) return DecodeMap(value, field, message, path);
  const Reflection* reflection = message->GetReflection();
  if (field->is_repeated()) {
    if (!value.is_array()) return WrongType(path, "an array", value);
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string item_path = absl::StrCat(path, "[", i, "]");
      const json& item = value[i];
      if (item.is_null()) return Error(item_path, "must not be null");
      absl::Status s = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
                           ? DecodeMessage(item, reflection->AddMessage(message, field), item_path)
                           : DecodeScalar(item, field, message, item_path);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    return DecodeMessage(value, reflection->MutableMessage(message, field), path);
  }
  return DecodeScalar(value, field, message, path);
}

const FieldDescriptor* FindByJsonName(const Descriptor* descriptor, absl::string_view name) {
  for (int i = 0; i < descriptor->field_count(); ++i) {
    if (descriptor->field(i)->json_name() == name) return descriptor->field(i);
  }
  return nullptr;
}

json EncodeScalar(const Message& message, const FieldDescriptor* field, int index) {
  const Reflection* r = message.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(message, field, index) : r->GetString(message, field);
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field);
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(message, field, index) : r->GetDouble(message, field);
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& inner =
          rep ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field);
      if (IsStringList(inner)) return json(StringListValues(inner));
      return EncodeMessage(inner);
    }
    default:
      return nullptr;
  }
}

json EncodeMap(const Message& message, const FieldDescriptor* field) {
  const Reflection* r = message.GetReflection();
  const FieldDescriptor* value_field = field->message_type()->map_value();
  // Map order in proto is unspecified; sort by key for stable output.
  std::vector<std::pair<std::string, json>> entries;
  for (int i = 0; i < r->FieldSize(message, field); ++i) {
    const Message& entry = r->GetRepeatedMessage(message, field, i);
    entries.emplace_back(
        entry.GetReflection()->GetString(entry, field->message_type()->map_key()),
        EncodeScalar(entry, value_field, -1));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  json out = json::object();
  for (auto& [key, value] : entries) out[key] = std::move(value);
  return out;
}

// Raised from the parser callback to stop parsing at the depth limit.
struct TooDeep {};

}  // namespace

absl::StatusOr<json> ParseJsonText(absl::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("input: document is ", text.size(),
                                                   " bytes; the limit is ", limits.max_bytes));
  }
  const int max_depth = limits.max_depth;
  json::parser_callback_t check_depth = [max_depth](int depth, json::parse_event_t, json&) {
    if (depth > max_depth) throw TooDeep{};
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), check_depth);
  } catch (const TooDeep&) {
    return absl::InvalidArgumentError(
        absl::StrCat("input: JSON nested deeper than ", max_depth, " levels"));
  } catch (const json::exception& e) {
    // A parse_error's what() has the position and what was expected; invalid UTF-8 lands here
    // too. A number beyond a double (1e999) is an out_of_range instead, which must not escape
    // to the HTTP server's thread (fuzz/codec_fuzz found it). Drop nlohmann's
    // "[json.exception.parse_error.101] " tag and escape the bytes it quotes.
    std::string what = e.what();
    if (const size_t tag = what.find("] "); what.rfind("[json.exception", 0) == 0 && tag != std::string::npos) {
      what.erase(0, tag + 2);
    }
    std::string clean;
    for (unsigned char c : what) {
      if (c < 0x20 || c >= 0x7f) {
        absl::StrAppend(&clean, "\\x", absl::Hex(c, absl::kZeroPad2));
      } else {
        clean += static_cast<char>(c);
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("input: invalid JSON: ", clean));
  }
}

absl::Status DecodeMessage(const json& value, Message* message, const std::string& path) {
  if (!value.is_object()) return WrongType(path, "an object", value);
  const Descriptor* descriptor = message->GetDescriptor();
  for (const auto& [key, item] : value.items()) {
    // null is absent (console exports, describe output and CodeDeploy files are full of them),
    // even for a member this build does not know.
    if (item.is_null()) continue;
    const FieldDescriptor* field = FindByJsonName(descriptor, key);
    if (field == nullptr) {
      // The key is the user's; keep a hostile one from bloating the message.
      const std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      return Error(Join(path, shown), "unknown field");
    }
    absl::Status s = DecodeField(item, field, message, Join(path, key));
    if (!s.ok()) return s;
  }
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (!field->options().GetExtension(skiff::v1::required)) continue;
    const auto member = value.find(field->json_name());
    if (member == value.end() || member->is_null()) {
      return Error(Join(path, field->json_name()), "required");
    }
    // Same rule as CheckShape: a required list needs an item.
    if (field->is_repeated() && member->empty()) {
      return Error(Join(path, field->json_name()), "must have at least one item");
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeMessageText(absl::string_view text, Message* message, const JsonLimits& limits) {
  absl::StatusOr<json> parsed = ParseJsonText(text, limits);
  if (!parsed.ok()) return parsed.status();
  return DecodeMessage(*parsed, message);
}

namespace {

absl::Status CheckShapeAt(const Message& message, const std::string& path) {
  const Descriptor* descriptor = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const std::string field_path = Join(path, field->json_name());
    const bool present = field->is_repeated() ? r->FieldSize(message, field) > 0
                                              : r->HasField(message, field);
    if (!present) {
      if (field->options().GetExtension(skiff::v1::required)) {
        return Error(field_path, field->is_repeated() ? "must have at least one item" : "required");
      }
      continue;
    }
    if (field->is_map()) continue;  // ECS maps are string to string, without enums.
    const int n = field->is_repeated() ? r->FieldSize(message, field) : 1;
    for (int j = 0; j < n; ++j) {
      const std::string item_path =
          field->is_repeated() ? absl::StrCat(field_path, "[", j, "]") : field_path;
      absl::Status s;
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        s = CheckShapeAt(field->is_repeated() ? r->GetRepeatedMessage(message, field, j)
                                              : r->GetMessage(message, field),
                         item_path);
      } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        s = CheckAllowed(field,
                         field->is_repeated() ? r->GetRepeatedString(message, field, j)
                                              : r->GetString(message, field),
                         item_path);
      }
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckShape(const Message& message) { return CheckShapeAt(message, ""); }

json EncodeMessage(const Message& message) {
  const Descriptor* descriptor = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  // Members in field order, which is the ECS model's member order.
  json out = json::object();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->is_map()) {
      if (r->FieldSize(message, field) > 0) out[field->json_name()] = EncodeMap(message, field);
    } else if (field->is_repeated()) {
      const int n = r->FieldSize(message, field);
      if (n == 0 && !AlwaysEncodedList(field)) continue;
      json list = json::array();
      for (int j = 0; j < n; ++j) list.push_back(EncodeScalar(message, field, j));
      out[field->json_name()] = std::move(list);
    } else if (r->HasField(message, field)) {
      out[field->json_name()] = EncodeScalar(message, field, -1);
    }
  }
  return out;
}

std::string EncodeMessagePretty(const Message& message) {
  return EncodeMessage(message).dump(4) + "\n";
}

std::string EncodeMessageCompact(const Message& message) { return EncodeMessage(message).dump(); }

namespace {

void AppendMessageText(const Message& message, std::string* out);

// A JSON string as nlohmann's dump() writes it (UTF-8 kept, control characters escaped).
void AppendString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          const auto byte = static_cast<unsigned char>(c);
          absl::StrAppend(out, "\\u00", absl::Hex(byte, absl::kZeroPad2));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendScalarText(const Message& message, const FieldDescriptor* field, int index,
                      std::string* out) {
  const Reflection* r = message.GetReflection();
  const bool rep = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& text = rep ? r->GetRepeatedStringReference(message, field, index, &scratch)
                                    : r->GetStringReference(message, field, &scratch);
      return AppendString(text, out);
    }
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrAppend(out, rep ? r->GetRepeatedInt32(message, field, index)
                                      : r->GetInt32(message, field));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrAppend(out, rep ? r->GetRepeatedInt64(message, field, index)
                                      : r->GetInt64(message, field));
    case FieldDescriptor::CPPTYPE_BOOL: {
      const bool value =
          rep ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field);
      out->append(value ? "true" : "false");
      return;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:  // nlohmann's shortest round-trip form, as dump().
      out->append(json(rep ? r->GetRepeatedDouble(message, field, index)
                           : r->GetDouble(message, field)).dump());
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& inner =
          rep ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field);
      if (IsStringList(inner)) {
        out->push_back('[');
        for (const std::string& item : StringListValues(inner)) {
          if (out->back() != '[') out->push_back(',');
          AppendString(item, out);
        }
        out->push_back(']');
        return;
      }
      return AppendMessageText(inner, out);
    }
    default:
      out->append("null");
  }
}

void AppendMapText(const Message& message, const FieldDescriptor* field, std::string* out) {
  const Reflection* r = message.GetReflection();
  const FieldDescriptor* key_field = field->message_type()->map_key();
  std::vector<std::pair<std::string, const Message*>> entries;
  for (int i = 0; i < r->FieldSize(message, field); ++i) {
    const Message& entry = r->GetRepeatedMessage(message, field, i);
    entries.emplace_back(entry.GetReflection()->GetString(entry, key_field), &entry);
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  out->push_back('{');
  for (size_t i = 0; i < entries.size(); ++i) {
    // A repeated key keeps its last value, as json's operator[] does.
    if (i + 1 < entries.size() && entries[i + 1].first == entries[i].first) continue;
    if (out->back() != '{') out->push_back(',');
    AppendString(entries[i].first, out);
    out->push_back(':');
    AppendScalarText(*entries[i].second, field->message_type()->map_value(), -1, out);
  }
  out->push_back('}');
}

// EncodeMessage(message).dump(), written straight into `out`: no tree of json values.
void AppendMessageText(const Message& message, std::string* out) {
  const Descriptor* descriptor = message.GetDescriptor();
  const Reflection* r = message.GetReflection();
  out->push_back('{');
  bool first = true;
  auto name = [&](const FieldDescriptor* field) {
    if (!first) out->push_back(',');
    first = false;
    AppendString(field->json_name(), out);
    out->push_back(':');
  };
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->is_map()) {
      if (r->FieldSize(message, field) == 0) continue;
      name(field);
      AppendMapText(message, field, out);
    } else if (field->is_repeated()) {
      const int n = r->FieldSize(message, field);
      if (n == 0 && !AlwaysEncodedList(field)) continue;
      name(field);
      out->push_back('[');
      for (int j = 0; j < n; ++j) {
        if (j > 0) out->push_back(',');
        AppendScalarText(message, field, j, out);
      }
      out->push_back(']');
    } else if (r->HasField(message, field)) {
      name(field);
      AppendScalarText(message, field, -1, out);
    }
  }
  out->push_back('}');
}

}  // namespace

std::string EncodeMessageText(const Message& message) {
  std::string out;
  out.reserve(message.ByteSizeLong() * 2 + 16);
  AppendMessageText(message, &out);
  return out;
}

}  // namespace skiff::model

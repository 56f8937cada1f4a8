#include "network/cni_result.h"

#include <arpa/inet.h>

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace skiff::network {
namespace {

using json = nlohmann::json;

absl::Status BadResult(absl::string_view what, absl::string_view field,
                       absl::string_view problem) {
  return absl::InternalError(absl::StrCat(what, ": plugin result: ", field, ": ", problem));
}

absl::Status BadRecord(absl::string_view field, absl::string_view problem) {
  return absl::DataLossError(absl::StrCat("network record: ", field, ": ", problem));
}

// The JSON type a field has, for messages ("a number").
std::string TypeOf(const json& value) {
  if (value.is_string()) return "a string";
  if (value.is_number()) return "a number";
  if (value.is_boolean()) return "a boolean";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

// Bytes from a plugin, quoted in a message without control characters or a megabyte of text.
std::string Quote(absl::string_view text) {
  constexpr size_t kMax = 120;
  std::string out = absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMax)), "\"");
  if (text.size() > kMax) absl::StrAppend(&out, " (", text.size(), " bytes)");
  return out;
}

// An optional string member of a record: absent reads as empty.
absl::StatusOr<std::string> RecordString(const json& object, const char* key,
                                         absl::string_view field) {
  auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return BadRecord(field, absl::StrCat("not a string but ", TypeOf(*it)));
  return it->get<std::string>();
}

// The MAC of interfaces[index], when the result has it; "" when it does not say.
absl::StatusOr<std::string> InterfaceMac(absl::string_view what, const json& result,
                                         const json& ip) {
  auto index = ip.find("interface");
  if (index == ip.end()) return std::string();
  if (!index->is_number_integer() || index->get<int64_t>() < 0) {
    return BadResult(what, "ips[0].interface", "not an index (a non-negative integer)");
  }
  auto interfaces = result.find("interfaces");
  if (interfaces == result.end()) return std::string();
  if (!interfaces->is_array()) return BadResult(what, "interfaces", "not an array");
  const uint64_t i = index->get<uint64_t>();
  if (i >= interfaces->size()) {
    return BadResult(what, "ips[0].interface",
                     absl::StrCat(i, " is past the ", interfaces->size(), " interfaces"));
  }
  const json& interface = (*interfaces)[i];
  const std::string field = absl::StrCat("interfaces[", i, "]");
  if (!interface.is_object()) return BadResult(what, field, "not an object");
  auto mac = interface.find("mac");
  if (mac == interface.end()) return std::string();
  if (!mac->is_string()) return BadResult(what, field + ".mac", "not a string");
  return mac->get<std::string>();
}

}  // namespace

absl::StatusOr<json> ParsePluginResult(absl::string_view what, absl::string_view output) {
  if (absl::StripAsciiWhitespace(output).empty()) {
    return absl::InternalError(absl::StrCat(what, ": plugin result: empty"));
  }
  json result = json::parse(output.begin(), output.end(), nullptr, /*allow_exceptions=*/false);
  if (result.is_discarded()) {
    return absl::InternalError(absl::StrCat(what, ": plugin result: not JSON: ", Quote(output)));
  }
  if (!result.is_object()) {
    return absl::InternalError(
        absl::StrCat(what, ": plugin result: not a JSON object but ", TypeOf(result)));
  }
  // A success result has no "code"; an error has one, even when the plugin exited 0.
  if (result.contains("code")) {
    return absl::InternalError(absl::StrCat(what, ": plugin error ", result["code"].dump(), ": ",
                                            PluginErrorMessage(output, "", 0)));
  }
  return result;
}

absl::StatusOr<Attachment> AddressFromResult(absl::string_view what, const json& result) {
  if (!result.is_object()) return BadResult(what, "(top)", "not an object");
  auto ips = result.find("ips");
  if (ips == result.end()) return BadResult(what, "ips", "missing (the plugin gave no address)");
  if (!ips->is_array()) {
    return BadResult(what, "ips", absl::StrCat("not an array but ", TypeOf(*ips)));
  }
  if (ips->empty()) return BadResult(what, "ips", "empty (the plugin gave no address)");
  const json& ip = (*ips)[0];
  if (!ip.is_object()) return BadResult(what, "ips[0]", "not an object");
  auto address = ip.find("address");
  if (address == ip.end()) return BadResult(what, "ips[0].address", "missing");
  if (!address->is_string()) {
    return BadResult(what, "ips[0].address", absl::StrCat("not a string but ", TypeOf(*address)));
  }
  const std::string cidr = address->get<std::string>();
  std::vector<std::string> parts = absl::StrSplit(cidr, '/');
  Attachment a;
  in_addr parsed{};
  if (parts.size() != 2 || inet_pton(AF_INET, parts[0].c_str(), &parsed) != 1 ||
      !absl::SimpleAtoi(parts[1], &a.prefix_length) || a.prefix_length < 0 ||
      a.prefix_length > 32) {
    return BadResult(what, "ips[0].address",
                     absl::StrCat(Quote(cidr), " is not an IPv4 address with a prefix length"));
  }
  a.ip = parts[0];
  if (auto gateway = ip.find("gateway"); gateway != ip.end()) {
    if (!gateway->is_string()) {
      return BadResult(what, "ips[0].gateway", absl::StrCat("not a string but ", TypeOf(*gateway)));
    }
    a.gateway = gateway->get<std::string>();
  }
  absl::StatusOr<std::string> mac = InterfaceMac(what, result, ip);
  if (!mac.ok()) return mac.status();
  a.mac = *std::move(mac);
  return a;
}

std::string PluginErrorMessage(absl::string_view out, absl::string_view err, int exit_status) {
  json j = json::parse(out.begin(), out.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto msg = j.find("msg");
    if (msg != j.end() && msg->is_string()) {
      std::string text = msg->get<std::string>();
      auto details = j.find("details");
      if (details != j.end() && details->is_string() && !details->get<std::string>().empty()) {
        absl::StrAppend(&text, ": ", details->get<std::string>());
      }
      return text;
    }
  }
  std::string text(absl::StripAsciiWhitespace(err.empty() ? out : err));
  if (text.empty()) text = absl::StrCat("exit status ", exit_status);
  return text;
}

json PortsJson(const std::vector<PortBinding>& ports) {
  json out = json::array();
  for (const PortBinding& p : ports) {
    out.push_back(
        {{"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", p.protocol}});
  }
  return out;
}

json RecordJson(const AttachmentRecord& record) {
  json out = {{"netns", record.netns}, {"ports", PortsJson(record.ports)}};
  if (!record.result.is_null()) out["result"] = record.result;
  return out;
}

absl::StatusOr<AttachmentRecord> ParseAttachmentRecord(absl::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return BadRecord("(top)", "not JSON");
  if (!j.is_object()) return BadRecord("(top)", "not an object");
  AttachmentRecord record;
  absl::StatusOr<std::string> netns = RecordString(j, "netns", "netns");
  if (!netns.ok()) return netns.status();
  record.netns = *std::move(netns);
  if (auto result = j.find("result"); result != j.end()) record.result = *result;
  auto ports = j.find("ports");
  if (ports == j.end()) return record;
  if (!ports->is_array()) return BadRecord("ports", "not an array");
  for (size_t i = 0; i < ports->size(); ++i) {
    const json& p = (*ports)[i];
    const std::string field = absl::StrCat("ports[", i, "]");
    if (!p.is_object()) return BadRecord(field, "not an object");
    PortBinding binding;
    for (auto [key, out] : {std::pair{"containerPort", &binding.container_port},
                            std::pair{"hostPort", &binding.host_port}}) {
      auto port = p.find(key);
      if (port == p.end()) continue;
      if (!port->is_number_integer() || port->get<int64_t>() < 0 ||
          port->get<int64_t>() > std::numeric_limits<uint16_t>::max()) {
        return BadRecord(absl::StrCat(field, ".", key), "not a port number");
      }
      *out = port->get<int>();
    }
    absl::StatusOr<std::string> protocol =
        RecordString(p, "protocol", absl::StrCat(field, ".protocol"));
    if (!protocol.ok()) return protocol.status();
    if (!protocol->empty()) binding.protocol = *std::move(protocol);
    record.ports.push_back(std::move(binding));
  }
  return record;
}

}  // namespace skiff::network

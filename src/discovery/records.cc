#include "skiff/discovery/records.h"

#include <arpa/inet.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "nlohmann/json.hpp"
#include "skiff/base/files.h"

namespace skiff::discovery {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxLabel = 63;

bool IsIpv4(const std::string& address) {
  in_addr parsed{};
  return inet_pton(AF_INET, address.c_str(), &parsed) == 1;
}

// True when `name` is `zone` or lies under it.
bool InZone(const std::string& name, const std::string& zone) {
  return name == zone || absl::EndsWith(name, absl::StrCat(".", zone));
}

absl::Status CheckName(const std::string& member, const std::string& name,
                       const std::string& zone) {
  if (!InZone(name, zone) || name != absl::AsciiStrToLower(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat(member, ": ", name, " is not a lower-case name in the zone ", zone));
  }
  return absl::OkStatus();
}

absl::Status ConnectFromJson(const std::string& ns, const json& in, ConnectNamespace& out) {
  for (const auto& [address, search] : in.at("clients").items()) {
    if (!IsIpv4(address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("connect.", ns, ".clients: ", address, " is not an IPv4 address"));
    }
    out.clients[address] = search.get<std::string>();
  }
  for (const auto& [name, address] : in.at("aliases").items()) {
    out.aliases[name] = address.get<std::string>();
    if (name.empty() || name != absl::AsciiStrToLower(name) || !IsIpv4(out.aliases[name])) {
      return absl::InvalidArgumentError(absl::StrCat("connect.", ns, ".aliases: ", name, " -> ",
                                                     out.aliases[name],
                                                     " is not a lower-case name and an IPv4 "
                                                     "address"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Records> FromJson(const json& in) {
  Records out;
  out.zone = in.at("zone").get<std::string>();
  if (out.zone.empty() || out.zone != absl::AsciiStrToLower(out.zone)) {
    return absl::InvalidArgumentError(absl::StrCat("zone: ", out.zone, " is not lower case"));
  }
  for (const auto& [name, addresses] : in.at("a").items()) {
    if (absl::Status s = CheckName("a", name, out.zone); !s.ok()) return s;
    std::vector<std::string>& list = out.a[name];
    for (const json& address : addresses) {
      list.push_back(address.get<std::string>());
      if (!IsIpv4(list.back())) {
        return absl::InvalidArgumentError(
            absl::StrCat("a.", name, ": ", list.back(), " is not an IPv4 address"));
      }
    }
  }
  for (const auto& [name, targets] : in.at("srv").items()) {
    if (absl::Status s = CheckName("srv", name, out.zone); !s.ok()) return s;
    std::vector<SrvTarget>& list = out.srv[name];
    for (const json& target : targets) {
      SrvTarget t{target.at("address").get<std::string>(), target.at("port").get<int>()};
      if (!IsIpv4(t.address) || t.port < 1 || t.port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("srv.", name, ": ", t.address, ":", t.port, " is not an address"));
      }
      list.push_back(std::move(t));
    }
  }
  if (const auto it = in.find("connect"); it != in.end()) {
    for (const auto& [ns, view] : it->items()) {
      if (absl::Status s = ConnectFromJson(ns, view, out.connect[ns]); !s.ok()) return s;
    }
  }
  return out;
}

}  // namespace

std::string EncodeRecords(const Records& records) {
  json srv = json::object();
  for (const auto& [name, targets] : records.srv) {
    json list = json::array();
    for (const SrvTarget& t : targets) list.push_back({{"address", t.address}, {"port", t.port}});
    srv[name] = std::move(list);
  }
  json out = {{"zone", records.zone}, {"a", records.a}, {"srv", std::move(srv)}};
  if (!records.connect.empty()) {
    json connect = json::object();
    for (const auto& [ns, view] : records.connect) {
      connect[ns] = {{"clients", view.clients}, {"aliases", view.aliases}};
    }
    out["connect"] = std::move(connect);
  }
  return out.dump();
}

absl::StatusOr<Records> DecodeRecords(absl::string_view text) {
  const json in = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object()) {
    return absl::InvalidArgumentError("records: not a JSON object");
  }
  try {
    return FromJson(in);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("records: ", e.what()));
  }
}

std::string RecordsPath(const std::string& dir) { return dir + "/records.json"; }

absl::Status WriteRecordsFile(const std::string& path, const Records& records) {
  // Readable by all: the records are what every container may ask the resolver anyway.
  return WriteFileAtomically(path, EncodeRecords(records), 0644);
}

absl::StatusOr<Records> ReadRecordsFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  return DecodeRecords(*text);
}

absl::StatusOr<std::string> DnsLabel(absl::string_view ecs_name) {
  std::string label = absl::StrReplaceAll(absl::AsciiStrToLower(ecs_name), {{"_", "-"}});
  if (label.empty()) return absl::InvalidArgumentError("an empty name has no DNS label");
  if (label.size() > kMaxLabel) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name ", ecs_name, " is longer than a DNS label's 63 characters"));
  }
  for (char c : label) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("name ", ecs_name, " has a character a DNS label cannot hold: ",
                       std::string(1, c)));
    }
  }
  if (label.front() == '-' || label.back() == '-') {
    return absl::InvalidArgumentError(absl::StrCat(
        "name ", ecs_name, " begins or ends with '-' or '_', which a DNS label cannot"));
  }
  return label;
}

}  // namespace skiff::discovery

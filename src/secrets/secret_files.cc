#include "secrets/secret_files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace skiff::secrets {
namespace {

using json = nlohmann::json;

int64_t Micros(absl::Time t) {
  if (t == absl::InfinitePast()) return INT64_MIN;
  if (t == absl::InfiniteFuture()) return INT64_MAX;
  return absl::ToUnixMicros(t);
}

absl::Time FromMicros(int64_t us) {
  if (us == INT64_MIN) return absl::InfinitePast();
  if (us == INT64_MAX) return absl::InfiniteFuture();
  return absl::FromUnixMicros(us);
}

json EncodeVersion(const SecretVersion& v) {
  json out = {{"id", v.id}, {"stages", v.stages}, {"created", Micros(v.created)}};
  if (v.string_value) out["string"] = *v.string_value;
  if (v.binary_value) out["binary_hex"] = absl::BytesToHexString(*v.binary_value);
  return out;
}

SecretVersion DecodeVersion(const json& j) {
  SecretVersion v;
  v.id = j.at("id").get<std::string>();
  v.stages = j.at("stages").get<std::vector<std::string>>();
  v.created = FromMicros(j.at("created").get<int64_t>());
  if (j.contains("string")) v.string_value = j.at("string").get<std::string>();
  if (j.contains("binary_hex")) {
    v.binary_value = absl::HexStringToBytes(j.at("binary_hex").get<std::string>());
  }
  return v;
}

}  // namespace

absl::Status EnsurePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  if (chmod(dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("cannot chmod ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadIfExists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return std::string();
    return absl::InternalError(absl::StrCat("cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string EncodeSecrets(const std::map<std::string, Secret>& secrets) {
  json list = json::array();
  for (const auto& entry : secrets) {
    const Secret& s = entry.second;
    json versions = json::array();
    for (const SecretVersion& v : s.versions) versions.push_back(EncodeVersion(v));
    json tags = json::array();
    for (const auto& tag : s.tags) tags.push_back({tag.first, tag.second});
    list.push_back({{"name", s.name}, {"arn", s.arn}, {"description", s.description},
                    {"kms_key_id", s.kms_key_id}, {"tags", tags},
                    {"created", Micros(s.created)}, {"last_changed", Micros(s.last_changed)},
                    {"last_accessed", Micros(s.last_accessed)},
                    {"deletion_date", Micros(s.deletion_date)}, {"versions", versions}});
  }
  return json{{"version", 1}, {"secrets", list}}.dump(-1, ' ', false,
                                                      json::error_handler_t::replace);
}

absl::StatusOr<std::map<std::string, Secret>> DecodeSecrets(const std::string& text,
                                                            const std::string& what) {
  std::map<std::string, Secret> out;
  if (text.empty()) return out;
  try {
    const json doc = json::parse(text);
    for (const json& j : doc.at("secrets")) {
      Secret s;
      s.name = j.at("name").get<std::string>();
      s.arn = j.at("arn").get<std::string>();
      s.description = j.at("description").get<std::string>();
      s.kms_key_id = j.at("kms_key_id").get<std::string>();
      for (const json& tag : j.at("tags")) {
        s.tags.emplace_back(tag.at(0).get<std::string>(), tag.at(1).get<std::string>());
      }
      s.created = FromMicros(j.at("created").get<int64_t>());
      s.last_changed = FromMicros(j.at("last_changed").get<int64_t>());
      s.last_accessed = FromMicros(j.at("last_accessed").get<int64_t>());
      s.deletion_date = FromMicros(j.at("deletion_date").get<int64_t>());
      for (const json& v : j.at("versions")) s.versions.push_back(DecodeVersion(v));
      out[s.name] = std::move(s);
    }
  } catch (const json::exception&) {
    // The parser's message may quote the document, which holds values: name only the file.
    return absl::InternalError(absl::StrCat(what, ": not a secrets file skiffd wrote"));
  }
  return out;
}

std::string EncodeParameters(const std::map<std::string, StoredParameter>& parameters) {
  json list = json::array();
  for (const auto& entry : parameters) {
    json versions = json::array();
    for (const ParameterVersion& v : entry.second.versions) {
      versions.push_back({{"version", v.version}, {"type", v.type}, {"value", v.value},
                          {"description", v.description}, {"data_type", v.data_type},
                          {"modified", Micros(v.modified)}});
    }
    list.push_back({{"name", entry.second.name}, {"versions", versions}});
  }
  return json{{"version", 1}, {"parameters", list}}.dump(-1, ' ', false,
                                                         json::error_handler_t::replace);
}

absl::StatusOr<std::map<std::string, StoredParameter>> DecodeParameters(const std::string& text,
                                                                        const std::string& what) {
  std::map<std::string, StoredParameter> out;
  if (text.empty()) return out;
  try {
    const json doc = json::parse(text);
    for (const json& j : doc.at("parameters")) {
      StoredParameter p;
      p.name = j.at("name").get<std::string>();
      for (const json& v : j.at("versions")) {
        p.versions.push_back({.version = v.at("version").get<int64_t>(),
                              .type = v.at("type").get<std::string>(),
                              .value = v.at("value").get<std::string>(),
                              .description = v.at("description").get<std::string>(),
                              .data_type = v.at("data_type").get<std::string>(),
                              .modified = FromMicros(v.at("modified").get<int64_t>())});
      }
      out[p.name] = std::move(p);
    }
  } catch (const json::exception&) {
    return absl::InternalError(absl::StrCat(what, ": not a parameters file skiffd wrote"));
  }
  return out;
}

}  // namespace skiff::secrets

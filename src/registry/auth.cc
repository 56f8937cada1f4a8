#include "skiff/registry/auth.h"

#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace skiff::registry {
namespace {

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(c) || absl::string_view("!#$%&'*+-.^_`|~").find(c) !=
                                       absl::string_view::npos;
}

void SkipSpaces(absl::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
}

absl::StatusOr<std::map<std::string, Credentials>> ReadMap(const nlohmann::json& json,
                                                           absl::string_view member,
                                                           absl::string_view what) {
  std::map<std::string, Credentials> out;
  if (!json.contains(member)) return out;
  const nlohmann::json& map = json.at(std::string(member));
  if (!map.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", member, ": must be an object"));
  }
  for (const auto& [key, value] : map.items()) {
    const std::string path = absl::StrCat(member, "[\"", key, "\"]");
    if (!value.is_object() || !value.contains("username") || !value.contains("password") ||
        !value["username"].is_string() || !value["password"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": ", path, ": must be {\"username\": string, \"password\": string}"));
    }
    out[key] = Credentials{.username = value["username"].get<std::string>(),
                           .password = value["password"].get<std::string>()};
  }
  return out;
}

}  // namespace

absl::StatusOr<Challenge> ParseWwwAuthenticate(absl::string_view header) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("WWW-Authenticate \"", header, "\": ", why));
  };
  absl::string_view s = header;
  SkipSpaces(s);
  size_t n = 0;
  while (n < s.size() && IsTokenChar(s[n])) ++n;
  if (n == 0) return invalid("no scheme");
  Challenge challenge{.scheme = absl::AsciiStrToLower(s.substr(0, n))};
  s.remove_prefix(n);
  while (true) {
    SkipSpaces(s);
    while (!s.empty() && s.front() == ',') {
      s.remove_prefix(1);
      SkipSpaces(s);
    }
    if (s.empty()) break;
    size_t k = 0;
    while (k < s.size() && IsTokenChar(s[k])) ++k;
    if (k == 0) return invalid(absl::StrCat("unexpected '", s.substr(0, 1), "'"));
    std::string key = absl::AsciiStrToLower(s.substr(0, k));
    s.remove_prefix(k);
    SkipSpaces(s);
    if (s.empty() || s.front() != '=') return invalid(absl::StrCat("parameter ", key, " has no value"));
    s.remove_prefix(1);
    SkipSpaces(s);
    std::string value;
    if (!s.empty() && s.front() == '"') {
      s.remove_prefix(1);
      bool closed = false;
      while (!s.empty()) {
        const char c = s.front();
        s.remove_prefix(1);
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && !s.empty()) {
          value.push_back(s.front());
          s.remove_prefix(1);
          continue;
        }
        value.push_back(c);
      }
      if (!closed) return invalid(absl::StrCat("unterminated quoted value of ", key));
    } else {
      size_t v = 0;
      while (v < s.size() && IsTokenChar(s[v])) ++v;
      value = std::string(s.substr(0, v));
      s.remove_prefix(v);
    }
    challenge.params[key] = std::move(value);
    SkipSpaces(s);
    if (!s.empty() && s.front() != ',') {
      return invalid(absl::StrCat("expected ',' after parameter ", key));
    }
  }
  return challenge;
}

absl::StatusOr<CredentialsFile> CredentialsFile::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("registry credentials file ", path, ": cannot be read"));
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  auto file = Parse(text, path);
  if (file.ok()) file->path_ = path;
  return file;
}

absl::StatusOr<CredentialsFile> CredentialsFile::Parse(absl::string_view text,
                                                       absl::string_view what) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a JSON object"));
  }
  for (const auto& [key, value] : json.items()) {
    if (key != "secrets" && key != "registries") {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", key, ": unknown member"));
    }
  }
  CredentialsFile file;
  auto secrets = ReadMap(json, "secrets", what);
  if (!secrets.ok()) return secrets.status();
  auto registries = ReadMap(json, "registries", what);
  if (!registries.ok()) return registries.status();
  file.secrets_ = *std::move(secrets);
  file.registries_ = *std::move(registries);
  return file;
}

absl::StatusOr<Credentials> CredentialsFile::ForSecret(
    const std::string& credentials_parameter) const {
  auto it = secrets_.find(credentials_parameter);
  if (it == secrets_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "repositoryCredentials.credentialsParameter ", credentials_parameter,
        ": no such secret in the registry credentials file",
        path_.empty() ? "" : absl::StrCat(" ", path_)));
  }
  return it->second;
}

std::optional<Credentials> CredentialsFile::ForRegistry(const std::string& domain) const {
  auto it = registries_.find(domain);
  if (it == registries_.end()) return std::nullopt;
  return it->second;
}

}  // namespace skiff::registry

#include "containerd/image_manifest.h"

#include <sys/utsname.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "containerd/digest.h"
#include "nlohmann/json.hpp"

namespace skiff::runtime {
namespace {

using Json = nlohmann::json;

absl::Status Invalid(absl::string_view what, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", problem));
}

absl::StatusOr<Json> ParseObject(absl::string_view text, absl::string_view what) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Invalid(what, "not valid JSON");
  if (!json.is_object()) return Invalid(what, "not a JSON object");
  return json;
}

// An optional string member; absent and null read as empty.
absl::StatusOr<std::string> StringMember(const Json& object, const char* key,
                                         absl::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Invalid(what, absl::StrCat("\"", key, "\" is not a string"));
  return it->get<std::string>();
}

absl::StatusOr<std::vector<std::string>> StringArrayMember(const Json& object, const char* key,
                                                           absl::string_view what) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_array()) return Invalid(what, absl::StrCat("\"", key, "\" is not an array"));
  for (const Json& item : *it) {
    if (!item.is_string()) {
      return Invalid(what, absl::StrCat("\"", key, "\" has a member that is not a string"));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> StringMapMember(const Json& object,
                                                                   const char* key,
                                                                   absl::string_view what) {
  std::map<std::string, std::string> out;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return out;
  if (!it->is_object()) return Invalid(what, absl::StrCat("\"", key, "\" is not an object"));
  for (auto& [name, value] : it->items()) {
    if (!value.is_string()) {
      return Invalid(what, absl::StrCat("\"", key, ".", name, "\" is not a string"));
    }
    out[name] = value.get<std::string>();
  }
  return out;
}

absl::StatusOr<Platform> ParsePlatform(const Json& object, absl::string_view what) {
  Platform platform;
  auto os = StringMember(object, "os", what);
  auto architecture = StringMember(object, "architecture", what);
  auto variant = StringMember(object, "variant", what);
  for (const auto* field : {&os, &architecture, &variant}) {
    if (!field->ok()) return field->status();
  }
  platform.os = *std::move(os);
  platform.architecture = *std::move(architecture);
  platform.variant = *std::move(variant);
  return platform;
}

absl::StatusOr<Descriptor> ParseDescriptor(const Json& json, absl::string_view what) {
  if (!json.is_object()) return Invalid(what, "descriptor is not an object");
  Descriptor descriptor;
  auto media_type = StringMember(json, "mediaType", what);
  if (!media_type.ok()) return media_type.status();
  descriptor.media_type = *std::move(media_type);
  auto digest = StringMember(json, "digest", what);
  if (!digest.ok()) return digest.status();
  if (!IsSha256Digest(*digest)) {
    return Invalid(what, absl::StrCat("descriptor digest \"", *digest,
                                      "\" is not sha256:<64 lower-case hex digits>"));
  }
  descriptor.digest = *std::move(digest);
  auto size = json.find("size");
  if (size == json.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return Invalid(what, absl::StrCat("descriptor ", descriptor.digest,
                                      " has no valid \"size\""));
  }
  descriptor.size = size->get<int64_t>();
  auto annotations = StringMapMember(json, "annotations", what);
  if (!annotations.ok()) return annotations.status();
  descriptor.annotations = *std::move(annotations);
  if (auto platform = json.find("platform"); platform != json.end() && platform->is_object()) {
    auto parsed = ParsePlatform(*platform, what);
    if (!parsed.ok()) return parsed.status();
    descriptor.platform = *std::move(parsed);
  }
  return descriptor;
}

nlohmann::ordered_json DescriptorJson(const Descriptor& descriptor) {
  // nlohmann::ordered_json keeps Go's struct order: mediaType, digest, size.
  nlohmann::ordered_json json;
  json["mediaType"] = descriptor.media_type;
  json["digest"] = descriptor.digest;
  json["size"] = descriptor.size;
  return json;
}

}  // namespace

bool IsIndexMediaType(absl::string_view media_type) {
  return media_type == kMediaTypeOciIndex || media_type == kMediaTypeDockerManifestList;
}

bool IsManifestMediaType(absl::string_view media_type) {
  return media_type == kMediaTypeOciManifest || media_type == kMediaTypeDockerManifest;
}

absl::StatusOr<ImageIndex> ParseImageIndex(absl::string_view text, absl::string_view what) {
  auto json = ParseObject(text, what);
  if (!json.ok()) return json.status();
  auto manifests = json->find("manifests");
  if (manifests == json->end() || !manifests->is_array()) {
    return Invalid(what, "no \"manifests\" array");
  }
  ImageIndex index;
  for (const Json& item : *manifests) {
    auto descriptor = ParseDescriptor(item, what);
    if (!descriptor.ok()) return descriptor.status();
    index.manifests.push_back(*std::move(descriptor));
  }
  return index;
}

absl::StatusOr<ImageManifest> ParseImageManifest(absl::string_view text, absl::string_view what) {
  auto json = ParseObject(text, what);
  if (!json.ok()) return json.status();
  auto config = json->find("config");
  auto layers = json->find("layers");
  if (config == json->end() || layers == json->end() || !layers->is_array()) {
    return Invalid(what, "not an image manifest (needs \"config\" and a \"layers\" array)");
  }
  ImageManifest manifest;
  auto config_descriptor = ParseDescriptor(*config, what);
  if (!config_descriptor.ok()) return config_descriptor.status();
  manifest.config = *std::move(config_descriptor);
  for (const Json& item : *layers) {
    auto descriptor = ParseDescriptor(item, what);
    if (!descriptor.ok()) return descriptor.status();
    manifest.layers.push_back(*std::move(descriptor));
  }
  return manifest;
}

absl::StatusOr<ParsedImageConfig> ParseImageConfig(absl::string_view text,
                                                   absl::string_view what) {
  auto json = ParseObject(text, what);
  if (!json.ok()) return json.status();
  ParsedImageConfig parsed;
  auto platform = ParsePlatform(*json, what);
  if (!platform.ok()) return platform.status();
  parsed.platform = *std::move(platform);

  auto rootfs = json->find("rootfs");
  if (rootfs == json->end() || !rootfs->is_object()) return Invalid(what, "no \"rootfs\"");
  auto diff_ids = StringArrayMember(*rootfs, "diff_ids", what);
  if (!diff_ids.ok()) return diff_ids.status();
  for (const std::string& diff_id : *diff_ids) {
    if (!IsSha256Digest(diff_id)) {
      return Invalid(what, absl::StrCat("diff id \"", diff_id, "\" is not a sha256 digest"));
    }
  }
  parsed.diff_ids = *std::move(diff_ids);

  auto config = json->find("config");
  if (config == json->end() || config->is_null()) return parsed;
  if (!config->is_object()) return Invalid(what, "\"config\" is not an object");
  ImageConfig& out = parsed.config;
  struct StringField { const char* key; std::string* out; };
  for (auto [key, field] : {StringField{"WorkingDir", &out.working_dir},
                            StringField{"User", &out.user},
                            StringField{"StopSignal", &out.stop_signal}}) {
    auto value = StringMember(*config, key, what);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  struct ArrayField { const char* key; std::vector<std::string>* out; };
  for (auto [key, field] : {ArrayField{"Entrypoint", &out.entrypoint}, ArrayField{"Cmd", &out.cmd},
                            ArrayField{"Env", &out.env}}) {
    auto value = StringArrayMember(*config, key, what);
    if (!value.ok()) return value.status();
    *field = *std::move(value);
  }
  auto labels = StringMapMember(*config, "Labels", what);
  if (!labels.ok()) return labels.status();
  out.labels = *std::move(labels);
  if (auto ports = config->find("ExposedPorts"); ports != config->end() && ports->is_object()) {
    for (auto& [port, unused] : ports->items()) out.exposed_ports.push_back(port);
  }
  return parsed;
}

absl::StatusOr<std::vector<DockerArchiveImage>> ParseDockerArchiveManifest(
    absl::string_view text) {
  constexpr absl::string_view kWhat = "manifest.json";
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_array()) return Invalid(kWhat, "not a JSON array");
  std::vector<DockerArchiveImage> images;
  for (const Json& item : json) {
    if (!item.is_object()) return Invalid(kWhat, "member is not an object");
    DockerArchiveImage image;
    auto config = StringMember(item, "Config", kWhat);
    if (!config.ok()) return config.status();
    if (config->empty()) return Invalid(kWhat, "image without \"Config\"");
    image.config_path = *std::move(config);
    auto tags = StringArrayMember(item, "RepoTags", kWhat);
    if (!tags.ok()) return tags.status();
    image.repo_tags = *std::move(tags);
    auto layers = StringArrayMember(item, "Layers", kWhat);
    if (!layers.ok()) return layers.status();
    image.layer_paths = *std::move(layers);
    images.push_back(std::move(image));
  }
  return images;
}

std::string SniffMediaType(absl::string_view text) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return "";
  if (auto it = json.find("mediaType"); it != json.end() && it->is_string()) {
    return it->get<std::string>();
  }
  if (json.contains("manifests")) return kMediaTypeOciIndex;
  if (json.contains("layers")) return kMediaTypeOciManifest;
  return "";
}

std::string DockerSchema2ManifestJson(const Descriptor& config,
                                      const std::vector<Descriptor>& layers) {
  nlohmann::ordered_json manifest;
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = kMediaTypeDockerManifest;
  manifest["config"] = DescriptorJson(config);
  manifest["layers"] = nlohmann::ordered_json::array();
  for (const Descriptor& layer : layers) manifest["layers"].push_back(DescriptorJson(layer));
  return manifest.dump();
}

Platform HostPlatform() {
  Platform platform{.os = "linux"};
  struct utsname name;
  const std::string machine = uname(&name) == 0 ? name.machine : "";
  // The OCI (GOARCH) names; containerd normalizes arm64 to variant v8.
  if (machine == "x86_64") {
    platform.architecture = "amd64";
  } else if (machine == "aarch64" || machine == "arm64") {
    platform.architecture = "arm64";
    platform.variant = "v8";
  } else if (machine.rfind("armv7", 0) == 0) {
    platform.architecture = "arm";
    platform.variant = "v7";
  } else if (machine == "i386" || machine == "i686") {
    platform.architecture = "386";
  } else if (machine == "ppc64le") {
    platform.architecture = "ppc64le";
  } else {
    platform.architecture = machine;  // s390x, riscv64: same name.
  }
  return platform;
}

bool PlatformMatches(const Platform& host, const std::optional<Platform>& candidate) {
  if (!candidate.has_value()) return true;
  if (candidate->os != host.os || candidate->architecture != host.architecture) return false;
  if (candidate->variant.empty() || candidate->variant == host.variant) return true;
  // arm64 images rarely say v8, and when they do it means plain arm64.
  return host.architecture == "arm64" && candidate->variant == "v8";
}

const Descriptor* SelectManifest(const ImageIndex& index, const Platform& host) {
  const Descriptor* chosen = nullptr;
  for (const Descriptor& d : index.manifests) {
    if (IsIndexMediaType(d.media_type) || !PlatformMatches(host, d.platform)) continue;
    const bool exact = d.platform.has_value() && !host.variant.empty() &&
                       d.platform->variant == host.variant;
    if (exact) return &d;
    if (chosen == nullptr) chosen = &d;
  }
  return chosen;
}

std::string PlatformString(const Platform& platform) {
  std::string out = absl::StrCat(platform.os, "/", platform.architecture);
  if (!platform.variant.empty()) absl::StrAppend(&out, "/", platform.variant);
  return out;
}

}  // namespace skiff::runtime

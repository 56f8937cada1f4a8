// Image values shared by the runtime and its callers: an image as stored in the runtime, and the
// parts of its OCI image config that decide how a container runs. Plain values.
#ifndef SKIFF_RUNTIME_IMAGE_H_
#define SKIFF_RUNTIME_IMAGE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace skiff::runtime {

// The runtime-relevant part of an OCI image config ("config" object of the config blob).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string working_dir;
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp"
  std::string stop_signal;
  std::map<std::string, std::string> labels;
};

struct ImageInfo {
  std::string name;           // Normalized reference, e.g. "docker.io/library/busybox:latest".
  std::string digest;         // Digest of the image's target (manifest or index).
  std::string config_digest;  // Digest of the image config blob (the image id).
  std::string chain_id;       // Snapshot key of the top unpacked layer (parent of containers).
  int64_t size = 0;           // Bytes of compressed layers + config + manifest.
  absl::Time created;         // When it was stored in the runtime.
  ImageConfig config;
};

// How far a pull is with one blob (a layer or the image config), for progress displays.
struct PullProgress {
  std::string digest;
  std::string kind;        // "layer" or "config".
  int64_t fetched = 0;     // Bytes fetched (or found) so far.
  int64_t size = 0;        // The blob's size per its descriptor.
  bool present = false;    // Already in the content store (or fetched earlier): not fetched.
  bool done = false;       // Fetched and verified (or present).
};

// The docker/containerd normalization of a reference: "busybox" -> "docker.io/library/busybox:latest",
// "skiff.local/x" -> "skiff.local/x:latest". InvalidArgument for malformed references is left
// to callers that need it; this never fails.
std::string NormalizeImageReference(const std::string& reference);

}  // namespace skiff::runtime

#endif  // SKIFF_RUNTIME_IMAGE_H_

// The task metadata endpoint's port and key, kept in STATE_DIR/task-metadata.json (0600): the
// URIs in the environment of running containers name both, so a restarted skiffd must serve
// the same paths, and with --metadata-port 0 the same port. Private to the daemon component;
// called on the main thread while skiffd starts.
#ifndef SKIFF_SRC_DAEMON_TASK_METADATA_STATE_H_
#define SKIFF_SRC_DAEMON_TASK_METADATA_STATE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "skiff/api/task_metadata_endpoint.h"
#include "skiff/base/random.h"

namespace skiff::daemon {

// Binds the endpoint at `gateway` and 127.0.0.1 on `port` (0: the kept one, else a free one)
// with the kept key (a new random one the first time), and keeps what it used. Errors name the
// file or the address and --metadata-port.
absl::StatusOr<std::unique_ptr<api::TaskMetadataEndpoint>> BindTaskMetadataEndpoint(
    const std::string& state_dir, int port, const std::string& gateway, RandomSource& random);

}  // namespace skiff::daemon

#endif  // SKIFF_SRC_DAEMON_TASK_METADATA_STATE_H_

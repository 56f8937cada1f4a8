// Plain sockets on 127.0.0.1 for the test helpers that serve or proxy there (HttpBackend, the
// local registry's proxy): an address, a free port, a connection, a whole send.
#ifndef SKIFF_TESTS_SUPPORT_LOOPBACK_H_
#define SKIFF_TESTS_SUPPORT_LOOPBACK_H_

#include <netinet/in.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::testing {

// 127.0.0.1:port.
sockaddr_in LoopbackAddress(int port);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
absl::StatusOr<int> PickFreeLoopbackPort();

// A blocking connection to 127.0.0.1:port; -1 when it fails.
int ConnectLoopback(int port);

// Sends all of `data` (a blocking socket), retrying after EINTR; false when the peer is gone.
bool SendAll(int fd, absl::string_view data);

}  // namespace skiff::testing

#endif  // SKIFF_TESTS_SUPPORT_LOOPBACK_H_

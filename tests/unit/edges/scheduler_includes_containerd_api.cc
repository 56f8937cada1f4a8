// A scheduler source that includes containerd's generated API. It must not compile: only
// skiff_containerd links skiff_containerd_api, and privately (ADR 0009).
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb.h"

int FenceProbe() { return 0; }

// A scheduler source that includes a private header of the containerd adapter (src/containerd/).
// It must not compile: each component sees only its own src/<name>/ (ADR 0009).
#include "containerd/containerd_client.h"

int FenceProbe() { return 0; }

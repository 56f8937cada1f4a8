// A scheduler source that reaches past the ContainerRuntime interface to the containerd adapter.
// It must not compile: the fence_scheduler_includes_containerd test expects the include below to
// be missing from the scheduler's include path (ADR 0009).
#include "skiff/containerd/containerd_runtime.h"

int FenceProbe() { return 0; }

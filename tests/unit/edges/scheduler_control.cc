// The control of the fence probes: what a scheduler source may include (its own private
// headers, the runtime interface, the store, base) compiles with the same include path. Without
// it, a probe whose include path were wrong altogether would pass for the wrong reason.
#include "scheduler/task_states.h"
#include "skiff/base/clock.h"
#include "skiff/registry/reference.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/store/store.h"

int FenceProbe() { return 0; }

// RuntimeHealth: the one answer to "is the container runtime (containerd) up now?". The
// RuntimeMonitor owns the answer; the task manager (launches fail fast while it is down) and the
// cluster registry (agentConnected) read it through this interface, so they can never disagree.
//
// Thread contract: read on the loop thread.
#ifndef SKIFF_SCHEDULER_RUNTIME_HEALTH_H_
#define SKIFF_SCHEDULER_RUNTIME_HEALTH_H_

namespace skiff::scheduler {

class RuntimeHealth {
 public:
  virtual ~RuntimeHealth() = default;
  virtual bool available() const = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_RUNTIME_HEALTH_H_

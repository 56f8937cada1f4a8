// The machine header every benchmark table starts with: the date (UTC), CPUs with their model and
// the kernel, lines the bench adds (containerd's version, say), and the 1-minute load average.
// Shared by the benches on the harness and those without a containerd. Any thread.
#ifndef SKIFF_BENCH_MACHINE_H_
#define SKIFF_BENCH_MACHINE_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace skiff::bench {

// `extra`: (label, text) lines printed between the machine and the load, labels padded as the
// others ("containerd", "1.6.20 (private instance, overlayfs)").
void PrintMachineHeader(std::ostream& out,
                        const std::vector<std::pair<std::string, std::string>>& extra = {});

// The 1-minute load average, "?" when /proc/loadavg cannot be read.
std::string LoadAverage();

// A directory `parent`/`prefix`.XXXXXX, removed with everything in it when the object goes;
// path() is "" when it could not be made. One thread.
class ScratchDir {
 public:
  ScratchDir(const std::string& parent, const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace skiff::bench

#endif  // SKIFF_BENCH_MACHINE_H_

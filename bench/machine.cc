#include "machine.h"

#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace skiff::bench {

std::string LoadAverage() {
  std::string load = "?";
  std::ifstream("/proc/loadavg") >> load;
  return load;
}

void PrintMachineHeader(std::ostream& out,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  utsname u{};
  uname(&u);
  std::string cpu = "?";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (absl::StartsWith(line, "model name")) {
      cpu = std::string(absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
      break;
    }
  }
  auto row = [&out](const std::string& label, const std::string& text) {
    out << absl::StrFormat("%-12s%s\n", label + ":", text);
  };
  row("date", absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", absl::Now(), absl::UTCTimeZone()));
  row("machine", absl::StrFormat("%d CPUs (%s), %s %s %s", sysconf(_SC_NPROCESSORS_ONLN), cpu,
                                 u.sysname, u.release, u.machine));
  for (const auto& [label, text] : extra) row(label, text);
  row("load (1m)", LoadAverage());
  out.flush();
}

ScratchDir::ScratchDir(const std::string& parent, const std::string& prefix) {
  std::string name = parent + "/" + prefix + ".XXXXXX";
  if (mkdtemp(name.data()) != nullptr) path_ = name;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace skiff::bench

#include "absl/strings/string_view.h"
#include "skiff/model/resources.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "skiff/model/errors.h"

namespace skiff::model {
namespace {

// Splits "2 GB" into 2.0 and "gb" (lower case, spaces trimmed).
bool SplitQuantity(absl::string_view text, double* number, std::string* unit) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t i = 0;
  while (i < s.size() && (absl::ascii_isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
    ++i;
  }
  if (i == 0 || !absl::SimpleAtod(s.substr(0, i), number) || !std::isfinite(*number)) return false;
  *unit = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(i)));
  return true;
}

absl::StatusOr<int> ToWhole(double value, absl::string_view text, absl::string_view what) {
  const double rounded = std::round(value);
  if (value <= 0 || value > 1e9 || std::fabs(value - rounded) > 1e-9) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be a positive whole number of ", what, "; got ", QuoteValue(text)));
  }
  return static_cast<int>(rounded);
}

}  // namespace

absl::StatusOr<int> ParseCpuUnits(absl::string_view text) {
  double n = 0;
  std::string unit;
  if (!SplitQuantity(text, &n, &unit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be CPU units (\"1024\") or vCPUs (\"1 vCPU\"); got ", QuoteValue(text)));
  }
  if (unit.empty()) return ToWhole(n, text, "CPU units");
  if (unit == "vcpu") return ToWhole(n * 1024, text, "CPU units");
  return absl::InvalidArgumentError(
      absl::StrCat("unknown CPU unit ", QuoteValue(unit), "; use units (\"1024\") or vCPU"));
}

absl::StatusOr<int> ParseMemoryMiB(absl::string_view text) {
  double n = 0;
  std::string unit;
  if (!SplitQuantity(text, &n, &unit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be MiB (\"2048\") or GB (\"2GB\"); got ", QuoteValue(text)));
  }
  if (unit.empty() || unit == "mb" || unit == "mib") return ToWhole(n, text, "MiB");
  if (unit == "gb" || unit == "gib") return ToWhole(n * 1024, text, "MiB");
  return absl::InvalidArgumentError(
      absl::StrCat("unknown memory unit ", QuoteValue(unit), "; use MiB (\"2048\") or GB"));
}

bool IsValidFargateSize(int cpu, int memory) {
  auto in = [memory](int lo, int hi, int step) {
    return memory >= lo && memory <= hi && (memory - lo) % step == 0;
  };
  switch (cpu) {
    case 256: return memory == 512 || memory == 1024 || memory == 2048;
    case 512: return in(1024, 4096, 1024);
    case 1024: return in(2048, 8192, 1024);
    case 2048: return in(4096, 16384, 1024);
    case 4096: return in(8192, 30720, 1024);
    case 8192: return in(16384, 61440, 4096);
    case 16384: return in(32768, 122880, 8192);
    default: return false;
  }
}

}  // namespace skiff::model

#include "skiff/runtime/image.h"

namespace skiff::runtime {

std::string NormalizeImageReference(const std::string& reference) { return reference; }

}  // namespace skiff::runtime

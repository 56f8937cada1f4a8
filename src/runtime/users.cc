#include "skiff/runtime/oci_spec.h"

// The one way discovery's sources include ldns, and owners for its objects. Private to
// src/discovery (included as "discovery/ldns_support.h"); pure, any thread.
#ifndef SKIFF_SRC_DISCOVERY_LDNS_SUPPORT_H_
#define SKIFF_SRC_DISCOVERY_LDNS_SUPPORT_H_

// ldns/common.h defines `true` and `false` as 1 and 0 (breaking fmt's templates) unless
// stdbool.h came first; in C++, stdbool.h only says that bool exists.
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers): must precede ldns.
#include <ldns/ldns.h>

#include <memory>

namespace skiff::discovery {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
struct RdfFree {
  void operator()(ldns_rdf* r) const { ldns_rdf_deep_free(r); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;

}  // namespace skiff::discovery

#endif  // SKIFF_SRC_DISCOVERY_LDNS_SUPPORT_H_

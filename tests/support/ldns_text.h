// DNS records as text, for tests that read answers with ldns (the responder's unit tests and
// the resolver's integration tests): each record of a section as "owner ttl TYPE rdata...",
// ldns's own text for every field. Header-only, so that only the tests that link ldns see it.
#ifndef SKIFF_TESTS_SUPPORT_LDNS_TEXT_H_
#define SKIFF_TESTS_SUPPORT_LDNS_TEXT_H_

#include <ldns/ldns.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace skiff::testing {

inline std::string LdnsText(const ldns_rdf* rdf) {
  char* text = ldns_rdf2str(rdf);
  std::string out = text == nullptr ? "" : text;
  free(text);
  return out;
}

inline std::vector<std::string> LdnsSection(const ldns_pkt* pkt, ldns_pkt_section section) {
  std::vector<std::string> out;
  ldns_rr_list* list = ldns_pkt_get_section_clone(pkt, section);
  for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(list, i);
    char* type = ldns_rr_type2str(ldns_rr_get_type(rr));
    std::string line =
        absl::StrCat(LdnsText(ldns_rr_owner(rr)), " ", ldns_rr_ttl(rr), " ", type);
    free(type);
    for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      absl::StrAppend(&line, " ", LdnsText(ldns_rr_rdf(rr, j)));
    }
    out.push_back(std::move(line));
  }
  ldns_rr_list_deep_free(list);
  return out;
}

}  // namespace skiff::testing

#endif  // SKIFF_TESTS_SUPPORT_LDNS_TEXT_H_

// responder_fuzz: skiff-dns's answering (Responder, ADR 0014) on arbitrary bytes, as any
// container on the node can send them. Each input is answered over UDP and over TCP by a
// responder with a few records; what it sends back must be a DNS message that ldns reads, no
// longer than the transport allows, and the helpers of the forwarding path (ServerFailure,
// AnswersQuery) must take the bytes too. A crash, a sanitizer report, a hang or a response that
// ldns cannot read back are findings.
#include <stdbool.h>  // Before ldns, which otherwise defines true and false as macros.

#include <ldns/ldns.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "skiff/discovery/records.h"
#include "skiff/discovery/responder.h"

namespace {

using skiff::discovery::Reply;
using skiff::discovery::Responder;
using skiff::discovery::Transport;

const Responder& Zone() {
  static const Responder* responder = [] {
    skiff::discovery::Records r;
    r.a["web.default.skiff.internal"] = {"10.213.0.5", "10.213.0.6"};
    r.a["idle.default.skiff.internal"] = {};
    r.srv["_http._tcp.web.default.skiff.internal"] = {{"10.213.0.5", 8080}};
    return new Responder(r, "10.213.0.1");
  }();
  return *responder;
}

void CheckResponse(const Reply& reply, size_t limit) {
  if (reply.action != Reply::Action::kRespond) return;
  ldns_pkt* pkt = nullptr;
  if (reply.wire.size() > limit ||
      ldns_wire2pkt(&pkt, reinterpret_cast<const uint8_t*>(reply.wire.data()),
                    reply.wire.size()) != LDNS_STATUS_OK) {
    std::fprintf(stderr, "responder_fuzz: a response of %zu bytes that ldns cannot read\n",
                 reply.wire.size());
    std::abort();
  }
  ldns_pkt_free(pkt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view query(reinterpret_cast<const char*>(data), size);
  // UDP answers fit the client's size, at most 64 KiB; TCP ones the two-byte length.
  CheckResponse(Zone().Answer(query, Transport::kUdp), 65535);
  CheckResponse(Zone().Answer(query, Transport::kTcp), 65535);
  const std::string failure = skiff::discovery::ServerFailure(query);
  if (!failure.empty()) skiff::discovery::AnswersQuery(query, failure);
  return 0;
}

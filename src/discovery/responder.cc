#include "skiff/discovery/responder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "discovery/ldns_support.h"

namespace skiff::discovery {

namespace {

constexpr size_t kTcpLimit = 65535;

RdfPtr Dname(const std::string& name) {
  return RdfPtr(ldns_dname_new_frm_str(absl::StrCat(name, ".").c_str()));
}

// The lower-case text of a name, without escapes' meaning and without the trailing dot.
std::string Key(const ldns_rdf* canonical) {
  char* text = ldns_rdf2str(canonical);
  if (text == nullptr) return "";
  std::string key(absl::StripSuffix(text, "."));
  free(text);
  return key;
}

// "10.213.0.5" -> "10-213-0-5".
std::string AddressLabel(uint32_t address) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &address, text, sizeof(text));
  return absl::StrReplaceAll(text, {{".", "-"}});
}

// The SRV name without its leading "_service._proto" labels.
absl::string_view SrvBase(absl::string_view name) {
  while (absl::StartsWith(name, "_")) {
    const size_t dot = name.find('.');
    if (dot == absl::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return name;
}

std::string Serialize(const ldns_pkt* pkt) {
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt, &size) != LDNS_STATUS_OK) return "";
  std::string out(reinterpret_cast<const char*>(wire), size);
  free(wire);
  return out;
}

Reply Respond(std::string wire) { return {Reply::Action::kRespond, std::move(wire)}; }

// A response of a header (and the question, when there is one) with `rcode`, for queries that
// get no answer from the zone: refused, not implemented, malformed.
// `opcode` is the query's as it came: opcodes ldns has no name for are not values of its enum,
// so the reply carries it by way of the wire (LDNS_OPCODE_SET), never as an ldns_pkt_opcode.
Reply HeaderReply(uint16_t id, bool rd, int opcode, ldns_pkt_rcode rcode,
                  const ldns_pkt* query) {
  PktPtr reply(ldns_pkt_new());
  ldns_pkt_set_id(reply.get(), id);
  ldns_pkt_set_qr(reply.get(), true);
  ldns_pkt_set_rd(reply.get(), rd);
  ldns_pkt_set_ra(reply.get(), true);
  ldns_pkt_set_rcode(reply.get(), rcode);
  if (query != nullptr) {
    ldns_rr_list* question = ldns_pkt_question(query);
    for (size_t i = 0; i < ldns_rr_list_rr_count(question); ++i) {
      ldns_pkt_push_rr(reply.get(), LDNS_SECTION_QUESTION,
                       ldns_rr_clone(ldns_rr_list_rr(question, i)));
    }
  }
  std::string wire = Serialize(reply.get());
  if (wire.size() >= LDNS_HEADER_SIZE) {
    LDNS_OPCODE_SET(reinterpret_cast<uint8_t*>(wire.data()), opcode & 0xf);
  }
  return Respond(std::move(wire));
}

// FORMERR for bytes ldns cannot parse, when they hold an id; nothing for a response.
Reply Unparseable(absl::string_view query) {
  const auto* data = reinterpret_cast<const uint8_t*>(query.data());
  if (query.size() < 2) return {};
  if (query.size() >= 3 && LDNS_QR_WIRE(data)) return {};
  const bool rd = query.size() >= 3 && LDNS_RD_WIRE(data);
  const int opcode = query.size() >= 3 ? LDNS_OPCODE_WIRE(data) : 0;  // 0: QUERY.
  return HeaderReply(LDNS_ID_WIRE(data), rd, opcode, LDNS_RCODE_FORMERR, nullptr);
}

// The SOA serial: FNV-1a over the records, so that it changes when they do (and stays put
// across restarts, which a clock reading would not).
uint32_t Serial(const Records& records) {
  uint32_t hash = 2166136261u;
  const auto mix = [&hash](absl::string_view text) {
    for (const char c : text) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
    hash = (hash ^ 0xffu) * 16777619u;  // A separator, so that "ab","c" differs from "a","bc".
  };
  mix(records.zone);
  for (const auto& [name, addresses] : records.a) {
    mix(name);
    for (const std::string& a : addresses) mix(a);
  }
  for (const auto& [name, targets] : records.srv) {
    mix(name);
    for (const SrvTarget& t : targets) {
      mix(t.address);
      mix(absl::StrCat(t.port));
    }
  }
  for (const auto& [ns, view] : records.connect) {
    mix(ns);
    for (const auto& [address, search] : view.clients) {
      mix(address);
      mix(search);
    }
    for (const auto& [name, address] : view.aliases) {
      mix(name);
      mix(address);
    }
  }
  return hash;
}

// A Service Connect alias's answer: the question echoed, AA, an A record of `address` when A
// (or ANY) was asked, else no answer.
Reply AliasReply(const ldns_pkt* query, const ldns_rr* question, uint32_t address) {
  PktPtr reply(ldns_pkt_new());
  ldns_pkt* r = reply.get();
  ldns_pkt_set_id(r, ldns_pkt_id(query));
  ldns_pkt_set_qr(r, true);
  ldns_pkt_set_aa(r, true);
  ldns_pkt_set_rd(r, ldns_pkt_rd(query));
  ldns_pkt_set_ra(r, true);
  ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
  ldns_pkt_set_rcode(r, LDNS_RCODE_NOERROR);
  ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
  if (ldns_pkt_edns(query)) ldns_pkt_set_edns_udp_size(r, kOfferedUdpSize);
  const int type = ldns_rr_get_type(question);
  if (type == LDNS_RR_TYPE_A || type == LDNS_RR_TYPE_ANY) {
    ldns_rr* rr = ldns_rr_new();
    ldns_rr_set_owner(rr, ldns_rdf_clone(ldns_rr_owner(question)));
    ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, kRecordTtlSeconds);
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof(address), &address));
    ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
  }
  return Respond(Serialize(r));
}

size_t Limit(const ldns_pkt* query, Transport transport) {
  if (transport == Transport::kTcp) return kTcpLimit;
  if (!ldns_pkt_edns(query)) return kPlainUdpLimit;
  return std::max<size_t>(kPlainUdpLimit, ldns_pkt_edns_udp_size(query));
}

}  // namespace

// One response to one query in the zone: the sections from the responder's maps.
class ResponseBuilder {
 public:
  ResponseBuilder(const Responder& zone, const ldns_pkt* query, const ldns_rr* question,
                  std::string key)
      : zone_(zone), query_(query), question_(question), key_(std::move(key)) {}

  // The response in at most `limit` bytes: without the additional section when the whole does
  // not fit, and with TC and no records when even that does not.
  std::string Build(size_t limit) const {
    std::string wire = Serialize(Make(/*additional=*/true, /*truncated=*/false).get());
    if (wire.size() <= limit) return wire;
    wire = Serialize(Make(/*additional=*/false, /*truncated=*/false).get());
    if (wire.size() <= limit) return wire;
    return Serialize(Make(/*additional=*/false, /*truncated=*/true).get());
  }

 private:
  PktPtr Make(bool additional, bool truncated) const;
  void AddAnswers(ldns_pkt* reply, bool additional) const;
  ldns_rr* NewRr(const ldns_rdf* owner, ldns_rr_type type) const;
  ldns_rr* ARecord(const ldns_rdf* owner, uint32_t address) const;
  ldns_rr* Soa() const;
  void AddGlue(ldns_pkt* reply, const std::string& name) const;

  const Responder& zone_;
  const ldns_pkt* query_;
  const ldns_rr* question_;
  const std::string key_;
};

ldns_rr* ResponseBuilder::NewRr(const ldns_rdf* owner, ldns_rr_type type) const {
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
  ldns_rr_set_type(rr, type);
  ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr, kRecordTtlSeconds);
  return rr;
}

ldns_rr* ResponseBuilder::ARecord(const ldns_rdf* owner, uint32_t address) const {
  ldns_rr* rr = NewRr(owner, LDNS_RR_TYPE_A);
  ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof(address), &address));
  return rr;
}

ldns_rr* ResponseBuilder::Soa() const {
  RdfPtr apex = Dname(zone_.zone_);
  ldns_rr* rr = NewRr(apex.get(), LDNS_RR_TYPE_SOA);
  ldns_rr_push_rdf(rr, Dname(absl::StrCat("ns.", zone_.zone_)).release());
  ldns_rr_push_rdf(rr, Dname(absl::StrCat("hostmaster.", zone_.zone_)).release());
  ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, zone_.serial_));
  // Refresh, retry, expire: no secondaries read this zone. Minimum: the negative TTL.
  for (const uint32_t v : {60u, 60u, 3600u, static_cast<uint32_t>(kRecordTtlSeconds)}) {
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_PERIOD, v));
  }
  return rr;
}

void ResponseBuilder::AddGlue(ldns_pkt* reply, const std::string& name) const {
  const auto it = zone_.a_.find(name);
  if (it == zone_.a_.end()) return;
  RdfPtr owner = Dname(name);
  for (const uint32_t address : it->second) {
    ldns_pkt_push_rr(reply, LDNS_SECTION_ADDITIONAL, ARecord(owner.get(), address));
  }
}

void ResponseBuilder::AddAnswers(ldns_pkt* reply, bool additional) const {
  const ldns_rdf* owner = ldns_rr_owner(question_);  // As asked: the answer echoes its case.
  // An int: types and classes ldns has no name for are not values of its enums.
  const int type = ldns_rr_get_type(question_);
  const bool any = type == LDNS_RR_TYPE_ANY;
  if (any || type == LDNS_RR_TYPE_A) {
    if (const auto it = zone_.a_.find(key_); it != zone_.a_.end()) {
      for (const uint32_t address : it->second) {
        ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, ARecord(owner, address));
      }
    }
  }
  if (any || type == LDNS_RR_TYPE_SRV) {
    if (const auto it = zone_.srv_.find(key_); it != zone_.srv_.end()) {
      for (const Responder::Service& s : it->second) {
        ldns_rr* rr = NewRr(owner, LDNS_RR_TYPE_SRV);
        ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 0));  // priority
        ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 1));  // weight
        ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, s.port));
        ldns_rr_push_rdf(rr, Dname(s.target).release());
        ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, rr);
        if (additional) {
          RdfPtr target = Dname(s.target);
          ldns_pkt_push_rr(reply, LDNS_SECTION_ADDITIONAL, ARecord(target.get(), s.address));
        }
      }
    }
  }
  if (key_ != zone_.zone_) return;
  if (any || type == LDNS_RR_TYPE_SOA) ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, Soa());
  if (any || type == LDNS_RR_TYPE_NS) {
    ldns_rr* rr = NewRr(owner, LDNS_RR_TYPE_NS);
    ldns_rr_push_rdf(rr, Dname(absl::StrCat("ns.", zone_.zone_)).release());
    ldns_pkt_push_rr(reply, LDNS_SECTION_ANSWER, rr);
    if (additional) AddGlue(reply, absl::StrCat("ns.", zone_.zone_));
  }
}

PktPtr ResponseBuilder::Make(bool additional, bool truncated) const {
  PktPtr reply(ldns_pkt_new());
  ldns_pkt* r = reply.get();
  ldns_pkt_set_id(r, ldns_pkt_id(query_));
  ldns_pkt_set_qr(r, true);
  ldns_pkt_set_aa(r, true);
  ldns_pkt_set_rd(r, ldns_pkt_rd(query_));
  ldns_pkt_set_cd(r, ldns_pkt_cd(query_));
  ldns_pkt_set_ra(r, true);
  ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
  ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(question_));
  if (ldns_pkt_edns(query_)) ldns_pkt_set_edns_udp_size(r, kOfferedUdpSize);
  if (!zone_.names_.contains(key_)) {
    ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
    ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY, Soa());
    return reply;
  }
  ldns_pkt_set_rcode(r, LDNS_RCODE_NOERROR);
  if (truncated) {
    ldns_pkt_set_tc(r, true);
    return reply;
  }
  AddAnswers(r, additional);
  if (ldns_pkt_ancount(r) == 0) ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY, Soa());
  return reply;
}

Responder::Responder(const Records& records, const std::string& nameserver)
    : zone_(absl::AsciiStrToLower(records.zone)), serial_(Serial(records)) {
  const std::string dot_zone = absl::StrCat(".", zone_);
  const auto in_zone = [&](const std::string& name) {
    return name == zone_ || absl::EndsWith(name, dot_zone);
  };
  AddName(zone_);
  for (const auto& [name, addresses] : records.a) {
    const std::string key = absl::AsciiStrToLower(name);
    if (!in_zone(key)) continue;
    AddName(key);
    a_[key];  // A name with an empty list exists.
    for (const std::string& text : addresses) {
      in_addr parsed{};
      if (inet_pton(AF_INET, text.c_str(), &parsed) == 1) AddAddress(key, parsed.s_addr);
    }
  }
  for (const auto& [name, targets] : records.srv) {
    const std::string key = absl::AsciiStrToLower(name);
    if (!in_zone(key)) continue;
    AddName(key);
    std::vector<Service>& services = srv_[key];
    for (const SrvTarget& t : targets) {
      in_addr parsed{};
      if (inet_pton(AF_INET, t.address.c_str(), &parsed) != 1 || t.port < 1 || t.port > 65535) {
        continue;
      }
      Service s{absl::StrCat(AddressLabel(parsed.s_addr), ".", SrvBase(key)), parsed.s_addr,
                static_cast<uint16_t>(t.port)};
      AddName(s.target);
      AddAddress(s.target, s.address);
      services.push_back(std::move(s));
    }
  }
  AddViews(records);
  in_addr ns{};
  const std::string ns_name = absl::StrCat("ns.", zone_);
  if (inet_pton(AF_INET, nameserver.c_str(), &ns) == 1 && !names_.contains(ns_name)) {
    AddName(ns_name);
    AddAddress(ns_name, ns.s_addr);
  }
}

void Responder::AddViews(const Records& records) {
  for (const auto& [ns, connect] : records.connect) {
    View names;
    for (const auto& [name, text] : connect.aliases) {
      in_addr parsed{};
      if (inet_pton(AF_INET, text.c_str(), &parsed) == 1) {
        names[absl::AsciiStrToLower(name)] = parsed.s_addr;
      }
    }
    std::unordered_map<std::string, std::shared_ptr<const View>> by_search;
    for (const auto& [client, search] : connect.clients) {
      in_addr address{};
      if (inet_pton(AF_INET, client.c_str(), &address) != 1) continue;
      std::shared_ptr<const View>& view = by_search[search];
      if (view == nullptr) {
        auto made = std::make_shared<View>(names);
        const std::string suffix = absl::StrCat(".", absl::AsciiStrToLower(search));
        // "backend" asked by a client comes as "backend.CLUSTER.ZONE" first.
        for (const auto& [name, proxy] : names) made->emplace(name + suffix, proxy);
        view = std::move(made);
      }
      views_[address.s_addr] = view;
    }
  }
}

const Responder::View* Responder::ViewOf(uint32_t source) const {
  const auto it = views_.find(source);
  return it == views_.end() ? nullptr : it->second.get();
}

void Responder::AddAddress(const std::string& name, uint32_t address) {
  std::vector<uint32_t>& list = a_[name];
  if (std::find(list.begin(), list.end(), address) == list.end()) list.push_back(address);
}

// `name` and every name between it and the apex (the empty non-terminals).
void Responder::AddName(const std::string& name) {
  absl::string_view rest = name;
  while (names_.insert(std::string(rest)).second && rest.size() > zone_.size()) {
    const size_t dot = rest.find('.');
    if (dot == absl::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
}

Reply Responder::Answer(absl::string_view query, Transport transport, uint32_t source) const {
  const auto* data = reinterpret_cast<const uint8_t*>(query.data());
  ldns_pkt* parsed = nullptr;
  if (query.size() < LDNS_HEADER_SIZE ||
      ldns_wire2pkt(&parsed, data, query.size()) != LDNS_STATUS_OK) {
    return Unparseable(query);
  }
  const PktPtr q(parsed);
  if (ldns_pkt_qr(q.get())) return {};
  const uint16_t id = ldns_pkt_id(q.get());
  const bool rd = ldns_pkt_rd(q.get());
  if (const int opcode = LDNS_OPCODE_WIRE(data); opcode != LDNS_PACKET_QUERY) {
    return HeaderReply(id, rd, opcode, LDNS_RCODE_NOTIMPL, nullptr);
  }
  if (ldns_pkt_qdcount(q.get()) != 1) {
    return HeaderReply(id, rd, LDNS_PACKET_QUERY, LDNS_RCODE_FORMERR, nullptr);
  }
  const ldns_rr* question = ldns_rr_list_rr(ldns_pkt_question(q.get()), 0);
  RdfPtr name(ldns_rdf_clone(ldns_rr_owner(question)));
  ldns_dname2canonical(name.get());  // Lower case: ldns compares labels byte for byte.
  const int rr_class = ldns_rr_get_class(question);
  if (const View* view = ViewOf(source);
      view != nullptr && (rr_class == LDNS_RR_CLASS_IN || rr_class == LDNS_RR_CLASS_ANY)) {
    // Before the zone: an alias may lie in it, under the client's search domain.
    if (const auto alias = view->find(Key(name.get())); alias != view->end()) {
      return AliasReply(q.get(), question, alias->second);
    }
  }
  RdfPtr apex = Dname(zone_);
  if (ldns_dname_compare(name.get(), apex.get()) != 0 &&
      !ldns_dname_is_subdomain(name.get(), apex.get())) {
    return {Reply::Action::kForward, ""};
  }
  if (rr_class != LDNS_RR_CLASS_IN && rr_class != LDNS_RR_CLASS_ANY) {
    return HeaderReply(id, rd, LDNS_PACKET_QUERY, LDNS_RCODE_REFUSED, q.get());
  }
  const ResponseBuilder builder(*this, q.get(), question, Key(name.get()));
  return Respond(builder.Build(Limit(q.get(), transport)));
}

namespace {

PktPtr Parse(absl::string_view wire) {
  ldns_pkt* parsed = nullptr;
  if (wire.size() < LDNS_HEADER_SIZE ||
      ldns_wire2pkt(&parsed, reinterpret_cast<const uint8_t*>(wire.data()), wire.size()) !=
          LDNS_STATUS_OK) {
    return nullptr;
  }
  return PktPtr(parsed);
}

std::string Failure(absl::string_view query, ldns_pkt_rcode rcode) {
  const PktPtr q = Parse(query);
  if (q == nullptr) return "";
  return HeaderReply(ldns_pkt_id(q.get()), ldns_pkt_rd(q.get()), LDNS_PACKET_QUERY, rcode,
                     q.get())
      .wire;
}

}  // namespace

std::string ServerFailure(absl::string_view query) {
  return Failure(query, LDNS_RCODE_SERVFAIL);
}

std::string Refusal(absl::string_view query) { return Failure(query, LDNS_RCODE_REFUSED); }

bool AnswersQuery(absl::string_view query, absl::string_view response) {
  const PktPtr q = Parse(query);
  const PktPtr r = Parse(response);
  if (q == nullptr || r == nullptr || !ldns_pkt_qr(r.get())) return false;
  if (ldns_pkt_id(q.get()) != ldns_pkt_id(r.get())) return false;
  if (ldns_pkt_qdcount(q.get()) != 1 || ldns_pkt_qdcount(r.get()) != 1) return false;
  const ldns_rr* asked = ldns_rr_list_rr(ldns_pkt_question(q.get()), 0);
  const ldns_rr* answered = ldns_rr_list_rr(ldns_pkt_question(r.get()), 0);
  return static_cast<int>(ldns_rr_get_type(asked)) ==
             static_cast<int>(ldns_rr_get_type(answered)) &&
         static_cast<int>(ldns_rr_get_class(asked)) ==
             static_cast<int>(ldns_rr_get_class(answered)) &&
         ldns_dname_compare(ldns_rr_owner(asked), ldns_rr_owner(answered)) == 0;
}

}  // namespace skiff::discovery

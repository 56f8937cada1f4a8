#include "skiff/discovery/responder.h"

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "discovery/ldns_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/discovery/resolver.h"
#include "support/ldns_text.h"

namespace skiff::discovery {
namespace {

using ::skiff::testing::LdnsSection;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr uint16_t kId = 4242;

Records Sample() {
  Records r;
  r.a["web.default.skiff.internal"] = {"10.213.0.5", "10.213.0.6"};
  r.a["idle.default.skiff.internal"] = {};
  r.srv["_http._tcp.web.default.skiff.internal"] = {{"10.213.0.5", 8080}, {"10.213.0.6", 8081}};
  r.srv["_http._tcp.idle.default.skiff.internal"] = {};
  return r;
}

struct QueryOptions {
  ldns_rr_class rr_class = LDNS_RR_CLASS_IN;
  bool rd = true;
  uint16_t edns_size = 0;  // 0: no OPT record.
  ldns_pkt_opcode opcode = LDNS_PACKET_QUERY;
  bool qr = false;
};

PktPtr NewQuery(const std::string& name, ldns_rr_type type, const QueryOptions& o = {}) {
  PktPtr q(ldns_pkt_query_new(ldns_dname_new_frm_str(name.c_str()), type, o.rr_class,
                              o.rd ? LDNS_RD : 0));
  ldns_pkt_set_id(q.get(), kId);
  ldns_pkt_set_opcode(q.get(), o.opcode);
  ldns_pkt_set_qr(q.get(), o.qr);
  if (o.edns_size != 0) ldns_pkt_set_edns_udp_size(q.get(), o.edns_size);
  return q;
}

std::string Wire(const ldns_pkt* pkt) {
  uint8_t* data = nullptr;
  size_t size = 0;
  EXPECT_EQ(ldns_pkt2wire(&data, pkt, &size), LDNS_STATUS_OK);
  std::string out(reinterpret_cast<const char*>(data), size);
  free(data);
  return out;
}

std::string Query(const std::string& name, ldns_rr_type type, const QueryOptions& o = {}) {
  return Wire(NewQuery(name, type, o).get());
}

PktPtr Parse(const std::string& wire) {
  ldns_pkt* pkt = nullptr;
  EXPECT_EQ(ldns_wire2pkt(&pkt, reinterpret_cast<const uint8_t*>(wire.data()), wire.size()),
            LDNS_STATUS_OK);
  return PktPtr(pkt);
}

// The response to `query`, which must be one.
PktPtr Respond(const Responder& responder, const std::string& query,
               Transport transport = Transport::kUdp) {
  const Reply reply = responder.Answer(query, transport);
  EXPECT_EQ(reply.action, Reply::Action::kRespond);
  return Parse(reply.wire);
}

uint32_t Ip(const char* text) {
  in_addr parsed{};
  EXPECT_EQ(inet_pton(AF_INET, text, &parsed), 1);
  return parsed.s_addr;
}

// Service Connect: namespace "internal" with one client of cluster "default", one of "other".
Records WithAliases() {
  Records r = Sample();
  r.connect["internal"] = {
      .clients = {{"10.213.0.9", "default.skiff.internal"},
                  {"10.213.0.10", "other.skiff.internal"}},
      .aliases = {{"backend", "10.213.0.1"}, {"api.internal", "10.213.0.1"},
                  {"web.default.skiff.internal", "10.213.0.1"}}};
  r.connect["elsewhere"] = {.clients = {{"10.213.0.11", "default.skiff.internal"}},
                            .aliases = {{"db", "10.213.0.1"}}};
  return r;
}

std::vector<std::string> AnswerOf(const Responder& responder, const std::string& name,
                                  ldns_rr_type type, const char* source) {
  const Reply reply = responder.Answer(Query(name, type), Transport::kUdp, Ip(source));
  if (reply.action == Reply::Action::kForward) return {"forward"};
  const PktPtr r = Parse(reply.wire);
  std::vector<std::string> out = LdnsSection(r.get(), LDNS_SECTION_ANSWER);
  out.insert(out.begin(), ldns_pkt_get_rcode(r.get()) == LDNS_RCODE_NXDOMAIN ? "NXDOMAIN"
                                                                             : "NOERROR");
  return out;
}

TEST(ResponderTest, AnAliasAnswersOnlyItsNamespacesClientsInAndOutOfTheZone) {
  const Responder responder(WithAliases());
  EXPECT_TRUE(responder.Scoped(Ip("10.213.0.9")));
  EXPECT_FALSE(responder.Scoped(Ip("10.213.0.5")));
  // A client of the namespace: the dotted name as asked, and the bare one as its search
  // domain makes it.
  EXPECT_THAT(AnswerOf(responder, "api.internal.", LDNS_RR_TYPE_A, "10.213.0.9"),
              ElementsAre("NOERROR", "api.internal. 1 A 10.213.0.1"));
  EXPECT_THAT(AnswerOf(responder, "Backend.default.skiff.internal.", LDNS_RR_TYPE_A,
                       "10.213.0.9"),
              ElementsAre("NOERROR", "Backend.default.skiff.internal. 1 A 10.213.0.1"));
  EXPECT_THAT(AnswerOf(responder, "backend.", LDNS_RR_TYPE_A, "10.213.0.9"),
              ElementsAre("NOERROR", "backend. 1 A 10.213.0.1"));
  // The other cluster's client has its own search domain.
  EXPECT_THAT(AnswerOf(responder, "backend.other.skiff.internal.", LDNS_RR_TYPE_A,
                       "10.213.0.10"),
              ElementsAre("NOERROR", "backend.other.skiff.internal. 1 A 10.213.0.1"));
  EXPECT_THAT(AnswerOf(responder, "backend.default.skiff.internal.", LDNS_RR_TYPE_A,
                       "10.213.0.10"),
              ElementsAre("NXDOMAIN"));
  // An alias that is a service's name wins for the namespace's clients.
  EXPECT_THAT(AnswerOf(responder, "web.default.skiff.internal.", LDNS_RR_TYPE_A, "10.213.0.9"),
              ElementsAre("NOERROR", "web.default.skiff.internal. 1 A 10.213.0.1"));
  // AAAA: the name exists, without IPv6.
  EXPECT_THAT(AnswerOf(responder, "api.internal.", LDNS_RR_TYPE_AAAA, "10.213.0.9"),
              ElementsAre("NOERROR"));
}

TEST(ResponderTest, OtherSourcesGetWhatTheyWouldWithoutAliases) {
  const Responder responder(WithAliases());
  for (const char* source : {"10.213.0.5", "10.213.0.11", "0.0.0.0"}) {
    SCOPED_TRACE(source);
    EXPECT_THAT(AnswerOf(responder, "api.internal.", LDNS_RR_TYPE_A, source),
                ElementsAre("forward"));
    EXPECT_THAT(AnswerOf(responder, "backend.default.skiff.internal.", LDNS_RR_TYPE_A, source),
                ElementsAre("NXDOMAIN"));
    EXPECT_THAT(AnswerOf(responder, "web.default.skiff.internal.", LDNS_RR_TYPE_A, source),
                ElementsAre("NOERROR", "web.default.skiff.internal. 1 A 10.213.0.5",
                            "web.default.skiff.internal. 1 A 10.213.0.6"));
  }
  // The other namespace's client sees its own alias only.
  EXPECT_THAT(AnswerOf(responder, "db.default.skiff.internal.", LDNS_RR_TYPE_A, "10.213.0.11"),
              ElementsAre("NOERROR", "db.default.skiff.internal. 1 A 10.213.0.1"));
  EXPECT_THAT(AnswerOf(responder, "db.", LDNS_RR_TYPE_A, "10.213.0.9"), ElementsAre("forward"));
}

std::string Soa(const Responder& responder) {
  return LdnsSection(Respond(responder, Query("skiff.internal.", LDNS_RR_TYPE_SOA)).get(),
                 LDNS_SECTION_ANSWER)
      .at(0);
}

TEST(ResponderTest, AnswersAWithTheNameAsAskedTtlOneAndTheFlags) {
  const Responder responder(Sample());
  const PktPtr r = Respond(responder, Query("WEB.Default.skiff.internal.", LDNS_RR_TYPE_A));
  EXPECT_EQ(ldns_pkt_id(r.get()), kId);
  EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_NOERROR);
  EXPECT_TRUE(ldns_pkt_qr(r.get()));
  EXPECT_TRUE(ldns_pkt_aa(r.get()));
  EXPECT_TRUE(ldns_pkt_rd(r.get()));
  EXPECT_TRUE(ldns_pkt_ra(r.get()));
  EXPECT_FALSE(ldns_pkt_tc(r.get()));
  EXPECT_THAT(LdnsSection(r.get(), LDNS_SECTION_QUESTION),
              ElementsAre("WEB.Default.skiff.internal. 3600 A"));
  EXPECT_THAT(LdnsSection(r.get(), LDNS_SECTION_ANSWER),
              ElementsAre("WEB.Default.skiff.internal. 1 A 10.213.0.5",
                          "WEB.Default.skiff.internal. 1 A 10.213.0.6"));
}

TEST(ResponderTest, CopiesAClearedRdBit) {
  const Responder responder(Sample());
  const PktPtr r =
      Respond(responder, Query("web.default.skiff.internal.", LDNS_RR_TYPE_A, {.rd = false}));
  EXPECT_FALSE(ldns_pkt_rd(r.get()));
  EXPECT_TRUE(ldns_pkt_ra(r.get()));
}

TEST(ResponderTest, AnswersSrvWithTargetsThatResolveAndTheirAddressesAsAdditional) {
  const Responder responder(Sample());
  const PktPtr r =
      Respond(responder, Query("_http._tcp.web.default.skiff.internal.", LDNS_RR_TYPE_SRV));
  EXPECT_THAT(LdnsSection(r.get(), LDNS_SECTION_ANSWER),
              ElementsAre("_http._tcp.web.default.skiff.internal. 1 SRV 0 1 8080 "
                          "10-213-0-5.web.default.skiff.internal.",
                          "_http._tcp.web.default.skiff.internal. 1 SRV 0 1 8081 "
                          "10-213-0-6.web.default.skiff.internal."));
  EXPECT_THAT(LdnsSection(r.get(), LDNS_SECTION_ADDITIONAL),
              ElementsAre("10-213-0-5.web.default.skiff.internal. 1 A 10.213.0.5",
                          "10-213-0-6.web.default.skiff.internal. 1 A 10.213.0.6"));
  const PktPtr target =
      Respond(responder, Query("10-213-0-6.web.default.skiff.internal.", LDNS_RR_TYPE_A));
  EXPECT_THAT(LdnsSection(target.get(), LDNS_SECTION_ANSWER),
              ElementsAre("10-213-0-6.web.default.skiff.internal. 1 A 10.213.0.6"));
}

TEST(ResponderTest, NameWithoutDataOfTheTypeIsNodataWithTheSoa) {
  const Responder responder(Sample());
  for (const auto& [name, type] : std::vector<std::pair<std::string, ldns_rr_type>>{
           {"idle.default.skiff.internal.", LDNS_RR_TYPE_A},
           {"_http._tcp.idle.default.skiff.internal.", LDNS_RR_TYPE_SRV},
           {"web.default.skiff.internal.", LDNS_RR_TYPE_AAAA},
           {"web.default.skiff.internal.", LDNS_RR_TYPE_SRV},
           {"_http._tcp.web.default.skiff.internal.", LDNS_RR_TYPE_A}}) {
    const PktPtr r = Respond(responder, Query(name, type));
    EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_NOERROR) << name;
    EXPECT_TRUE(ldns_pkt_aa(r.get())) << name;
    EXPECT_EQ(ldns_pkt_ancount(r.get()), 0) << name;
    EXPECT_THAT(LdnsSection(r.get(), LDNS_SECTION_AUTHORITY), ElementsAre(Soa(responder))) << name;
  }
}

TEST(ResponderTest, SoaCarriesNegativeTtlOne) {
  const Responder responder(Sample());
  EXPECT_THAT(Soa(responder), ::testing::StartsWith("skiff.internal. 1 SOA ns.skiff.internal. "
                                                    "hostmaster.skiff.internal. "));
  EXPECT_THAT(Soa(responder), ::testing::EndsWith(" 60 60 3600 1"));
}

TEST(ResponderTest, EmptyNonTerminalsAreNodata) {
  const Responder responder(Sample());
  for (const std::string name : {"default.skiff.internal.", "_tcp.web.default.skiff.internal."}) {
    const PktPtr r = Respond(responder, Query(name, LDNS_RR_TYPE_A));
    EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_NOERROR) << name;
    EXPECT_EQ(ldns_pkt_ancount(r.get()), 0) << name;
    EXPECT_EQ(ldns_pkt_nscount(r.get()), 1) << name;
  }
}

TEST(ResponderTest, NamesThatDoNotExistAreNxdomainWithTheSoa) {
  const Responder responder(Sample());
  for (const std::string name :
       {"api.default.skiff.internal.", "x.web.default.skiff.internal.", "other.skiff.internal.",
        "10-213-0-7.web.default.skiff.internal."}) {
    const PktPtr r = Respond(responder, Query(name, LDNS_RR_TYPE_A));
    EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_NXDOMAIN) << name;
    EXPECT_TRUE(ldns_pkt_aa(r.get())) << name;
    EXPECT_THAT(LdnsSection(r.get(), LDNS_SECTION_AUTHORITY), ElementsAre(Soa(responder))) << name;
  }
}

TEST(ResponderTest, AnswersSoaAndNsAtTheApexWithTheNameserversAddress) {
  const Responder responder(Sample(), "10.213.0.1");
  // Lower case: ldns compresses names without regard to case, so the target of an answer to
  // "Skiff.Internal" reads "ns.Skiff.Internal" (the same name).
  const PktPtr ns = Respond(responder, Query("skiff.internal.", LDNS_RR_TYPE_NS));
  EXPECT_THAT(LdnsSection(ns.get(), LDNS_SECTION_ANSWER),
              ElementsAre("skiff.internal. 1 NS ns.skiff.internal."));
  EXPECT_THAT(LdnsSection(ns.get(), LDNS_SECTION_ADDITIONAL),
              ElementsAre("ns.skiff.internal. 1 A 10.213.0.1"));
  const PktPtr soa = Respond(responder, Query("skiff.internal.", LDNS_RR_TYPE_SOA));
  EXPECT_EQ(ldns_pkt_ancount(soa.get()), 1);
  EXPECT_TRUE(ldns_pkt_aa(soa.get()));
}

TEST(ResponderTest, AnyGivesEveryRecordOfTheName) {
  const Responder responder(Sample());
  const PktPtr r = Respond(responder, Query("web.default.skiff.internal.", LDNS_RR_TYPE_ANY));
  EXPECT_EQ(ldns_pkt_ancount(r.get()), 2);
  const PktPtr apex = Respond(responder, Query("skiff.internal.", LDNS_RR_TYPE_ANY));
  EXPECT_EQ(ldns_pkt_ancount(apex.get()), 2);  // SOA and NS.
}

TEST(ResponderTest, NamesOutsideTheZoneAreForwarded) {
  const Responder responder(Sample());
  for (const std::string name : {"example.com.", "notskiff.internal.", "internal.", "."}) {
    EXPECT_EQ(responder.Answer(Query(name, LDNS_RR_TYPE_A), Transport::kUdp).action,
              Reply::Action::kForward)
        << name;
  }
  // CHAOS outside the zone (version.bind) is the upstream's business too.
  EXPECT_EQ(responder
                .Answer(Query("version.bind.", LDNS_RR_TYPE_TXT, {.rr_class = LDNS_RR_CLASS_CH}),
                        Transport::kUdp)
                .action,
            Reply::Action::kForward);
}

TEST(ResponderTest, ClassesOtherThanInAreRefusedInTheZone) {
  const Responder responder(Sample());
  const PktPtr chaos = Respond(responder, Query("web.default.skiff.internal.", LDNS_RR_TYPE_A,
                                                {.rr_class = LDNS_RR_CLASS_CH}));
  EXPECT_EQ(ldns_pkt_get_rcode(chaos.get()), LDNS_RCODE_REFUSED);
  EXPECT_EQ(ldns_pkt_id(chaos.get()), kId);
  const PktPtr any = Respond(responder, Query("web.default.skiff.internal.", LDNS_RR_TYPE_A,
                                              {.rr_class = LDNS_RR_CLASS_ANY}));
  EXPECT_EQ(ldns_pkt_ancount(any.get()), 2);
}

TEST(ResponderTest, GarbageGetsFormerrWhenItHasAnIdElseNothing) {
  const Responder responder(Sample());
  std::string garbage = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff\xff";
  garbage[1] = '\x34';
  const PktPtr r = Respond(responder, garbage);
  EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_FORMERR);
  EXPECT_EQ(ldns_pkt_id(r.get()), 0x1234);
  EXPECT_TRUE(ldns_pkt_qr(r.get()));
  EXPECT_TRUE(ldns_pkt_rd(r.get()));
  EXPECT_EQ(responder.Answer("\x12\x34\x01", Transport::kUdp).action, Reply::Action::kRespond);
  EXPECT_EQ(responder.Answer("\x12", Transport::kUdp).action, Reply::Action::kDrop);
  EXPECT_EQ(responder.Answer("", Transport::kUdp).action, Reply::Action::kDrop);
  // A response that cannot be parsed gets nothing either.
  EXPECT_EQ(responder.Answer(std::string("\x12\x34\x81\x00\x00\x05", 6), Transport::kUdp).action,
            Reply::Action::kDrop);
}

TEST(ResponderTest, TwoQuestionsAreFormerr) {
  const Responder responder(Sample());
  PktPtr q = NewQuery("web.default.skiff.internal.", LDNS_RR_TYPE_A);
  ldns_rr* second = ldns_rr_new();
  ldns_rr_set_owner(second, ldns_dname_new_frm_str("idle.default.skiff.internal."));
  ldns_rr_set_question(second, true);
  ldns_pkt_push_rr(q.get(), LDNS_SECTION_QUESTION, second);
  const PktPtr r = Respond(responder, Wire(q.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_FORMERR);
  EXPECT_EQ(ldns_pkt_id(r.get()), kId);
  PktPtr none = NewQuery("web.default.skiff.internal.", LDNS_RR_TYPE_A);
  ldns_rr_list_deep_free(ldns_pkt_question(none.get()));
  ldns_pkt_set_question(none.get(), ldns_rr_list_new());
  ldns_pkt_set_qdcount(none.get(), 0);
  EXPECT_EQ(ldns_pkt_get_rcode(Respond(responder, Wire(none.get())).get()), LDNS_RCODE_FORMERR);
}

TEST(ResponderTest, OpcodesOtherThanQueryAreNotImplemented) {
  const Responder responder(Sample());
  const PktPtr r = Respond(responder, Query("web.default.skiff.internal.", LDNS_RR_TYPE_A,
                                            {.opcode = LDNS_PACKET_UPDATE}));
  EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(ldns_pkt_get_opcode(r.get()), LDNS_PACKET_UPDATE);
}

TEST(ResponderTest, ResponsesAreDropped) {
  const Responder responder(Sample());
  EXPECT_EQ(responder
                .Answer(Query("web.default.skiff.internal.", LDNS_RR_TYPE_A, {.qr = true}),
                        Transport::kUdp)
                .action,
            Reply::Action::kDrop);
}

Records Many(int count) {
  Records r;
  std::vector<std::string>& list = r.a["big.default.skiff.internal"];
  std::vector<SrvTarget>& targets = r.srv["_x._tcp.big.default.skiff.internal"];
  for (int i = 0; i < count; ++i) {
    list.push_back(absl::StrCat("10.213.", i / 250, ".", i % 250 + 1));
    targets.push_back({list.back(), 80});
  }
  return r;
}

TEST(ResponderTest, UdpAnswersThatDoNotFitSetTcAndTcpGetsThemWhole) {
  const Responder responder(Many(100));
  const std::string name = "big.default.skiff.internal.";
  const PktPtr plain = Respond(responder, Query(name, LDNS_RR_TYPE_A));
  EXPECT_TRUE(ldns_pkt_tc(plain.get()));
  EXPECT_EQ(ldns_pkt_ancount(plain.get()), 0);
  EXPECT_LE(responder.Answer(Query(name, LDNS_RR_TYPE_A), Transport::kUdp).wire.size(), 512);
  // EDNS sizes below 512 count as 512; 4096 holds 100 addresses (1,600 bytes).
  EXPECT_TRUE(ldns_pkt_tc(
      Respond(responder, Query(name, LDNS_RR_TYPE_A, {.edns_size = 100})).get()));
  const PktPtr edns = Respond(responder, Query(name, LDNS_RR_TYPE_A, {.edns_size = 4096}));
  EXPECT_FALSE(ldns_pkt_tc(edns.get()));
  EXPECT_EQ(ldns_pkt_ancount(edns.get()), 100);
  EXPECT_EQ(ldns_pkt_edns_udp_size(edns.get()), kOfferedUdpSize);
  const PktPtr tcp = Respond(responder, Query(name, LDNS_RR_TYPE_A), Transport::kTcp);
  EXPECT_FALSE(ldns_pkt_tc(tcp.get()));
  EXPECT_EQ(ldns_pkt_ancount(tcp.get()), 100);
}

TEST(ResponderTest, SrvThatFitsOnlyWithoutItsAdditionalsDropsThemFirst) {
  const Responder responder(Many(20));
  const PktPtr r = Respond(responder, Query("_x._tcp.big.default.skiff.internal.",
                                            LDNS_RR_TYPE_SRV, {.edns_size = 1232}));
  EXPECT_FALSE(ldns_pkt_tc(r.get()));
  EXPECT_EQ(ldns_pkt_ancount(r.get()), 20);
  EXPECT_EQ(ldns_pkt_arcount(r.get()), 0);
}

TEST(ResponderTest, ServerFailureAndRefusalEchoTheQuestion) {
  const std::string query = Query("example.com.", LDNS_RR_TYPE_A);
  const PktPtr fail = Parse(ServerFailure(query));
  EXPECT_EQ(ldns_pkt_get_rcode(fail.get()), LDNS_RCODE_SERVFAIL);
  EXPECT_EQ(ldns_pkt_id(fail.get()), kId);
  EXPECT_EQ(ldns_pkt_qdcount(fail.get()), 1);
  EXPECT_EQ(ldns_pkt_get_rcode(Parse(Refusal(query)).get()), LDNS_RCODE_REFUSED);
  EXPECT_EQ(ServerFailure("junk"), "");
}

TEST(ResponderTest, AnswersQueryMatchesIdAndQuestion) {
  const std::string query = Query("example.com.", LDNS_RR_TYPE_A);
  EXPECT_TRUE(AnswersQuery(query, ServerFailure(Query("EXAMPLE.com.", LDNS_RR_TYPE_A))));
  EXPECT_FALSE(AnswersQuery(query, query));  // Not a response.
  EXPECT_FALSE(AnswersQuery(query, ServerFailure(Query("example.org.", LDNS_RR_TYPE_A))));
  EXPECT_FALSE(AnswersQuery(query, ServerFailure(Query("example.com.", LDNS_RR_TYPE_AAAA))));
}

TEST(ResolverConfigTest, ParsesAddressesAndResolvConf) {
  absl::StatusOr<sockaddr_in> a = ParseAddress("10.0.0.2", 53);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(ntohs(a->sin_port), 53);
  EXPECT_EQ(ntohs(ParseAddress("127.0.0.1:5353", 53)->sin_port), 5353);
  EXPECT_EQ(ParseAddress("::1", 53).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAddress("1.2.3.4:99999", 53).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAddress("1.2.3.4", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ResolvConfNameservers("search x\nnameserver 127.0.0.53\nnameserver ::1\n"
                                    "nameserver\t10.0.0.2\nnameserver 1.1.1.1\n"
                                    "nameserver 8.8.8.8\n"),
              ElementsAre("127.0.0.53", "10.0.0.2", "1.1.1.1"));
}

}  // namespace
}  // namespace skiff::discovery

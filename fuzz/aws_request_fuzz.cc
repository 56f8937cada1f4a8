// aws_request_fuzz: the AWS JSON 1.1 edge on arbitrary requests, as the HTTP server hands them
// over: AwsJsonApi::Handle (SigV4 verification, routing by X-Amz-Target, the JSON body decoded
// into the operation's request shape, the answer encoded) over a table of every ECS operation
// whose rows answer at once, on the manual loop at a simulated time.
//
// The input: one byte of flags, then the request as text,
//   METHOD SP TARGET LF          TARGET is the raw path, then ?query when there is one
//   NAME ":" VALUE LF ...        headers (CR before LF dropped; a line without ':' is a name)
//   LF
//   BODY                         the rest, bytes as they are
// Flag 1: sign the request with the table's key before handling it (aws::SignV4), so that the
// fuzzer gets past the signature to routing and decoding; without it the Authorization header is
// the fuzzer's. Flag 2: the operation fails (an internal error) instead of answering.
//
// Every request must get exactly one answer, at once: a 200 whose body is a JSON object, or a
// 4xx/5xx whose body is a JSON object with "__type" and "message" strings. Anything else, a
// crash or a sanitizer report is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "api/aws_json.h"
#include "api/ecs_operations.h"
#include "api/http_server.h"
#include "api/operation_table.h"
#include "fakes/manual_event_loop.h"
#include "nlohmann/json.hpp"
#include "skiff/aws/sigv4.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "spdlog/spdlog.h"

namespace skiff::api {
namespace {

constexpr uint8_t kSign = 1;
constexpr uint8_t kFail = 2;

const aws::Credential kKey{"AKIASKIFFFUZZKEY0001", "c2tpZmYtZnV6ei1zZWNyZXQta2V5LW5vdC1yZWFsMDA"};

bool fail_operations = false;  // Flag 2 of the current input.

// Every ECS operation, with the rows' shapes and fake answers: an empty response, or an
// internal error when the input asks for one.
std::vector<Operation> FakeRows() {
  std::vector<Operation> rows = EcsOperations({}).rows();  // Null backends: only the shapes.
  for (Operation& row : rows) {
    row.run = [response = row.response](const Message&) -> Reply {
      if (fail_operations) return absl::InternalError("fuzz: the operation failed");
      return std::unique_ptr<Message>(response->New());
    };
  }
  return rows;
}

struct Fixture {
  Fixture() { spdlog::set_level(spdlog::level::off); }  // The failing rows would log each call.

  SimulatedClock clock{absl::FromUnixSeconds(1796000000)};
  fakes::ManualEventLoop loop{&clock};
  SeededRandom random{7};
  OperationTable table{FakeRows()};
  AwsJsonApi api{{EcsService(&table)}, &loop, {.keys = {kKey}, .clock = &clock, .random = &random}};
};

HttpRequest ParseRequest(absl::string_view text) {
  HttpRequest request;
  const size_t head_end = text.find("\n\n");
  const absl::string_view head = text.substr(0, head_end);
  if (head_end != absl::string_view::npos) request.body = std::string(text.substr(head_end + 2));
  bool first = true;
  for (absl::string_view line : absl::StrSplit(head, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    if (first) {
      first = false;
      const std::pair<absl::string_view, absl::string_view> words =
          absl::StrSplit(line, absl::MaxSplits(' ', 1));
      request.method = std::string(words.first);
      const std::pair<absl::string_view, absl::string_view> target =
          absl::StrSplit(words.second, absl::MaxSplits('?', 1));
      request.path = std::string(target.first);
      request.query = std::string(target.second);
      continue;
    }
    const std::pair<absl::string_view, absl::string_view> header =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    request.headers.emplace_back(std::string(header.first),
                                 std::string(absl::StripLeadingAsciiWhitespace(header.second)));
  }
  request.peer = "127.0.0.1";
  return request;
}

void Sign(HttpRequest& request, absl::Time now) {
  aws::SignedRequest signed_request{.method = request.method,
                                    .path = request.path,
                                    .query = request.query,
                                    .headers = request.headers,
                                    .body = request.body};
  aws::SignV4(signed_request, kKey, "us-west-2", "ecs", now);
  request.headers = std::move(signed_request.headers);
}

[[noreturn]] void Finding(const std::string& what, const HttpResponse& answer) {
  std::fprintf(stderr, "aws_request_fuzz: %s (status %d)\n%s\n", what.c_str(), answer.status,
               answer.body.c_str());
  std::abort();
}

void CheckAnswer(const HttpResponse& answer) {
  const nlohmann::json body = nlohmann::json::parse(answer.body, nullptr, false);
  if (!body.is_object()) Finding("the body is not a JSON object", answer);
  if (answer.status == 200) return;
  if (answer.status < 400 || answer.status > 599) Finding("not 200, 4xx or 5xx", answer);
  const auto type = body.find("__type");
  const auto message = body.find("message");
  if (type == body.end() || !type->is_string() || type->get<std::string>().empty()) {
    Finding("an error without a __type", answer);
  }
  if (message == body.end() || !message->is_string()) Finding("an error without a message", answer);
}

}  // namespace
}  // namespace skiff::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace skiff::api;  // NOLINT: the entry point is outside the namespace by contract.
  static Fixture* const fixture = new Fixture();
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  HttpRequest request =
      ParseRequest(absl::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (flags & kSign) Sign(request, fixture->clock.Now());
  fail_operations = (flags & kFail) != 0;

  std::optional<HttpResponse> answer;
  int answers = 0;
  fixture->api.Handle(std::move(request), [&answer, &answers](HttpResponse response) {
    ++answers;
    if (response.render_body) response.body = response.render_body();  // As the server does.
    answer = std::move(response);
  });
  fixture->loop.RunPending();
  if (answers != 1) {
    std::fprintf(stderr, "aws_request_fuzz: %d answers\n", answers);
    std::abort();
  }
  CheckAnswer(*answer);
  return 0;
}

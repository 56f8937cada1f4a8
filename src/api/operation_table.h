// The API's operations, one row each: what an operation is called, the shape of its request and
// the backend method that answers it on the control loop. Both transports serve the same rows:
// the gRPC service skiff.v1.Ecs on the Unix socket (grpc_service.h) and the AWS JSON 1.1
// protocol over HTTP (aws_json.h). A new operation is one row. Private to the api component.
#ifndef SKIFF_SRC_API_OPERATION_TABLE_H_
#define SKIFF_SRC_API_OPERATION_TABLE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::api {

using Message = google::protobuf::Message;
using Reply = absl::StatusOr<std::unique_ptr<Message>>;

struct Operation {
  std::string name;  // As AWS names it, which is also the gRPC method's name: "RunTask".
  // The request's default instance: request->New() makes one to decode into.
  const Message* request = nullptr;
  const Message* response = nullptr;  // The response's default instance.
  // Answers a request made from `request` (of that type); runs on the loop thread.
  std::function<Reply(const Message&)> run;
};

// A row for `method` of `backend`, which must outlive the row.
template <typename Request, typename Response, typename Backend>
Operation Row(std::string name, Backend* backend,
              absl::StatusOr<Response> (Backend::*method)(const Request&)) {
  return {.name = std::move(name),
          .request = &Request::default_instance(),
          .response = &Response::default_instance(),
          .run = [backend, method](const Message& request) -> Reply {
            absl::StatusOr<Response> response =
                (backend->*method)(static_cast<const Request&>(request));
            if (!response.ok()) return response.status();
            return std::make_unique<Response>(*std::move(response));
          }};
}

class OperationTable {
 public:
  explicit OperationTable(std::vector<Operation> rows);

  // Null when no row has that name.
  const Operation* Find(absl::string_view name) const;
  const std::vector<Operation>& rows() const { return rows_; }

 private:
  std::vector<Operation> rows_;
  absl::flat_hash_map<std::string, const Operation*> by_name_;
};

// Runs `operation` on the loop with `request` (made from operation.request), then hands its reply
// to `done`, on the loop thread. Errors of the node rather than of the request (internal, data
// loss, unavailable) are logged there too. False when the loop refuses the work (it is stopping):
// `done` never runs then.
bool RunOnLoop(scheduler::EventLoop* loop, const Operation& operation,
               std::unique_ptr<Message> request, std::function<void(Reply)> done);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_OPERATION_TABLE_H_

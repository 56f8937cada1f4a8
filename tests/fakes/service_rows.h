// ServiceRows: an operation table's rows for every method of a proto service, for tests of the
// api component's gRPC side. Each row answers an empty response but the one given.
#ifndef SKIFF_TESTS_FAKES_SERVICE_ROWS_H_
#define SKIFF_TESTS_FAKES_SERVICE_ROWS_H_

#include <memory>
#include <string>
#include <vector>

#include "api/operation_table.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace skiff::fakes {

// The rows of the service named `name` (as "skiff.v1.Ecs"): `row` for its method, an empty
// response for the others.
inline std::vector<api::Operation> ServiceRows(const std::string& name, api::Operation row) {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  std::vector<api::Operation> rows;
  for (int i = 0; i < service->method_count(); ++i) {
    const auto* method = service->method(i);
    if (method->name() == row.name) {
      rows.push_back(row);
      continue;
    }
    const api::Message* response = factory->GetPrototype(method->output_type());
    rows.push_back({.name = method->name(),
                    .request = factory->GetPrototype(method->input_type()),
                    .response = response,
                    .run = [response](const api::Message&) -> api::Reply {
                      return std::unique_ptr<api::Message>(response->New());
                    }});
  }
  return rows;
}

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_SERVICE_ROWS_H_

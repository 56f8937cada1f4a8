// A thin RAII layer over the SQLite C API for the store: a connection, prepared statements with
// bound parameters, and errors as absl::Status. Not thread-safe; the store's owner calls it.
#ifndef SKIFF_STORE_SQLITE_H_
#define SKIFF_STORE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skiff::store {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  absl::Status Bind(const std::vector<SqlValue>& params);
  // Steps once: true with a row, false when done.
  absl::StatusOr<bool> Step();

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string Text(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Database {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();

  // Runs one or more statements without results.
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<std::unique_ptr<Statement>> Prepare(absl::string_view sql,
                                                     const std::vector<SqlValue>& params = {});
  // Prepare, step to completion, discard rows.
  absl::Status Run(absl::string_view sql, const std::vector<SqlValue>& params = {});
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int changes() const { return sqlite3_changes(db_); }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// The status for a SQLite result code; disk-full and I/O errors say so, corruption is DataLoss.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what);

}  // namespace skiff::store

#endif  // SKIFF_STORE_SQLITE_H_

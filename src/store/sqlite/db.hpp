#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"

namespace paygate::store::sqlite {

// A prepared statement, reset on every use. Column/bind indexes follow SQLite (bind from 1).
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return *this;
  }
  // Text and blobs are bound without a copy (SQLITE_STATIC): they must outlive the step, which
  // every caller runs before its arguments go out of scope. Temporaries do not compile.
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind(int i, std::string&& v) = delete;
  Stmt& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind_blob(int i, std::string&& v) = delete;
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::optional<int64_t> v) {
    if (v) sqlite3_bind_int64(s_, i, *v);
    else sqlite3_bind_null(s_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : "";
  }
  std::string blob(int col) const {
    auto p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : "";
  }
  int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

 private:
  sqlite3_stmt* s_;
};

class Db {
 public:
  // vfs: a registered VFS name, or nullptr for SQLite's default.
  [[nodiscard]] static core::Result<std::unique_ptr<Db>> open(const std::string& path, bool readonly,
                                                              int busy_timeout_ms,
                                                              const char* vfs = nullptr);
  ~Db();
  [[nodiscard]] core::Result<void> exec(const char* sql);
  // Cached per SQL text; the statement comes back reset.
  [[nodiscard]] core::Result<Stmt*> prepare(const char* sql);
  // One statement without results through the statement cache (BEGIN, SAVEPOINT, COMMIT...),
  // so the hot path does not parse SQL again.
  [[nodiscard]] core::Result<void> run(const char* sql);
  core::Error error(std::string_view what) const;
  // Resets every cached statement: a stepped-but-unreset SELECT would pin its read snapshot.
  void reset_all() {
    for (auto& [sql, st] : cache_) st->reset();
  }
  sqlite3* raw() const { return db_; }
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> cache_;
};

}  // namespace paygate::store::sqlite

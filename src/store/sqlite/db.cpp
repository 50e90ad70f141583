#include "store/sqlite/db.hpp"

namespace paygate::store::sqlite {

core::Result<std::unique_ptr<Db>> Db::open(const std::string& path, bool readonly,
                                           int busy_timeout_ms, const char* vfs) {
  auto db = std::make_unique<Db>();
  const int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                    SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db->db_, flags, vfs) != SQLITE_OK) {
    auto err = db->error("open " + path);
    return tl::unexpected(err);
  }
  sqlite3_busy_timeout(db->db_, busy_timeout_ms);
  sqlite3_extended_result_codes(db->db_, 1);
  return db;
}

Db::~Db() {
  cache_.clear();
  if (db_) sqlite3_close_v2(db_);
}

core::Result<void> Db::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string detail = msg ? msg : "";
    sqlite3_free(msg);
    return core::fail(core::ErrorCode::kStoreUnavailable, detail);
  }
  return {};
}

core::Result<Stmt*> Db::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return &it->second->reset();
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return tl::unexpected(error("prepare"));
  }
  auto [pos, _] = cache_.emplace(sql, std::make_unique<Stmt>(s));
  return pos->second.get();
}

core::Result<void> Db::run(const char* sql) {
  auto st = prepare(sql);
  if (!st) return tl::unexpected(st.error());
  const int rc = (*st)->step();
  (*st)->reset();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return tl::unexpected(error(sql));
  return {};
}

core::Error Db::error(std::string_view what) const {
  std::string detail(what);
  detail += ": ";
  detail += db_ ? sqlite3_errmsg(db_) : "no database";
  return core::Error{core::ErrorCode::kStoreUnavailable, detail};
}

}  // namespace paygate::store::sqlite

#include "support/db.hpp"

#include <sqlite3.h>

namespace paygate::testing {

namespace {

// Runs `read` on the first row of `sql` over a read-only connection; false when there is none.
template <typename Read>
bool first_row(const std::filesystem::path& db, const std::string& sql, Read read) {
  sqlite3* h = nullptr;
  sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  bool found = false;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    read(st);
    found = true;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return found;
}

}  // namespace

int64_t scalar(const std::filesystem::path& db, const std::string& sql) {
  int64_t v = -1;
  first_row(db, sql, [&](sqlite3_stmt* st) { v = sqlite3_column_int64(st, 0); });
  return v;
}

std::string text(const std::filesystem::path& db, const std::string& sql) {
  std::string v;
  first_row(db, sql, [&](sqlite3_stmt* st) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    if (p) v.assign(p, static_cast<std::size_t>(sqlite3_column_bytes(st, 0)));
  });
  return v;
}

std::vector<std::string> rows(const std::filesystem::path& db, const std::string& sql) {
  std::vector<std::string> out;
  sqlite3* c = nullptr;
  if (sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(c, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        std::string row;
        for (int i = 0; i < sqlite3_column_count(st); ++i) {
          if (i) row += '|';
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
          if (p) row += p;
        }
        out.push_back(std::move(row));
      }
    } else {
      out.push_back(std::string("error: ") + sqlite3_errmsg(c));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(c);
  return out;
}

}  // namespace paygate::testing

#include "store/sqlite/sqlite_store.hpp"

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fcntl.h>
#include <limits>
#include <mutex>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "store/sqlite/db.hpp"
#include "store/sqlite/deliveries.hpp"
#include "store/sqlite/schema.hpp"
#include "store/sqlite/wal_vfs.hpp"

namespace paygate::store {
namespace {

using core::ErrorCode;
using core::fail;
using core::Result;
using sqlite::Db;
using sqlite::Stmt;

Result<void> expect_done(Db& db, Stmt& st, const char* what) {
  const int rc = st.step();
  if (rc != SQLITE_DONE) return tl::unexpected(db.error(what));
  return {};
}

core::Order read_order(const Stmt& s) {
  core::Order o;
  o.merchant = s.text(0);
  o.out_trade_no = s.text(1);
  o.amount = s.i64(2);
  o.currency = s.text(3);
  o.description = s.text(4);
  if (!s.is_null(5)) o.expires_at = s.i64(5);
  o.state = core::parse_order_state(s.text(6)).value_or(core::OrderState::kPending);
  o.refunded = s.i64(7);
  o.provider = s.text(8);
  o.transaction_id = s.text(9);
  o.paid_at = s.text(10);
  o.created_at_ms = s.i64(11);
  o.updated_at_ms = s.i64(12);
  return o;
}

constexpr const char* kOrderColumns =
    "merchant, out_trade_no, amount, currency, description, expires_at, state, refunded, "
    "provider, transaction_id, paid_at, created_at_ms, updated_at_ms";

core::Refund read_refund(const Stmt& s) {
  core::Refund r;
  r.merchant = s.text(0);
  r.out_refund_no = s.text(1);
  r.out_trade_no = s.text(2);
  r.refund_id = s.text(3);
  r.amount = s.i64(4);
  auto st = s.text(5);
  r.status = st == "SUCCESS"      ? core::RefundStatus::kSucceeded
             : st == "CLOSED"     ? core::RefundStatus::kClosed
             : st == "PROCESSING" ? core::RefundStatus::kProcessing
                                  : core::RefundStatus::kAbnormal;
  r.success_time = s.text(6);
  return r;
}

InboxStatus parse_inbox_status(const std::string& s) {
  if (s == "applied") return InboxStatus::kApplied;
  if (s == "noop") return InboxStatus::kNoop;
  if (s == "anomaly") return InboxStatus::kAnomaly;
  return InboxStatus::kProcessing;
}

constexpr const char* kInboxColumns =
    "id, provider, merchant, notification_id, business_key, event_type, out_trade_no, headers, "
    "body, decoded, status, anomaly_code, detail, received_at_ms, redrives, source";

InboxEntry read_inbox(const Stmt& s) {
  InboxEntry e;
  e.id = s.i64(0);
  e.provider = s.text(1);
  e.merchant = s.text(2);
  e.notification_id = s.text(3);
  e.business_key = s.text(4);
  e.event_type = s.text(5);
  e.out_trade_no = s.text(6);
  e.headers_json = s.text(7);
  e.body = s.blob(8);
  e.decoded_json = s.text(9);
  e.status = parse_inbox_status(s.text(10));
  e.anomaly_code = s.text(11);
  e.detail = s.text(12);
  e.received_at_ms = s.i64(13);
  e.redrives = s.i64(14);
  e.source = s.text(15);
  return e;
}

// Queries shared by the writer (inside transactions) and the reader connection.
Result<std::optional<core::Order>> query_order(Db& db, std::string_view merchant,
                                               std::string_view out_trade_no) {
  static const std::string sql = std::string("SELECT ") + kOrderColumns +
                                 " FROM orders WHERE merchant = ?1 AND out_trade_no = ?2";
  auto st = db.prepare(sql.c_str());
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, merchant).bind(2, out_trade_no);
  const int rc = (*st)->step();
  if (rc == SQLITE_ROW) return read_order(**st);
  if (rc == SQLITE_DONE) return std::optional<core::Order>{};
  return tl::unexpected(db.error("find order"));
}

Result<std::optional<InboxEntry>> query_inbox(Db& db, int64_t id) {
  static const std::string sql = std::string("SELECT ") + kInboxColumns + " FROM inbox WHERE id = ?1";
  auto st = db.prepare(sql.c_str());
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, id);
  const int rc = (*st)->step();
  if (rc == SQLITE_ROW) return read_inbox(**st);
  if (rc == SQLITE_DONE) return std::optional<InboxEntry>{};
  return tl::unexpected(db.error("find inbox"));
}

Result<std::optional<Payment>> query_payment(Db& db, std::string_view merchant,
                                             std::string_view out_trade_no) {
  auto st = db.prepare(
      "SELECT merchant, out_trade_no, provider, method, request, status, result, error_code, "
      "error_message, trade_state, attempts, created_at_ms, updated_at_ms FROM payments "
      "WHERE merchant = ?1 AND out_trade_no = ?2");
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, merchant).bind(2, out_trade_no);
  const int rc = (*st)->step();
  if (rc == SQLITE_DONE) return std::optional<Payment>{};
  if (rc != SQLITE_ROW) return tl::unexpected(db.error("find payment"));
  const Stmt& s = **st;
  Payment p;
  p.merchant = s.text(0);
  p.out_trade_no = s.text(1);
  p.provider = s.text(2);
  p.method = s.text(3);
  p.request = s.text(4);
  p.status = parse_payment_status(s.text(5)).value_or(PaymentStatus::kUnknown);
  p.result = s.text(6);
  p.error_code = s.text(7);
  p.error_message = s.text(8);
  p.trade_state = s.text(9);
  p.attempts = static_cast<int>(s.i64(10));
  p.created_at_ms = s.i64(11);
  p.updated_at_ms = s.i64(12);
  return std::optional<Payment>(std::move(p));
}

Result<std::optional<RefundRequest>> query_refund_request(Db& db, std::string_view merchant,
                                                         std::string_view out_refund_no) {
  auto st = db.prepare(
      "SELECT merchant, out_refund_no, out_trade_no, provider, request, status, error_code, "
      "error_message, refund_status, attempts, created_at_ms, updated_at_ms FROM refund_requests "
      "WHERE merchant = ?1 AND out_refund_no = ?2");
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, merchant).bind(2, out_refund_no);
  const int rc = (*st)->step();
  if (rc == SQLITE_DONE) return std::optional<RefundRequest>{};
  if (rc != SQLITE_ROW) return tl::unexpected(db.error("find refund request"));
  const Stmt& s = **st;
  RefundRequest r;
  r.merchant = s.text(0);
  r.out_refund_no = s.text(1);
  r.out_trade_no = s.text(2);
  r.provider = s.text(3);
  r.request = s.text(4);
  r.status = parse_payment_status(s.text(5)).value_or(PaymentStatus::kUnknown);
  r.error_code = s.text(6);
  r.error_message = s.text(7);
  r.refund_status = s.text(8);
  r.attempts = static_cast<int>(s.i64(9));
  r.created_at_ms = s.i64(10);
  r.updated_at_ms = s.i64(11);
  return std::optional<RefundRequest>(std::move(r));
}

// Orders per state, changed by one unit of work or one transaction.
using CountDeltas = std::array<int64_t, 5>;
static_assert(static_cast<std::size_t>(core::OrderState::kClosed) + 1 == CountDeltas{}.size());

void count(CountDeltas& d, core::OrderState s, int64_t n) { d[static_cast<std::size_t>(s)] += n; }

class SqliteTx final : public Tx {
 public:
  SqliteTx(Db& db, CountDeltas& counts) : db_(db), counts_(counts) {}

  Result<std::optional<int64_t>> insert_inbox(const InboxEntry& e) override {
    auto st = db_.prepare(
        "INSERT INTO inbox (provider, merchant, notification_id, business_key, event_type, "
        "out_trade_no, headers, body, decoded, status, anomaly_code, detail, received_at_ms, "
        "source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
        "ON CONFLICT DO NOTHING");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, e.provider).bind(2, e.merchant).bind(3, e.notification_id)
        .bind(4, e.business_key).bind(5, e.event_type).bind(6, e.out_trade_no)
        .bind(7, e.headers_json).bind_blob(8, e.body).bind(9, e.decoded_json)
        .bind(10, to_string(e.status)).bind(11, e.anomaly_code).bind(12, e.detail)
        .bind(13, e.received_at_ms).bind(14, e.source);
    if (auto r = expect_done(db_, **st, "insert inbox"); !r) return tl::unexpected(r.error());
    if (sqlite3_changes(db_.raw()) == 0) return std::optional<int64_t>{};
    return std::optional<int64_t>(sqlite3_last_insert_rowid(db_.raw()));
  }

  Result<void> finish_inbox(int64_t id, InboxStatus status, std::string_view code,
                            std::string_view detail) override {
    auto st = db_.prepare(
        "UPDATE inbox SET status = ?2, anomaly_code = ?3, detail = ?4 WHERE id = ?1");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, id).bind(2, to_string(status)).bind(3, code).bind(4, detail);
    return expect_done(db_, **st, "finish inbox");
  }

  Result<std::optional<InboxEntry>> find_inbox(int64_t id) override { return query_inbox(db_, id); }

  Result<std::vector<InboxEntry>> waiting_for_order(std::string_view merchant,
                                                    std::string_view out_trade_no) override {
    // The partial index of anomalies: a merchant's anomalies are few.
    static const std::string sql =
        std::string("SELECT ") + kInboxColumns +
        " FROM inbox WHERE merchant = ?1 AND status = 'anomaly' AND out_trade_no = ?2 "
        "AND anomaly_code = 'unknown_order' ORDER BY id";
    auto st = db_.prepare(sql.c_str());
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, out_trade_no);
    std::vector<InboxEntry> out;
    int rc;
    while ((rc = (*st)->step()) == SQLITE_ROW) out.push_back(read_inbox(**st));
    if (rc != SQLITE_DONE) return tl::unexpected(db_.error("waiting callbacks"));
    (*st)->reset();
    return out;
  }

  Result<std::optional<core::Order>> find_order(std::string_view merchant,
                                                std::string_view out_trade_no) override {
    return query_order(db_, merchant, out_trade_no);
  }

  Result<bool> insert_order(const core::Order& o) override {
    auto st = db_.prepare(
        "INSERT INTO orders (merchant, out_trade_no, amount, currency, description, expires_at, "
        "state, refunded, provider, transaction_id, paid_at, created_at_ms, updated_at_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT DO NOTHING");
    if (!st) return tl::unexpected(st.error());
    bind_order(**st, o);
    if (auto r = expect_done(db_, **st, "insert order"); !r) return tl::unexpected(r.error());
    const bool inserted = sqlite3_changes(db_.raw()) == 1;
    if (inserted) count(counts_, o.state, 1);
    return inserted;
  }

  Result<void> update_order(const core::Order& o, core::OrderState from) override {
    auto st = db_.prepare(
        "UPDATE orders SET state = ?3, refunded = ?4, provider = ?5, transaction_id = ?6, "
        "paid_at = ?7, updated_at_ms = ?8 WHERE merchant = ?1 AND out_trade_no = ?2 "
        "AND state = ?9");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, o.merchant).bind(2, o.out_trade_no).bind(3, core::to_string(o.state))
        .bind(4, o.refunded).bind(5, o.provider).bind(6, o.transaction_id).bind(7, o.paid_at)
        .bind(8, o.updated_at_ms).bind(9, core::to_string(from));
    if (auto r = expect_done(db_, **st, "update order"); !r) return r;
    if (sqlite3_changes(db_.raw()) != 1) {
      return fail(ErrorCode::kConflict, "order changed while being applied");
    }
    if (from != o.state) {
      count(counts_, from, -1);
      count(counts_, o.state, 1);
    }
    return {};
  }

  Result<std::optional<core::Refund>> find_refund(std::string_view merchant,
                                                  std::string_view out_refund_no) override {
    auto st = db_.prepare(
        "SELECT merchant, out_refund_no, out_trade_no, refund_id, amount, status, success_time "
        "FROM refunds WHERE merchant = ?1 AND out_refund_no = ?2");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, out_refund_no);
    const int rc = (*st)->step();
    if (rc == SQLITE_ROW) return read_refund(**st);
    if (rc == SQLITE_DONE) return std::optional<core::Refund>{};
    return tl::unexpected(db_.error("find refund"));
  }

  Result<void> upsert_refund(const core::Refund& r) override {
    auto st = db_.prepare(
        "INSERT INTO refunds (merchant, out_refund_no, out_trade_no, refund_id, amount, status, "
        "success_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (merchant, out_refund_no) "
        "DO UPDATE SET refund_id = excluded.refund_id, amount = excluded.amount, "
        "status = excluded.status, success_time = excluded.success_time");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, r.merchant).bind(2, r.out_refund_no).bind(3, r.out_trade_no)
        .bind(4, r.refund_id).bind(5, r.amount).bind(6, core::to_string(r.status))
        .bind(7, r.success_time);
    return expect_done(db_, **st, "upsert refund");
  }

  Result<void> add_transition(const Transition& t) override {
    auto st = db_.prepare(
        "INSERT INTO transitions (merchant, out_trade_no, from_state, to_state, event, inbox_id, "
        "at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, t.merchant).bind(2, t.out_trade_no).bind(3, t.from_state)
        .bind(4, t.to_state).bind(5, t.event)
        .bind(6, t.inbox_id ? std::optional<int64_t>(t.inbox_id) : std::nullopt)
        .bind(7, t.at_ms);
    return expect_done(db_, **st, "add transition");
  }

  Result<std::optional<Payment>> find_payment(std::string_view merchant,
                                              std::string_view out_trade_no) override {
    return query_payment(db_, merchant, out_trade_no);
  }

  Result<void> put_payment(const Payment& p) override {
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO payments (merchant, out_trade_no, provider, method, request, "
        "status, result, error_code, error_message, trade_state, attempts, created_at_ms, "
        "updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, p.merchant).bind(2, p.out_trade_no).bind(3, p.provider).bind(4, p.method)
        .bind(5, p.request).bind(6, to_string(p.status)).bind(7, p.result).bind(8, p.error_code)
        .bind(9, p.error_message).bind(10, p.trade_state).bind(11, int64_t{p.attempts})
        .bind(12, p.created_at_ms).bind(13, p.updated_at_ms);
    return expect_done(db_, **st, "put payment");
  }

  Result<std::optional<RefundRequest>> find_refund_request(std::string_view merchant,
                                                          std::string_view out_refund_no) override {
    return query_refund_request(db_, merchant, out_refund_no);
  }

  Result<void> put_refund_request(const RefundRequest& r) override {
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO refund_requests (merchant, out_refund_no, out_trade_no, provider, "
        "request, status, error_code, error_message, refund_status, attempts, created_at_ms, "
        "updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, r.merchant).bind(2, r.out_refund_no).bind(3, r.out_trade_no)
        .bind(4, r.provider).bind(5, r.request).bind(6, to_string(r.status))
        .bind(7, r.error_code).bind(8, r.error_message).bind(9, r.refund_status)
        .bind(10, int64_t{r.attempts}).bind(11, r.created_at_ms).bind(12, r.updated_at_ms);
    return expect_done(db_, **st, "put refund request");
  }

  Result<RefundTotals> refund_totals(std::string_view merchant,
                                     std::string_view out_trade_no) override {
    auto st = db_.prepare(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'PROCESSING' THEN amount END), 0) "
        "FROM refunds WHERE merchant = ?1 AND out_trade_no = ?2");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, out_trade_no);
    if ((*st)->step() != SQLITE_ROW) return tl::unexpected(db_.error("refund totals"));
    return RefundTotals{(*st)->i64(0), (*st)->i64(1)};
  }

  Result<IdempotencyClaim> claim_idempotency_key(std::string_view merchant, std::string_view key,
                                                 std::string_view request_hash, int64_t now_ms,
                                                 int64_t lease_until_ms) override {
    auto st = db_.prepare(
        "SELECT request_hash, status, response, lease_until_ms FROM idempotency_keys "
        "WHERE merchant = ?1 AND key = ?2");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, key);
    const int rc = (*st)->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return tl::unexpected(db_.error("find key"));
    if (rc == SQLITE_ROW) {
      IdempotencyClaim c;
      if ((*st)->text(0) != request_hash) {
        c.claim = KeyClaim::kMismatch;
        return c;
      }
      if ((*st)->i64(1) != 0) {
        c.claim = KeyClaim::kReplay;
        c.status = static_cast<int>((*st)->i64(1));
        c.response = (*st)->text(2);
        return c;
      }
      if ((*st)->i64(3) > now_ms) {
        c.claim = KeyClaim::kInProgress;
        return c;
      }
    }
    (*st)->reset();
    auto up = db_.prepare(
        "INSERT INTO idempotency_keys (merchant, key, request_hash, lease_until_ms, "
        "created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (merchant, key) DO UPDATE SET "
        "lease_until_ms = excluded.lease_until_ms");
    if (!up) return tl::unexpected(up.error());
    (*up)->bind(1, merchant).bind(2, key).bind(3, request_hash).bind(4, lease_until_ms)
        .bind(5, now_ms);
    if (auto r = expect_done(db_, **up, "claim key"); !r) return tl::unexpected(r.error());
    return IdempotencyClaim{};
  }

  Result<void> finish_idempotency_key(std::string_view merchant, std::string_view key, int status,
                                      std::string_view response) override {
    auto st = db_.prepare(
        "UPDATE idempotency_keys SET status = ?3, response = ?4 WHERE merchant = ?1 AND key = ?2");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, key).bind(3, int64_t{status}).bind(4, response);
    return expect_done(db_, **st, "finish key");
  }

  Result<void> release_idempotency_key(std::string_view merchant, std::string_view key) override {
    auto st = db_.prepare(
        "DELETE FROM idempotency_keys WHERE merchant = ?1 AND key = ?2 AND status = 0");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, key);
    return expect_done(db_, **st, "release key");
  }

  Result<int64_t> add_outbox(const OutboxEvent& e) override {
    auto st = db_.prepare(
        "INSERT INTO outbox (merchant, out_trade_no, event_type, payload, inbox_id, "
        "created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, e.merchant).bind(2, e.out_trade_no).bind(3, e.event_type)
        .bind(4, e.payload)
        .bind(5, e.inbox_id ? std::optional<int64_t>(e.inbox_id) : std::nullopt)
        .bind(6, e.created_at_ms);
    if (auto r = expect_done(db_, **st, "add outbox"); !r) return tl::unexpected(r.error());
    return sqlite3_last_insert_rowid(db_.raw());
  }

  Result<std::vector<OutboxEvent>> unrouted_outbox(int limit) override {
    return sqlite::unrouted_outbox(db_, limit);
  }
  Result<void> mark_routed(int64_t outbox_id) override {
    return sqlite::mark_routed(db_, outbox_id);
  }
  Result<bool> insert_delivery(const Delivery& d) override {
    return sqlite::insert_delivery(db_, d);
  }
  Result<std::vector<ClaimedDelivery>> claim_deliveries(std::string_view endpoint, int64_t now_ms,
                                                        int64_t lease_until_ms,
                                                        int limit) override {
    return sqlite::claim_deliveries(db_, endpoint, now_ms, lease_until_ms, limit);
  }
  Result<void> finish_attempt(const Delivery& d, const DeliveryAttempt& a) override {
    return sqlite::finish_attempt(db_, d, a);
  }
  Result<void> release_deliveries(const std::vector<int64_t>& ids, int64_t now_ms) override {
    return sqlite::release_deliveries(db_, ids, now_ms);
  }
  Result<void> set_endpoint_state(const EndpointState& s) override {
    return sqlite::set_endpoint_state(db_, s);
  }
  Result<std::optional<EndpointState>> endpoint_state(std::string_view endpoint) override {
    return sqlite::endpoint_state(db_, endpoint);
  }
  Result<int> replay_deliveries(int64_t outbox_id, std::string_view endpoint, int64_t since_ms,
                                int64_t now_ms) override {
    return sqlite::replay_deliveries(db_, outbox_id, endpoint, since_ms, now_ms);
  }

  Result<int64_t> prune(int64_t before_ms, int limit) override {
    int64_t deleted = 0;
    // Ids grow with time, so each table is walked by id up to its first row at or past the
    // cutoff: a bounded range, no scan of recent rows and no index on the hot path. Attempts
    // go first, of the very deliveries deleted next (same selection, same transaction).
    static const std::string old_deliveries =
        "SELECT id FROM deliveries WHERE id < COALESCE((SELECT id FROM deliveries WHERE "
        "created_at_ms >= ?1 ORDER BY id LIMIT 1), 9223372036854775807) AND status = "
        "'delivered' AND updated_at_ms < ?1 ORDER BY id LIMIT ?2";
    static const std::string attempts =
        "DELETE FROM delivery_attempts WHERE delivery_id IN (" + old_deliveries + ")";
    static const std::string deliveries =
        "DELETE FROM deliveries WHERE id IN (" + old_deliveries + ")";
    static const std::string inbox =
        "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE id < COALESCE((SELECT id "
        "FROM inbox WHERE received_at_ms >= ?1 ORDER BY id LIMIT 1), 9223372036854775807) AND "
        "status IN ('applied', 'noop') ORDER BY id LIMIT ?2)";
    for (const std::string* sql : {&attempts, &deliveries, &inbox}) {
      auto st = db_.prepare(sql->c_str());
      if (!st) return tl::unexpected(st.error());
      (*st)->bind(1, before_ms).bind(2, int64_t{limit});
      if (auto r = expect_done(db_, **st, "prune"); !r) return tl::unexpected(r.error());
      deleted += sqlite3_changes(db_.raw());
    }
    return deleted;
  }

  Result<void> heartbeat(int64_t now_ms) override {
    auto st = db_.prepare(
        "INSERT INTO heartbeat (id, at_ms) VALUES (1, ?1) "
        "ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms");
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, now_ms);
    return expect_done(db_, **st, "heartbeat");
  }

 private:
  static void bind_order(Stmt& st, const core::Order& o) {
    st.bind(1, o.merchant).bind(2, o.out_trade_no).bind(3, o.amount).bind(4, o.currency)
        .bind(5, o.description).bind(6, o.expires_at).bind(7, core::to_string(o.state))
        .bind(8, o.refunded).bind(9, o.provider).bind(10, o.transaction_id).bind(11, o.paid_at)
        .bind(12, o.created_at_ms).bind(13, o.updated_at_ms);
  }
  Db& db_;
  CountDeltas& counts_;  // the unit's; kept only if the unit is
};

// Resets the connection's statements when a read finishes, releasing its snapshot.
struct ReadScope {
  explicit ReadScope(Db* db) : db(db) {}
  ~ReadScope() {
    if (db) db->reset_all();
  }
  Db* db;
};

struct Pending {
  Work work;
  Done done;
};

// A committed batch waiting for its WAL frames to reach the disk.
struct Committed {
  std::vector<Pending> units;
  std::vector<Result<void>> results;
  std::chrono::steady_clock::time_point started;
  int64_t wal_bytes = 0;  // appended to the WAL by the commit
  int64_t seq = 0;        // the commit's number; durable once the syncer has passed it
};

int sync_with_fdatasync(int fd) { return ::fdatasync(fd) == 0 ? 0 : errno; }

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, std::unique_ptr<Db> writer, std::unique_ptr<Db> reader,
              std::unique_ptr<Db> checkpointer, int wal_fd)
      : options_(std::move(options)),
        writer_(std::move(writer)),
        reader_(std::move(reader)),
        checkpointer_(std::move(checkpointer)),
        wal_fd_(wal_fd),
        next_checkpoint_(options_.wal_checkpoint_pages) {
    if (!options_.sync_wal) options_.sync_wal = sync_with_fdatasync;
    if (auto st = writer_->prepare("PRAGMA page_size"); st && (*st)->step() == SQLITE_ROW) {
      page_size_ = (*st)->i64(0);
    }
    writer_->reset_all();
    // Replaces SQLite's auto-checkpoint hook. SQLite starts the WAL over only when a write
    // transaction begins with every frame copied into the database, and the writer never
    // pauses. The checkpointer thread copies the WAL while the writer goes on, a pass per
    // wal_checkpoint_pages of growth. Past wal_restart_pages it runs pass after pass, each
    // shorter than the last (it copies what the writer appended during the one before); once
    // the rest is small, the writer begins no transaction until the last pass is done, so the
    // next one starts the WAL from the beginning: a pause of a few milliseconds, where copying
    // the rest on the writer took 65-85 ms (acknowledgements waited for it). A quarter past
    // that limit the writer copies the rest itself, however long it takes: the bound on the
    // file if the checkpointer cannot keep up.
    sqlite3_wal_hook(
        writer_->raw(),
        [](void* self, sqlite3*, const char*, int frames) {
          auto* store = static_cast<SqliteStore*>(self);
          store->on_wal_commit(frames);
          return SQLITE_OK;
        },
        this);
    checkpoint_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "paygate-ckpt");
      checkpoint_loop();
    });
    syncer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "paygate-fsync");
      sync_loop();
    });
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "paygate-store");
      run();
    });
  }
  ~SqliteStore() override { close(); }

  void submit(Work work, Done done) override {
    core::Error refused{ErrorCode::kStoreUnavailable, "store is closed"};
    {
      std::lock_guard lock(mu_);
      if (failed_) {
        refused = fatal_;
      } else if (!closing_ && queue_.size() >= static_cast<std::size_t>(options_.max_queued)) {
        refused = core::Error{ErrorCode::kOverloaded, "store queue is full"};
        if (options_.on_shed) options_.on_shed();
      } else if (!closing_) {
        queued_.fetch_add(1, std::memory_order_relaxed);
        queue_.push_back(Pending{std::move(work), [this, done = std::move(done)](Result<void> r) {
                                   queued_.fetch_sub(1, std::memory_order_relaxed);
                                   done(std::move(r));
                                 }});
        cv_.notify_one();
        return;
      }
    }
    done(tl::unexpected(std::move(refused)));
  }

  void when_durable(Done done) override {
    Result<void> now;
    {
      std::lock_guard lock(mu_);
      if (failed_) {
        now = tl::unexpected(fatal_);
      } else if (durable_seq_ < commit_seq_) {
        // The commit being written may already be visible to readers: wait for it too.
        durable_waiters_.emplace_back(commit_seq_, std::move(done));
        return;
      }
    }
    done(std::move(now));
  }

  bool healthy() const override { return !failed_.load(std::memory_order_relaxed); }

  void close() override {
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      closing_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(mu_);
      sync_closing_ = true;
      sync_cv_.notify_one();
    }
    if (syncer_.joinable()) syncer_.join();
    {
      std::lock_guard lock(mu_);
      checkpoint_closing_ = true;
      checkpoint_cv_.notify_one();
    }
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
    if (failed_.load()) {
      // Closing the last connection would checkpoint the WAL into the database: frames that
      // may never have reached the disk. Leave the WAL for recovery at the next start.
      for (Db* db : {writer_.get(), reader_.get(), checkpointer_.get()}) {
        if (db) sqlite3_db_config(db->raw(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
      }
    }
    checkpointer_.reset();
    if (wal_fd_ >= 0) ::close(wal_fd_);
    wal_fd_ = -1;
    std::lock_guard rlock(read_mu_);
    reader_.reset();
    writer_.reset();
  }

  Result<std::optional<OrderDetails>> order_details(std::string_view merchant,
                                                    std::string_view out_trade_no) override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    Db& db = *reader_;
    if (auto r = db.run("BEGIN"); !r) return tl::unexpected(r.error());
    auto out = read_details(db, merchant, out_trade_no);
    (void)db.run("COMMIT");
    return out;
  }

  Result<std::optional<RefundDetails>> refund_details(std::string_view merchant,
                                                      std::string_view out_refund_no) override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    Db& db = *reader_;
    if (auto r = db.run("BEGIN"); !r) return tl::unexpected(r.error());
    auto out = [&]() -> Result<std::optional<RefundDetails>> {
      auto st = db.prepare(
          "SELECT merchant, out_refund_no, out_trade_no, refund_id, amount, status, success_time "
          "FROM refunds WHERE merchant = ?1 AND out_refund_no = ?2");
      if (!st) return tl::unexpected(st.error());
      (*st)->bind(1, merchant).bind(2, out_refund_no);
      const int rc = (*st)->step();
      if (rc == SQLITE_DONE) return std::optional<RefundDetails>{};
      if (rc != SQLITE_ROW) return tl::unexpected(db.error("find refund"));
      RefundDetails d;
      d.refund = read_refund(**st);
      (*st)->reset();
      auto req = query_refund_request(db, merchant, out_refund_no);
      if (!req) return tl::unexpected(req.error());
      d.request = std::move(*req);
      return std::optional<RefundDetails>(std::move(d));
    }();
    (void)db.run("COMMIT");
    return out;
  }

  Result<std::vector<InboxEntry>> anomalies(std::string_view merchant, int limit) override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    static const std::string sql = std::string("SELECT ") + kInboxColumns +
                                   " FROM inbox WHERE status = 'anomaly' AND merchant = ?1 "
                                   "ORDER BY id DESC LIMIT ?2";
    auto st = reader_->prepare(sql.c_str());
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, int64_t{limit});
    std::vector<InboxEntry> out;
    int rc;
    while ((rc = (*st)->step()) == SQLITE_ROW) out.push_back(read_inbox(**st));
    if (rc != SQLITE_DONE) return tl::unexpected(reader_->error("list anomalies"));
    return out;
  }

  Result<std::optional<InboxEntry>> inbox_entry(int64_t id) override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    return query_inbox(*reader_, id);
  }

  Result<std::vector<OutboxEvent>> outbox_for_order(std::string_view merchant,
                                                    std::string_view out_trade_no) override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    static const std::string sql = std::string("SELECT ") + sqlite::kOutboxColumns +
                                   " FROM outbox WHERE merchant = ?1 AND out_trade_no = ?2 "
                                   "ORDER BY id";
    auto st = reader_->prepare(sql.c_str());
    if (!st) return tl::unexpected(st.error());
    (*st)->bind(1, merchant).bind(2, out_trade_no);
    std::vector<OutboxEvent> out;
    int rc;
    while ((rc = (*st)->step()) == SQLITE_ROW) out.push_back(sqlite::read_outbox(**st));
    if (rc != SQLITE_DONE) return tl::unexpected(reader_->error("list outbox"));
    return out;
  }

  std::size_t backlog() const override { return queued_.load(std::memory_order_relaxed); }

  Result<std::vector<OutboxEvent>> list_events(const EventFilter& f) override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    return sqlite::list_events(*reader_, f);
  }

  Result<std::optional<EventDetails>> event_details(int64_t id) override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    Db& db = *reader_;
    // One snapshot: the deliveries and attempts belong to the same moment as the event.
    if (auto r = db.run("BEGIN"); !r) return tl::unexpected(r.error());
    auto out = sqlite::event_details(db, id);
    db.reset_all();
    (void)db.run("COMMIT");
    return out;
  }

  Result<std::vector<EndpointState>> endpoint_states() override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    return sqlite::endpoint_states(*reader_);
  }

  Result<Counts> counts() override {
    std::lock_guard lock(read_mu_);
    if (!reader_) return fail(ErrorCode::kStoreUnavailable, "store is closed");
    ReadScope scope(reader_.get());
    Counts c;
    auto st = reader_->prepare("SELECT state, n FROM order_counts WHERE n > 0");
    if (!st) return tl::unexpected(st.error());
    int rc;
    while ((rc = (*st)->step()) == SQLITE_ROW) c.orders_by_state[(*st)->text(0)] = (*st)->i64(1);
    if (rc != SQLITE_DONE) return tl::unexpected(reader_->error("count orders"));
    auto an = reader_->prepare("SELECT COUNT(*) FROM inbox WHERE status = 'anomaly'");
    if (!an) return tl::unexpected(an.error());
    if ((*an)->step() == SQLITE_ROW) c.anomalies = (*an)->i64(0);
    auto unrouted = sqlite::unrouted_count(*reader_);
    if (!unrouted) return tl::unexpected(unrouted.error());
    c.outbox_pending = *unrouted;
    auto deliveries = sqlite::deliveries_by_status(*reader_);
    if (!deliveries) return tl::unexpected(deliveries.error());
    c.deliveries_by_status = std::move(*deliveries);
    return c;
  }

 private:
  static Result<std::optional<OrderDetails>> read_details(Db& db, std::string_view merchant,
                                                          std::string_view out_trade_no) {
    auto order = query_order(db, merchant, out_trade_no);
    if (!order) return tl::unexpected(order.error());
    if (!*order) return std::optional<OrderDetails>{};
    OrderDetails d;
    d.order = std::move(**order);
    auto payment = query_payment(db, merchant, out_trade_no);
    if (!payment) return tl::unexpected(payment.error());
    d.payment = std::move(*payment);
    auto rs = db.prepare(
        "SELECT merchant, out_refund_no, out_trade_no, refund_id, amount, status, success_time "
        "FROM refunds WHERE merchant = ?1 AND out_trade_no = ?2 ORDER BY out_refund_no");
    if (!rs) return tl::unexpected(rs.error());
    (*rs)->bind(1, merchant).bind(2, out_trade_no);
    int rc;
    while ((rc = (*rs)->step()) == SQLITE_ROW) d.refunds.push_back(read_refund(**rs));
    if (rc != SQLITE_DONE) return tl::unexpected(db.error("list refunds"));
    auto ts = db.prepare(
        "SELECT merchant, out_trade_no, from_state, to_state, event, COALESCE(inbox_id, 0), "
        "at_ms FROM transitions WHERE merchant = ?1 AND out_trade_no = ?2 ORDER BY id");
    if (!ts) return tl::unexpected(ts.error());
    (*ts)->bind(1, merchant).bind(2, out_trade_no);
    while ((rc = (*ts)->step()) == SQLITE_ROW) {
      Transition t;
      t.merchant = (*ts)->text(0);
      t.out_trade_no = (*ts)->text(1);
      t.from_state = (*ts)->text(2);
      t.to_state = (*ts)->text(3);
      t.event = (*ts)->text(4);
      t.inbox_id = (*ts)->i64(5);
      t.at_ms = (*ts)->i64(6);
      d.history.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) return tl::unexpected(db.error("list transitions"));
    return std::optional<OrderDetails>(std::move(d));
  }

  // The writer keeps one transaction open and adds every queued unit to it (a savepoint each);
  // it commits when no fsync is in flight, so a commit carries everything that arrived while
  // the disk was busy. The syncer fdatasyncs the WAL and only then completes the units.
  void run() {
    std::vector<Pending> incoming;
    for (;;) {
      std::optional<core::Error> failed;
      bool closing = false;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] {
          return closing_ || !queue_.empty() || (txn_active_ && (!sync_busy_ || failed_));
        });
        closing = closing_;
        if (failed_) {
          failed = fatal_;
          for (auto& p : queue_) incoming.push_back(std::move(p));
          queue_.clear();
        }
      }
      if (failed) {
        // A sync failed: nothing more is written, every unit fails (the provider retries).
        for (auto& p : incoming) p.done(tl::unexpected(*failed));
        incoming.clear();
        if (txn_active_) abort_open(*failed);
        if (closing) return;
        continue;
      }
      if (!txn_active_) await_last_pass();
      {
        std::unique_lock lock(mu_);
        if (closing_ && queue_.empty() && !txn_active_) return;
        const std::size_t room =
            std::size_t(options_.max_batch) - std::min(open_.units.size(),
                                                       std::size_t(options_.max_batch));
        const std::size_t n = std::min(queue_.size(), room);
        for (std::size_t i = 0; i < n; ++i) {
          incoming.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      for (auto& p : incoming) execute(std::move(p));
      incoming.clear();
      bool commit_now = false;
      {
        std::lock_guard lock(mu_);
        if (failed_) continue;  // the open transaction is abandoned at the top
        commit_now = txn_active_ && (!sync_busy_ || open_.units.size() >= std::size_t(options_.max_batch));
        if (commit_now) {
          sync_busy_ = true;
          open_.seq = ++commit_seq_;  // before COMMIT: readers may see it as soon as it lands
        }
      }
      if (commit_now) commit();
    }
  }

  void execute(Pending p) {
    Db& db = *writer_;
    if (!txn_active_) {
      if (auto r = db.run("BEGIN IMMEDIATE"); !r) {
        db.reset_all();
        p.done(tl::unexpected(r.error()));
        return;
      }
      std::lock_guard lock(mu_);
      txn_active_ = true;
      open_.started = std::chrono::steady_clock::now();
    }
    if (auto r = db.run("SAVEPOINT unit"); !r) {
      p.done(tl::unexpected(r.error()));
      return;
    }
    CountDeltas unit_counts{};
    SqliteTx tx(db, unit_counts);
    Result<void> result = p.work(tx);
    bool released = false;
    if (result) {
      released = static_cast<bool>(db.run("RELEASE unit"));
      if (!released) result = tl::unexpected(db.error("release savepoint"));
      if (released) {
        for (std::size_t i = 0; i < unit_counts.size(); ++i) open_counts_[i] += unit_counts[i];
      }
    } else if (db.in_transaction()) {
      released = db.run("ROLLBACK TO unit") && db.run("RELEASE unit");
    }
    open_.units.push_back(std::move(p));
    open_.results.push_back(std::move(result));
    if (!db.in_transaction() || (!released && !open_.results.back())) {
      // SQLite rolled the whole transaction back (I/O error, disk full): nothing stands.
      abort_open(open_.results.back() ? db.error("transaction lost")
                                      : open_.results.back().error());
    }
  }

  void commit() {
    Db& db = *writer_;
    wal_pages_ = 0;
    Result<void> r = write_counts(db);
    open_counts_ = {};
    if (r) {
      // The frames reach the kernel in the commit; the syncer fsyncs them before any reply.
      sqlite::DeferWalSync deferred;
      r = db.run("COMMIT");
    }
    db.reset_all();
    Committed c = std::move(open_);
    open_ = Committed{};
    c.wal_bytes = int64_t{wal_pages_} * page_size_;
    {
      std::lock_guard lock(mu_);
      txn_active_ = false;
      if (!r) sync_busy_ = false;
    }
    if (!r) {
      if (db.in_transaction()) (void)db.run("ROLLBACK");
      db.reset_all();
      // checkpoint_running_ is already set for it: unstarted, no pass would ever run again.
      if (pass_wanted_) start_pass();
      const int64_t seq = c.seq;
      fail_all(c, r.error());
      // Nothing of it stands, but readers wait on its number: let the syncer pass it.
      Committed marker;
      marker.seq = seq;
      std::lock_guard lock(mu_);
      sync_queue_.push_back(std::move(marker));
      sync_cv_.notify_one();
      return;
    }
    {
      std::lock_guard lock(mu_);
      sync_queue_.push_back(std::move(c));
      sync_cv_.notify_one();
    }
    if (pass_wanted_) start_pass();
    if (checkpoint_inline_) checkpoint_now();
  }

  // Orders per state move once per commit instead of with every order written.
  Result<void> write_counts(Db& db) {
    for (std::size_t i = 0; i < open_counts_.size(); ++i) {
      if (open_counts_[i] == 0) continue;
      auto st = db.prepare(
          "INSERT INTO order_counts (state, n) VALUES (?1, ?2) "
          "ON CONFLICT (state) DO UPDATE SET n = n + excluded.n");
      if (!st) return tl::unexpected(st.error());
      (*st)->bind(1, core::to_string(static_cast<core::OrderState>(i))).bind(2, open_counts_[i]);
      if (auto r = expect_done(db, **st, "count orders"); !r) return r;
    }
    return {};
  }

  void abort_open(const core::Error& why) {
    open_counts_ = {};
    Db& db = *writer_;
    if (db.in_transaction()) (void)db.run("ROLLBACK");
    db.reset_all();
    Committed c = std::move(open_);
    open_ = Committed{};
    {
      std::lock_guard lock(mu_);
      txn_active_ = false;
    }
    fail_all(c, why);
  }

  void fail_all(Committed& c, const core::Error& why) {
    for (auto& r : c.results) {
      if (r) r = tl::unexpected(why);
    }
    complete(c, false);
  }

  // Writer thread, inside each commit (SQLite's WAL hook): decides what checkpoint comes next.
  void on_wal_commit(int frames) {
    if (frames < wal_frames_) {  // started over: nothing of this WAL is copied yet
      next_checkpoint_ = options_.wal_checkpoint_pages;
      ++wal_generation_;
    }
    const int previous = frames >= wal_frames_ ? wal_frames_ : 0;
    wal_pages_ += frames - previous;
    wal_frames_ = frames;
    if (frames < options_.wal_checkpoint_pages) return;
    if (frames >= options_.wal_restart_pages + options_.wal_restart_pages / 4) {
      // The checkpointer could not catch up: copy the rest here, after the commit has reset
      // its statements (an open read would block it).
      checkpoint_inline_ = true;
      return;
    }
    if (checkpoint_running_.load(std::memory_order_acquire)) return;
    const bool converging = frames >= options_.wal_restart_pages;
    // The checkpointer is idle, so its last figure is still true if it is of this WAL.
    const int64_t copied_so_far = backfilled_.load(std::memory_order_relaxed);
    const int done = copied_so_far >> 32 == wal_generation_ ? copied_so_far & 0xffffffff : 0;
    // Passes converge to about what the writer appends while one runs: a commit or two, or
    // less than half the rest before the pass when the writer is fast.
    const int64_t rest = frames - done;
    const bool last = converging && (rest <= std::max(options_.wal_catch_up_pages,
                                                      2 * (frames - previous)) ||
                                     2 * rest > rest_before_pass_);
    rest_before_pass_ = converging ? rest : std::numeric_limits<int64_t>::max() / 4;
    // Below the restart size, a pass per step of growth (each costs two fsyncs); past it,
    // passes back to back until the rest is small.
    if (!converging && frames < next_checkpoint_) return;
    next_checkpoint_ = frames + options_.wal_checkpoint_pages;
    pass_generation_ = wal_generation_;
    checkpoint_running_.store(true, std::memory_order_release);
    pass_wanted_ = true;
    // The last pass copies everything if the writer begins nothing until it is done.
    if (last) restart_by_ = std::chrono::steady_clock::now() + options_.wal_restart_wait;
  }

  // Writer thread, once the commit has released its snapshot: a pass started inside the
  // commit could copy only the frames before it.
  void start_pass() {
    pass_wanted_ = false;
    std::lock_guard lock(mu_);
    checkpoint_wanted_ = true;
    checkpoint_cv_.notify_one();
  }

  // Writer thread, before it begins a transaction: if the checkpointer is copying the last of
  // the WAL, wait for it (units queue meanwhile, as they would behind the fsync in flight), so
  // this transaction starts the WAL over. A pass that takes too long is not waited out.
  void await_last_pass() {
    if (restart_by_ == std::chrono::steady_clock::time_point{}) return;
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, restart_by_, [&] {
      return closing_ || failed_ || !checkpoint_running_.load(std::memory_order_acquire);
    });
    restart_by_ = {};
  }

  // Writer thread, between transactions: copies the rest of the WAL so the next transaction
  // can start it over. The WAL is fsynced before its frames reach the database.
  void checkpoint_now() {
    checkpoint_inline_ = false;
    if (failed_.load()) return;
    sqlite::DeferWalSync real_sync(false);
    int frames = 0, backfilled = 0;
    const int rc = sqlite3_wal_checkpoint_v2(writer_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE,
                                             &frames, &backfilled);
    if (rc == SQLITE_OK) backfilled_.store(copied(wal_generation_, backfilled));
    if (options_.on_checkpoint) options_.on_checkpoint(frames, backfilled, rc, true);
  }

  void checkpoint_loop() {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        checkpoint_cv_.wait(lock, [&] { return checkpoint_closing_ || checkpoint_wanted_; });
        if (checkpoint_closing_) return;
        checkpoint_wanted_ = false;
        if (failed_) continue;  // never copy frames that may not be on disk
      }
      int frames = 0, backfilled = 0;
      sqlite::PaceDatabaseWrites paced(options_.checkpoint_pace_bytes);
      const int rc = sqlite3_wal_checkpoint_v2(checkpointer_->raw(), "main",
                                               SQLITE_CHECKPOINT_PASSIVE, &frames, &backfilled);
      if (options_.on_checkpoint) options_.on_checkpoint(frames, backfilled, rc, false);
      if (rc == SQLITE_OK) backfilled_.store(copied(pass_generation_, backfilled));
      {
        std::lock_guard lock(mu_);
        checkpoint_running_.store(false, std::memory_order_release);
        cv_.notify_one();  // the writer may be waiting for this pass to begin its transaction
      }
    }
  }

  // One fdatasync of the WAL covers every batch committed before it started. The first failed
  // sync is final (see SqliteOptions::on_fatal): no later sync is trusted.
  void sync_loop() {
    std::vector<Committed> ready;
    std::deque<std::pair<int64_t, Done>> waiters;
    for (;;) {
      bool already_failed = false;
      {
        std::unique_lock lock(mu_);
        sync_cv_.wait(lock, [&] { return sync_closing_ || !sync_queue_.empty(); });
        if (sync_queue_.empty()) return;  // closing and drained
        ready.swap(sync_queue_);
        already_failed = failed_;
      }
      const int err = already_failed ? EIO : options_.sync_wal(wal_fd_);
      bool newly_failed = false;
      core::Error why;
      {
        std::lock_guard lock(mu_);
        sync_busy_ = false;
        if (err != 0 && !failed_) {
          failed_ = true;
          fatal_ = core::Error{ErrorCode::kStoreUnavailable,
                               std::string("fsync of the WAL failed (") + std::strerror(err) +
                                   "); nothing since the last good sync is trusted"};
          newly_failed = true;
        }
        if (err == 0) {
          durable_seq_ = std::max(durable_seq_, ready.back().seq);
          while (!durable_waiters_.empty() && durable_waiters_.front().first <= durable_seq_) {
            waiters.push_back(std::move(durable_waiters_.front()));
            durable_waiters_.pop_front();
          }
        } else {
          why = fatal_;
          for (auto& w : durable_waiters_) waiters.push_back(std::move(w));
          durable_waiters_.clear();
        }
        cv_.notify_one();
      }
      // Reported before anything is answered, so the stop begins before the first 500 leaves.
      if (newly_failed && options_.on_fatal) options_.on_fatal(why);
      for (auto& c : ready) {
        if (err == 0) {
          complete(c, true);
        } else {
          fail_all(c, why);
        }
      }
      ready.clear();
      for (auto& [seq, done] : waiters) {
        if (err == 0) {
          done({});
        } else {
          done(tl::unexpected(why));
        }
      }
      waiters.clear();
    }
  }

  void complete(Committed& c, bool ok) {
    if (c.units.empty()) return;  // a failed commit's marker
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - c.started).count();
    if (options_.on_commit) {
      options_.on_commit(static_cast<int>(c.units.size()), c.wal_bytes, secs, ok);
    }
    for (std::size_t i = 0; i < c.units.size(); ++i) c.units[i].done(std::move(c.results[i]));
  }

  SqliteOptions options_;
  std::unique_ptr<Db> writer_;
  std::unique_ptr<Db> reader_;
  std::mutex read_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::atomic<std::size_t> queued_{0};  // submitted, not yet answered
  bool closing_ = false;
  std::thread thread_;
  std::unique_ptr<Db> checkpointer_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;  // guarded by mu_
  bool checkpoint_closing_ = false;  // guarded by mu_
  std::thread checkpoint_thread_;
  int wal_fd_;
  int wal_frames_ = 0;  // WAL size after the last commit (writer thread only)
  int next_checkpoint_ = 0;  // WAL size that triggers the next pass (writer only)
  std::atomic<bool> checkpoint_running_{false};  // a pass is wanted or under way
  // Frames in the database by the last pass, with the number of the WAL (how many times it
  // started over) they are of: copied(generation, frames).
  static int64_t copied(int generation, int frames) {
    return (int64_t{generation} << 32) | static_cast<uint32_t>(frames);
  }
  std::atomic<int64_t> backfilled_{0};
  int wal_generation_ = 0;   // writer only
  bool pass_wanted_ = false;  // writer only: start one after this commit
  int64_t rest_before_pass_ = std::numeric_limits<int64_t>::max() / 4;  // writer only
  int pass_generation_ = 0;  // of the pass requested; written before it is, read by the pass
  bool checkpoint_inline_ = false;          // after this commit (writer only)
  // A last pass is under way: the writer begins nothing until it ends or until then.
  std::chrono::steady_clock::time_point restart_by_{};  // writer only
  int wal_pages_ = 0;   // appended by the current commit (writer thread only)
  int64_t page_size_ = 4096;
  Committed open_;            // the writer's open transaction (writer thread only)
  CountDeltas open_counts_{};  // orders per state changed by it (writer thread only)
  bool txn_active_ = false;   // guarded by mu_ (read by the writer's wait)
  bool sync_busy_ = false;    // a commit is waiting for its fsync; guarded by mu_
  std::condition_variable sync_cv_;
  std::vector<Committed> sync_queue_;  // guarded by mu_
  bool sync_closing_ = false;
  std::atomic<bool> failed_{false};  // a sync failed; set under mu_, read anywhere
  core::Error fatal_;          // why; guarded by mu_
  int64_t commit_seq_ = 0;     // last commit started; guarded by mu_
  int64_t durable_seq_ = 0;    // last commit synced; guarded by mu_
  std::deque<std::pair<int64_t, Done>> durable_waiters_;  // guarded by mu_, by commit number
  std::thread syncer_;
};

}  // namespace

// Creates the schema, or brings an older one up to date, in one transaction.
static Result<void> migrate(Db& db) {
  int64_t version = 0;
  if (auto st = db.prepare("PRAGMA user_version"); st && (*st)->step() == SQLITE_ROW) {
    version = (*st)->i64(0);
    (*st)->reset();  // an open statement would lock the schema against DROP INDEX
  }
  if (version > sqlite::kSchemaVersion) {
    return fail(ErrorCode::kStoreUnavailable,
                "database schema version " + std::to_string(version) +
                    " is newer than this paygate understands (" +
                    std::to_string(sqlite::kSchemaVersion) + ")");
  }
  if (version == sqlite::kSchemaVersion) return {};
  std::string script = "BEGIN IMMEDIATE;";
  // Columns added to a table an older version created (before CREATE ... IF NOT EXISTS,
  // which leaves an existing table as it is).
  if (version >= 1) {
    auto st = db.prepare(
        "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'inbox'), "
        "(SELECT COUNT(*) FROM pragma_table_info('inbox') WHERE name = 'source')");
    if (!st || (*st)->step() != SQLITE_ROW) return fail(ErrorCode::kStoreUnavailable, "read schema");
    const bool add_source = (*st)->i64(0) == 1 && (*st)->i64(1) == 0;
    (*st)->reset();
    if (add_source) script += sqlite::kMigrateToV5;
  }
  script += sqlite::kSchema;
  if (version == 1) script += sqlite::kMigrateV1ToV2;
  if (version >= 1 && version < 3) script += sqlite::kMigrateToV3;
  if (version >= 1) script += sqlite::kMigrateToV4;
  script += "PRAGMA user_version=" + std::to_string(sqlite::kSchemaVersion) + "; COMMIT;";
  if (auto r = db.exec(script.c_str()); !r) {
    (void)db.exec("ROLLBACK");
    return r;
  }
  return {};
}

Result<std::unique_ptr<Store>> open_sqlite_store(SqliteOptions options) {
  if (options.buffered_wal && !sqlite::register_wal_vfs()) {
    return fail(ErrorCode::kStoreUnavailable, "SQLite has no default VFS to write the WAL through");
  }
  // Created owner-only: it holds every callback verbatim. SQLite gives its -wal and -shm files
  // the database file's permissions.
  if (const int fd = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      fd >= 0) {
    ::close(fd);
  }
  auto writer = Db::open(options.path, false, options.busy_timeout_ms,
                         options.buffered_wal ? sqlite::kWalVfsName : nullptr);
  if (!writer) return tl::unexpected(writer.error());
  // The syncer fdatasyncs the WAL before anything is acknowledged, so the next batch runs
  // while the disk works. With the buffering VFS, synchronous=FULL makes SQLite write a commit's
  // frames out (its sync) before publishing it; inside the store's commit that sync stops short
  // of the fsync (DeferWalSync). Without it, synchronous=NORMAL: SQLite writes frames as it goes.
  for (const char* pragma : {
           // Small pages: a callback's index entries land on random pages, and every page a
           // commit touches goes to the WAL whole (measured: 2 KiB beats 1 KiB and 4 KiB here).
           "PRAGMA page_size=2048", "PRAGMA journal_mode=WAL",
           options.buffered_wal ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
           "PRAGMA foreign_keys=ON", "PRAGMA cache_size=-16384"}) {
    if (auto r = (*writer)->exec(pragma); !r) return tl::unexpected(r.error());
  }
  if (auto r = migrate(**writer); !r) return tl::unexpected(r.error());
  // A write, so the WAL file exists before it is opened for syncing.
  if (auto r = (*writer)->exec("INSERT INTO heartbeat (id, at_ms) "
                               "VALUES (1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) "
                               "ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms");
      !r) {
    return tl::unexpected(r.error());
  }
  const std::string wal = options.path + "-wal";
  const int wal_fd = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (wal_fd < 0) {
    return fail(ErrorCode::kStoreUnavailable, "cannot open " + wal + ": " + std::strerror(errno));
  }
  // Anything committed before this process started is made durable now.
  if (::fdatasync(wal_fd) != 0) {
    ::close(wal_fd);
    return fail(ErrorCode::kStoreUnavailable, "cannot fsync " + wal);
  }
  auto reader = Db::open(options.path, true, options.busy_timeout_ms);
  // Through the VFS too, for its paced database writes (its WAL syncs are always real).
  auto checkpointer = Db::open(options.path, false, options.busy_timeout_ms,
                               options.buffered_wal ? sqlite::kWalVfsName : nullptr);
  if (checkpointer) {
    // NORMAL: a checkpoint syncs the WAL before copying and the database after.
    if (auto r = (*checkpointer)->exec("PRAGMA synchronous=NORMAL"); !r) {
      checkpointer = tl::unexpected(r.error());
    }
  }
  if (!reader || !checkpointer) {
    ::close(wal_fd);
    return tl::unexpected(!reader ? reader.error() : checkpointer.error());
  }
  return std::unique_ptr<Store>(new SqliteStore(std::move(options), std::move(*writer),
                                                std::move(*reader), std::move(*checkpointer),
                                                wal_fd));
}

}  // namespace paygate::store

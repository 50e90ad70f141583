#include "store/sqlite/deliveries.hpp"

namespace paygate::store::sqlite {

using core::ErrorCode;
using core::Result;

namespace {

constexpr const char* kDeliveryColumns =
    "d.id, d.outbox_id, d.endpoint, d.merchant, d.out_trade_no, d.event_type, d.webhook_id, "
    "d.status, d.attempts, d.due_at_ms, d.first_attempt_at_ms, d.last_status, d.last_error, "
    "d.created_at_ms, d.updated_at_ms";
constexpr int kDeliveryColumnCount = 15;

Delivery read_delivery(const Stmt& s) {
  Delivery d;
  d.id = s.i64(0);
  d.outbox_id = s.i64(1);
  d.endpoint = s.text(2);
  d.merchant = s.text(3);
  d.out_trade_no = s.text(4);
  d.event_type = s.text(5);
  d.webhook_id = s.text(6);
  d.status = parse_delivery_status(s.text(7)).value_or(DeliveryStatus::kPending);
  d.attempts = static_cast<int>(s.i64(8));
  d.due_at_ms = s.i64(9);
  d.first_attempt_at_ms = s.i64(10);
  d.last_status = s.i64(11);
  d.last_error = s.text(12);
  d.created_at_ms = s.i64(13);
  d.updated_at_ms = s.i64(14);
  return d;
}

Result<void> done(Db& db, Stmt& st, const char* what) {
  if (st.step() != SQLITE_DONE) return tl::unexpected(db.error(what));
  return {};
}

}  // namespace

OutboxEvent read_outbox(const Stmt& s) {
  OutboxEvent e;
  e.id = s.i64(0);
  e.merchant = s.text(1);
  e.out_trade_no = s.text(2);
  e.event_type = s.text(3);
  e.payload = s.text(4);
  e.inbox_id = s.i64(5);
  e.created_at_ms = s.i64(6);
  return e;
}

const char* const kOutboxColumns =
    "id, merchant, out_trade_no, event_type, payload, inbox_id, created_at_ms";

namespace {

Result<int64_t> routed_up_to(Db& db) {
  auto st = db.prepare("SELECT value FROM cursors WHERE name = 'routed'");
  if (!st) return tl::unexpected(st.error());
  const int rc = (*st)->step();
  if (rc == SQLITE_DONE) return int64_t{0};
  if (rc != SQLITE_ROW) return tl::unexpected(db.error("routing cursor"));
  const int64_t v = (*st)->i64(0);
  (*st)->reset();
  return v;
}

}  // namespace

Result<std::vector<OutboxEvent>> unrouted_outbox(Db& db, int limit) {
  auto from = routed_up_to(db);
  if (!from) return tl::unexpected(from.error());
  static const std::string sql = std::string("SELECT ") + kOutboxColumns +
                                 " FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2";
  auto st = db.prepare(sql.c_str());
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, *from).bind(2, int64_t{limit});
  std::vector<OutboxEvent> out;
  int rc;
  while ((rc = (*st)->step()) == SQLITE_ROW) out.push_back(read_outbox(**st));
  if (rc != SQLITE_DONE) return tl::unexpected(db.error("unrouted outbox"));
  (*st)->reset();
  return out;
}

Result<void> mark_routed(Db& db, int64_t outbox_id) {
  auto st = db.prepare(
      "INSERT INTO cursors (name, value) VALUES ('routed', ?1) "
      "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)");
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, outbox_id);
  return done(db, **st, "mark routed");
}

Result<int64_t> unrouted_count(Db& db) {
  auto from = routed_up_to(db);
  if (!from) return tl::unexpected(from.error());
  // Outbox ids are dense (one writer, rows never deleted): the newest id less the cursor.
  auto st = db.prepare("SELECT COALESCE(MAX(id), 0) FROM outbox");
  if (!st) return tl::unexpected(st.error());
  if ((*st)->step() != SQLITE_ROW) return tl::unexpected(db.error("count unrouted"));
  const int64_t n = std::max<int64_t>(0, (*st)->i64(0) - *from);
  (*st)->reset();
  return n;
}

Result<bool> insert_delivery(Db& db, const Delivery& d) {
  auto st = db.prepare(
      "INSERT INTO deliveries (outbox_id, endpoint, merchant, out_trade_no, event_type, "
      "webhook_id, status, attempts, due_at_ms, first_attempt_at_ms, created_at_ms, "
      "updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
      "ON CONFLICT DO NOTHING");
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, d.outbox_id).bind(2, d.endpoint).bind(3, d.merchant).bind(4, d.out_trade_no)
      .bind(5, d.event_type).bind(6, d.webhook_id).bind(7, to_string(d.status))
      .bind(8, int64_t{d.attempts}).bind(9, d.due_at_ms).bind(10, d.first_attempt_at_ms)
      .bind(11, d.created_at_ms).bind(12, d.updated_at_ms);
  if (auto r = done(db, **st, "insert delivery"); !r) return tl::unexpected(r.error());
  return sqlite3_changes(db.raw()) == 1;
}

Result<std::vector<ClaimedDelivery>> claim_deliveries(Db& db, std::string_view endpoint,
                                                      int64_t now_ms, int64_t lease_until_ms,
                                                      int limit) {
  // Per order, only the oldest unfinished delivery is eligible: events arrive in write order.
  static const std::string sql =
      std::string("SELECT ") + kDeliveryColumns +
      ", o.payload, o.created_at_ms FROM deliveries d JOIN outbox o ON o.id = d.outbox_id "
      "WHERE d.endpoint = ?1 AND d.status IN ('pending', 'delivering') AND d.due_at_ms <= ?2 "
      "AND NOT EXISTS (SELECT 1 FROM outbox e JOIN deliveries p ON p.outbox_id = e.id "
      "AND p.endpoint = d.endpoint WHERE e.merchant = d.merchant "
      "AND e.out_trade_no = d.out_trade_no AND e.id < d.outbox_id "
      "AND p.status IN ('pending', 'delivering')) "
      "ORDER BY d.due_at_ms, d.id LIMIT ?3";
  auto st = db.prepare(sql.c_str());
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, endpoint).bind(2, now_ms).bind(3, int64_t{limit});
  std::vector<ClaimedDelivery> out;
  int rc;
  while ((rc = (*st)->step()) == SQLITE_ROW) {
    ClaimedDelivery c;
    c.delivery = read_delivery(**st);
    c.payload = (*st)->text(kDeliveryColumnCount);
    c.event_created_at_ms = (*st)->i64(kDeliveryColumnCount + 1);
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return tl::unexpected(db.error("claim deliveries"));
  (*st)->reset();
  auto lease = db.prepare(
      "UPDATE deliveries SET status = 'delivering', due_at_ms = ?2, updated_at_ms = ?3 "
      "WHERE id = ?1");
  if (!lease) return tl::unexpected(lease.error());
  for (auto& c : out) {
    (*lease)->reset().bind(1, c.delivery.id).bind(2, lease_until_ms).bind(3, now_ms);
    if (auto r = done(db, **lease, "lease delivery"); !r) return tl::unexpected(r.error());
    c.delivery.status = DeliveryStatus::kDelivering;
    c.delivery.due_at_ms = lease_until_ms;
    c.delivery.lease_until_ms = lease_until_ms;
    c.delivery.updated_at_ms = now_ms;
  }
  return out;
}

Result<void> finish_attempt(Db& db, const Delivery& d, const DeliveryAttempt& a) {
  auto st = db.prepare(
      "UPDATE deliveries SET status = ?2, attempts = ?3, due_at_ms = ?4, "
      "first_attempt_at_ms = ?5, last_status = ?6, last_error = ?7, updated_at_ms = ?8 "
      "WHERE id = ?1 AND status = 'delivering' AND due_at_ms = ?9");
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, d.id).bind(2, to_string(d.status)).bind(3, int64_t{d.attempts})
      .bind(4, d.due_at_ms).bind(5, d.first_attempt_at_ms).bind(6, d.last_status)
      .bind(7, d.last_error).bind(8, d.updated_at_ms).bind(9, d.lease_until_ms);
  if (auto r = done(db, **st, "finish delivery"); !r) return r;
  // No change: the lease is no longer this result's (it ran out and the delivery was claimed
  // again, replayed, or already finished). The attempt is still on record; the state is not
  // touched.
  auto at = db.prepare(
      "INSERT INTO delivery_attempts (delivery_id, at_ms, status, outcome, latency_ms, error, "
      "response) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!at) return tl::unexpected(at.error());
  (*at)->bind(1, a.delivery_id).bind(2, a.at_ms).bind(3, a.status).bind(4, a.outcome)
      .bind(5, a.latency_ms).bind(6, a.error).bind(7, a.response);
  return done(db, **at, "record attempt");
}

Result<void> release_deliveries(Db& db, const std::vector<int64_t>& ids, int64_t now_ms) {
  if (ids.empty()) return {};
  auto st = db.prepare(
      "UPDATE deliveries SET status = 'pending', due_at_ms = ?2, updated_at_ms = ?2 "
      "WHERE id = ?1 AND status = 'delivering'");
  if (!st) return tl::unexpected(st.error());
  for (const int64_t id : ids) {
    (*st)->reset().bind(1, id).bind(2, now_ms);
    if (auto r = done(db, **st, "release delivery"); !r) return r;
  }
  return {};
}

Result<void> set_endpoint_state(Db& db, const EndpointState& s) {
  auto st = db.prepare(
      "INSERT INTO endpoint_state (endpoint, enabled, reason, updated_at_ms) "
      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (endpoint) DO UPDATE SET enabled = excluded.enabled, "
      "reason = excluded.reason, updated_at_ms = excluded.updated_at_ms");
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, s.endpoint).bind(2, int64_t{s.enabled ? 1 : 0}).bind(3, s.reason)
      .bind(4, s.updated_at_ms);
  return done(db, **st, "set endpoint state");
}

Result<std::optional<EndpointState>> endpoint_state(Db& db, std::string_view endpoint) {
  auto st = db.prepare(
      "SELECT endpoint, enabled, reason, updated_at_ms FROM endpoint_state WHERE endpoint = ?1");
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, endpoint);
  const int rc = (*st)->step();
  if (rc == SQLITE_DONE) return std::optional<EndpointState>{};
  if (rc != SQLITE_ROW) return tl::unexpected(db.error("endpoint state"));
  EndpointState s{(*st)->text(0), (*st)->i64(1) != 0, (*st)->text(2), (*st)->i64(3)};
  (*st)->reset();
  return s;
}

Result<std::vector<EndpointState>> endpoint_states(Db& db) {
  auto st = db.prepare(
      "SELECT endpoint, enabled, reason, updated_at_ms FROM endpoint_state ORDER BY endpoint");
  if (!st) return tl::unexpected(st.error());
  std::vector<EndpointState> out;
  int rc;
  while ((rc = (*st)->step()) == SQLITE_ROW) {
    out.push_back({(*st)->text(0), (*st)->i64(1) != 0, (*st)->text(2), (*st)->i64(3)});
  }
  if (rc != SQLITE_DONE) return tl::unexpected(db.error("endpoint states"));
  return out;
}

Result<int> replay_deliveries(Db& db, int64_t outbox_id, std::string_view endpoint,
                              int64_t since_ms, int64_t now_ms) {
  // The statement cache is keyed by the SQL's address: both texts live for the process.
  static const std::string set =
      "UPDATE deliveries SET status = 'pending', attempts = 0, first_attempt_at_ms = 0, "
      "due_at_ms = ?1, updated_at_ms = ?1 ";
  static const std::string failed = "(status = 'dead' OR (status = 'pending' AND attempts > 0))";
  // One event is replayed whatever its state (a merchant who lost their copy of a delivered
  // event needs it again), except where an attempt is under way right now.
  static const std::string by_event = set + "WHERE outbox_id = ?2 AND status <> 'delivering'";
  static const std::string by_endpoint =
      set + "WHERE endpoint = ?2 AND created_at_ms >= ?3 AND " + failed;
  auto st = db.prepare(outbox_id > 0 ? by_event.c_str() : by_endpoint.c_str());
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, now_ms);
  if (outbox_id > 0) {
    (*st)->bind(2, outbox_id);
  } else {
    (*st)->bind(2, endpoint).bind(3, since_ms);
  }
  if (auto r = done(db, **st, "replay deliveries"); !r) return tl::unexpected(r.error());
  return sqlite3_changes(db.raw());
}

// One statement per shape of filter, so that each can use its index (an "?2 = '' OR" test
// hides the index from the planner).
const std::vector<std::string>& list_events_sql() {
  static const std::vector<std::string> sql = [] {
    const std::string head = std::string("SELECT ") + kOutboxColumns + " FROM outbox WHERE merchant = ?1 ";
    const std::string rest = "AND (?3 = '' OR event_type = ?3) AND (?4 = 0 OR id < ?4) ";
    const std::string status =
        "AND id IN (SELECT outbox_id FROM deliveries WHERE merchant = ?1 AND status = ?5) ";
    const std::string tail = "ORDER BY id DESC LIMIT ?6";
    return std::vector<std::string>{
        head + rest + tail,                                       // merchant
        head + "AND out_trade_no = ?2 " + rest + tail,            // merchant, order
        head + rest + status + tail,                              // merchant, status
        head + "AND out_trade_no = ?2 " + rest + status + tail};  // all
  }();
  return sql;
}

std::vector<std::pair<std::string, std::string>> merchant_queries() {
  const auto& l = list_events_sql();
  return {{"list events", l[0]},
          {"list events of an order", l[1]},
          {"list events by delivery status", l[2]},
          {"list events of an order by delivery status", l[3]},
          {"event deliveries", std::string("SELECT ") + kDeliveryColumns +
                                   " FROM deliveries d WHERE d.outbox_id = ?1 ORDER BY d.id"},
          {"event attempts",
           "SELECT a.delivery_id FROM delivery_attempts a JOIN deliveries d ON d.id = "
           "a.delivery_id WHERE d.outbox_id = ?1 ORDER BY a.id"},
          {"delivery counts",
           "SELECT status, n FROM delivery_counts WHERE status IN ('pending', 'delivering', "
           "'dead')"},
          {"outbox pending", "SELECT MAX(id) FROM outbox"}};
}

Result<std::vector<OutboxEvent>> list_events(Db& db, const EventFilter& f) {
  const auto& sql = list_events_sql();
  const std::size_t shape = (f.out_trade_no.empty() ? 0 : 1) + (f.status ? 2 : 0);
  auto st = db.prepare(sql[shape].c_str());
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, f.merchant).bind(2, f.out_trade_no).bind(3, f.event_type)
      .bind(4, f.before_id).bind(6, int64_t{f.limit});
  if (f.status) (*st)->bind(5, to_string(*f.status));
  std::vector<OutboxEvent> out;
  int rc;
  while ((rc = (*st)->step()) == SQLITE_ROW) out.push_back(read_outbox(**st));
  if (rc != SQLITE_DONE) return tl::unexpected(db.error("list events"));
  return out;
}

Result<std::optional<EventDetails>> event_details(Db& db, int64_t id) {
  static const std::string sql =
      std::string("SELECT ") + kOutboxColumns + " FROM outbox WHERE id = ?1";
  auto st = db.prepare(sql.c_str());
  if (!st) return tl::unexpected(st.error());
  (*st)->bind(1, id);
  int rc = (*st)->step();
  if (rc == SQLITE_DONE) return std::optional<EventDetails>{};
  if (rc != SQLITE_ROW) return tl::unexpected(db.error("event"));
  EventDetails d;
  d.event = read_outbox(**st);
  (*st)->reset();
  auto routed = routed_up_to(db);
  if (!routed) return tl::unexpected(routed.error());
  d.routed = d.event.id <= *routed;
  static const std::string dsql = std::string("SELECT ") + kDeliveryColumns +
                                  " FROM deliveries d WHERE d.outbox_id = ?1 ORDER BY d.id";
  auto ds = db.prepare(dsql.c_str());
  if (!ds) return tl::unexpected(ds.error());
  (*ds)->bind(1, id);
  while ((rc = (*ds)->step()) == SQLITE_ROW) d.deliveries.push_back(read_delivery(**ds));
  if (rc != SQLITE_DONE) return tl::unexpected(db.error("event deliveries"));
  auto as = db.prepare(
      "SELECT a.delivery_id, a.at_ms, a.status, a.outcome, a.latency_ms, a.error, a.response "
      "FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id "
      "WHERE d.outbox_id = ?1 ORDER BY a.id");
  if (!as) return tl::unexpected(as.error());
  (*as)->bind(1, id);
  while ((rc = (*as)->step()) == SQLITE_ROW) {
    d.attempts.push_back({(*as)->i64(0), (*as)->i64(1), (*as)->i64(2), (*as)->text(3),
                          (*as)->i64(4), (*as)->text(5), (*as)->text(6)});
  }
  if (rc != SQLITE_DONE) return tl::unexpected(db.error("event attempts"));
  return d;
}

Result<std::map<std::string, int64_t>> deliveries_by_status(Db& db) {
  // Kept by triggers: a scrape reads a handful of rows however many deliveries there are.
  auto st = db.prepare(
      "SELECT status, n FROM delivery_counts WHERE status IN ('pending', 'delivering', 'dead')");
  if (!st) return tl::unexpected(st.error());
  std::map<std::string, int64_t> out;
  int rc;
  while ((rc = (*st)->step()) == SQLITE_ROW) out[(*st)->text(0)] = (*st)->i64(1);
  if (rc != SQLITE_DONE) return tl::unexpected(db.error("count deliveries"));
  return out;
}

}  // namespace paygate::store::sqlite

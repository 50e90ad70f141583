#pragma once

namespace paygate::store::sqlite {

// Version 5 of the embedded schema. Orders are keyed by (merchant, out_trade_no); the inbox is
// unique on the provider's notification id and on the business key: that is the dedupe.
inline constexpr int kSchemaVersion = 5;

inline constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS orders (
  merchant TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  description TEXT NOT NULL,
  expires_at INTEGER,
  state TEXT NOT NULL,
  refunded INTEGER NOT NULL DEFAULT 0,
  provider TEXT NOT NULL DEFAULT '',
  transaction_id TEXT NOT NULL DEFAULT '',
  paid_at TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (merchant, out_trade_no)
) WITHOUT ROWID;
-- Orders by state for /metrics: one hot row per state instead of an index whose entries move
-- to a random page on every state change. The writer adds each transaction's net changes
-- before it commits.
CREATE TABLE IF NOT EXISTS order_counts (
  state TEXT PRIMARY KEY,
  n INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refunds (
  merchant TEXT NOT NULL,
  out_refund_no TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  refund_id TEXT NOT NULL,
  amount INTEGER NOT NULL,
  status TEXT NOT NULL,
  success_time TEXT NOT NULL,
  PRIMARY KEY (merchant, out_refund_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refunds_order ON refunds(merchant, out_trade_no);
CREATE TABLE IF NOT EXISTS transitions (
  id INTEGER PRIMARY KEY,
  merchant TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  event TEXT NOT NULL,
  inbox_id INTEGER,
  at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_order ON transitions(merchant, out_trade_no);
CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY,
  provider TEXT NOT NULL,
  merchant TEXT NOT NULL,
  notification_id TEXT NOT NULL,
  business_key TEXT NOT NULL,
  event_type TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  decoded TEXT NOT NULL,
  status TEXT NOT NULL,
  anomaly_code TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '',
  received_at_ms INTEGER NOT NULL,
  redrives INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL DEFAULT 'callback',
  UNIQUE (provider, merchant, notification_id),
  UNIQUE (provider, merchant, business_key)
);
-- Partial indexes: only the rare rows a query looks for, so the hot insert path skips them.
CREATE INDEX IF NOT EXISTS inbox_anomalies ON inbox(merchant, id) WHERE status = 'anomaly';
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY,
  merchant TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  inbox_id INTEGER,
  created_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox(merchant, out_trade_no);
-- Progress markers, e.g. the last outbox id fanned out to merchant endpoints. The single
-- writer assigns outbox ids in commit order, so everything up to the marker is done.
CREATE TABLE IF NOT EXISTS cursors (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
-- Merchant delivery: one row per (outbox event, endpoint); only unfinished rows are indexed
-- for claiming, so delivered history costs the claim query nothing. Per-order ordering is
-- checked through outbox_order and the (outbox_id, endpoint) key.
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY,
  outbox_id INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  merchant TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  event_type TEXT NOT NULL,
  webhook_id TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at_ms INTEGER NOT NULL,
  first_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  UNIQUE (outbox_id, endpoint)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(endpoint, due_at_ms)
  WHERE status IN ('pending', 'delivering');
CREATE INDEX IF NOT EXISTS deliveries_failed ON deliveries(endpoint, created_at_ms)
  WHERE status = 'dead' OR (status = 'pending' AND attempts > 0);
CREATE TABLE IF NOT EXISTS delivery_attempts (
  id INTEGER PRIMARY KEY,
  delivery_id INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  latency_ms INTEGER NOT NULL,
  error TEXT NOT NULL,
  response TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_attempts_delivery ON delivery_attempts(delivery_id);
CREATE TABLE IF NOT EXISTS endpoint_state (
  endpoint TEXT PRIMARY KEY,
  enabled INTEGER NOT NULL,
  reason TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
-- Payments paygate created at a provider. Unsettled ones (asked, no answer believed) are few
-- and are what a query must resolve.
CREATE TABLE IF NOT EXISTS payments (
  merchant TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  provider TEXT NOT NULL,
  method TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  result TEXT NOT NULL DEFAULT '',
  error_code TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL DEFAULT '',
  trade_state TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (merchant, out_trade_no)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS payments_unsettled ON payments(merchant, out_trade_no)
  WHERE status IN ('creating', 'unknown');
-- Refunds paygate asked a provider for (the ledger entry is the refunds row).
CREATE TABLE IF NOT EXISTS refund_requests (
  merchant TEXT NOT NULL,
  out_refund_no TEXT NOT NULL,
  out_trade_no TEXT NOT NULL,
  provider TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  error_code TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL DEFAULT '',
  refund_status TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (merchant, out_refund_no)
) WITHOUT ROWID;
-- Idempotency-Key of the merchant API: status 0 while the first request runs (leased).
CREATE TABLE IF NOT EXISTS idempotency_keys (
  merchant TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  response TEXT NOT NULL DEFAULT '',
  lease_until_ms INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (merchant, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heartbeat (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL);
-- Deliveries per status, kept by triggers so /metrics reads a few rows, never the table.
CREATE TABLE IF NOT EXISTS delivery_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL)
  WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS deliveries_count_insert AFTER INSERT ON deliveries BEGIN
  INSERT INTO delivery_counts (status, n) VALUES (new.status, 1)
    ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS deliveries_count_update AFTER UPDATE OF status ON deliveries
  WHEN old.status <> new.status BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE status = old.status;
  INSERT INTO delivery_counts (status, n) VALUES (new.status, 1)
    ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS deliveries_count_delete AFTER DELETE ON deliveries BEGIN
  UPDATE delivery_counts SET n = n - 1 WHERE status = old.status;
END;
-- The merchant API's event listings: newest first per merchant, and by delivery status.
CREATE INDEX IF NOT EXISTS outbox_merchant ON outbox(merchant, id);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries(merchant, status, outbox_id);
)sql";

// From version 1: order counts move from an index on orders(state) to order_counts.
inline constexpr const char* kMigrateV1ToV2 = R"sql(
DROP INDEX IF EXISTS orders_state;
DROP INDEX IF EXISTS outbox_pending;
)sql";

// From versions 1 and 2: order_counts is kept by the writer instead of triggers; recounted.
inline constexpr const char* kMigrateToV3 = R"sql(
DROP TRIGGER IF EXISTS orders_count_insert;
DROP TRIGGER IF EXISTS orders_count_update;
DROP TRIGGER IF EXISTS orders_count_delete;
DELETE FROM order_counts;
INSERT INTO order_counts (state, n) SELECT state, COUNT(*) FROM orders GROUP BY state;
)sql";

// From versions 1-3: deliveries counted once; the triggers keep it from here on.
inline constexpr const char* kMigrateToV4 = R"sql(
DELETE FROM delivery_counts;
INSERT INTO delivery_counts (status, n) SELECT status, COUNT(*) FROM deliveries GROUP BY status;
)sql";

// From versions 1-4 (when their inbox lacks it): the inbox says how each fact was learnt.
inline constexpr const char* kMigrateToV5 = R"sql(
ALTER TABLE inbox ADD COLUMN source TEXT NOT NULL DEFAULT 'callback';
)sql";

}  // namespace paygate::store::sqlite

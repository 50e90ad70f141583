#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/order.hpp"

namespace paygate::store {

enum class InboxStatus { kProcessing, kApplied, kNoop, kAnomaly };
std::string_view to_string(InboxStatus s);

// One received callback, kept verbatim for audit and re-drive.
struct InboxEntry {
  int64_t id = 0;
  std::string provider;
  std::string merchant;
  std::string notification_id;
  std::string business_key;
  std::string event_type;
  std::string out_trade_no;
  std::string headers_json;  // the signed headers as received
  std::string body;          // the raw body as received
  std::string decoded_json;  // the domain event, for re-drive
  InboxStatus status = InboxStatus::kProcessing;
  std::string anomaly_code;
  std::string detail;
  int64_t received_at_ms = 0;
  int64_t redrives = 0;
  // How paygate learnt it: "callback" (the provider called), "query" (paygate asked), "api"
  // (the provider's answer to a call paygate made, e.g. a close).
  std::string source = "callback";
};

// A payment paygate asked a provider to create, and what is known of the answer.
enum class PaymentStatus {
  kCreating,  // asked (durably), no answer yet: a crash here leaves it to a query
  kCreated,   // the provider created it; `result` holds what the buyer needs
  kRefused,   // the provider said no: nothing exists there
  kUnknown,   // no answer that can be believed: a query (or the identical re-send) resolves it
};
std::string_view to_string(PaymentStatus s);
std::optional<PaymentStatus> parse_payment_status(std::string_view s);

struct Payment {
  std::string merchant;
  std::string out_trade_no;
  std::string provider;  // "wechatpay_v3", ...
  std::string method;    // "jsapi", "native", ...
  std::string request;   // the merchant's request (JSON): a re-send is the identical call
  PaymentStatus status = PaymentStatus::kCreating;
  std::string result;  // JSON object: what the provider gave (prepay_id, code_url, ...)
  std::string error_code;
  std::string error_message;
  std::string trade_state;  // the provider's last word on the trade, from a query
  int attempts = 0;         // create calls made
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// A refund paygate asked a provider for; its ledger entry is the refunds row of the same
// out_refund_no (PROCESSING while the amount is held). `status` is the call's, as for payments:
// kCreating asked, kCreated accepted by the provider, kRefused, kUnknown.
struct RefundRequest {
  std::string merchant;
  std::string out_refund_no;
  std::string out_trade_no;
  std::string provider;
  std::string request;  // the merchant's request (JSON): a re-send is the identical call
  PaymentStatus status = PaymentStatus::kCreating;
  std::string error_code;
  std::string error_message;
  std::string refund_status;  // the provider's last word (PROCESSING, SUCCESS, ...)
  int attempts = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct RefundTotals {
  int64_t count = 0;       // refunds of the order, whatever their status
  int64_t processing = 0;  // amount held by refunds still PROCESSING
};

struct RefundDetails {
  core::Refund refund;
  std::optional<RefundRequest> request;  // when paygate asked for it
};

// An Idempotency-Key of the merchant API: the first request's answer is kept for repeats.
enum class KeyClaim {
  kNew,         // claimed: go on, then finish or release it
  kReplay,      // answered before: send `status` and `response` again
  kInProgress,  // another request holds it (until its lease ends)
  kMismatch,    // used before for another request
};
struct IdempotencyClaim {
  KeyClaim claim = KeyClaim::kNew;
  int status = 0;
  std::string response;
};

struct Transition {
  std::string merchant;
  std::string out_trade_no;
  std::string from_state;
  std::string to_state;
  std::string event;
  int64_t inbox_id = 0;  // 0 when not caused by a callback
  int64_t at_ms = 0;
};

struct OutboxEvent {
  int64_t id = 0;
  std::string merchant;
  std::string out_trade_no;
  std::string event_type;  // "order.paid", ...
  std::string payload;     // JSON
  int64_t inbox_id = 0;
  int64_t created_at_ms = 0;
};


// One outbox event on its way to one merchant endpoint.
enum class DeliveryStatus { kPending, kDelivering, kDelivered, kDead };
std::string_view to_string(DeliveryStatus s);
std::optional<DeliveryStatus> parse_delivery_status(std::string_view s);

struct Delivery {
  int64_t id = 0;
  int64_t outbox_id = 0;
  std::string endpoint;
  std::string merchant;
  std::string out_trade_no;
  std::string event_type;
  std::string webhook_id;  // stable across retries, replays and restarts
  DeliveryStatus status = DeliveryStatus::kPending;
  int attempts = 0;                 // failed attempts since the schedule (re)started
  int64_t due_at_ms = 0;            // next attempt (pending) or end of the lease (delivering)
  int64_t first_attempt_at_ms = 0;  // start of the retry window; 0 before the first attempt
  int64_t last_status = 0;          // HTTP status of the last attempt; 0 for none
  std::string last_error;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  // Set by a claim: the lease its holder owns. A result is recorded only while that lease is
  // still the delivery's (not expired and claimed again, replayed or finished by another).
  int64_t lease_until_ms = 0;
};

// A delivery claimed for sending, with what is sent.
struct ClaimedDelivery {
  Delivery delivery;
  std::string payload;
  int64_t event_created_at_ms = 0;
};

struct DeliveryAttempt {
  int64_t delivery_id = 0;
  int64_t at_ms = 0;
  int64_t status = 0;  // HTTP status; 0 when none came
  std::string outcome;  // "2xx", "5xx", "timeout", ...
  int64_t latency_ms = 0;
  std::string error;
  std::string response;  // the first bytes of the response body
};

struct EndpointState {
  std::string endpoint;
  bool enabled = true;
  std::string reason;
  int64_t updated_at_ms = 0;
};

struct EventFilter {
  std::string merchant;  // required
  std::string out_trade_no;
  std::string event_type;
  std::optional<DeliveryStatus> status;  // events with at least one delivery in this status
  int64_t before_id = 0;                 // paging: ids below this; 0 = from the newest
  int limit = 50;
};

struct EventDetails {
  OutboxEvent event;
  bool routed = false;
  std::vector<Delivery> deliveries;
  std::vector<DeliveryAttempt> attempts;  // of all its deliveries, oldest first
};

// The operations available inside one transaction. Implementations are used by one thread
// at a time; every call may fail with kStoreUnavailable.
class Tx {
 public:
  virtual ~Tx() = default;
  // Records a callback; nullopt when its notification id or business key is already stored.
  [[nodiscard]] virtual core::Result<std::optional<int64_t>> insert_inbox(const InboxEntry& e) = 0;
  [[nodiscard]] virtual core::Result<void> finish_inbox(int64_t id, InboxStatus status,
                                                        std::string_view anomaly_code,
                                                        std::string_view detail) = 0;
  [[nodiscard]] virtual core::Result<std::optional<InboxEntry>> find_inbox(int64_t id) = 0;
  // Callbacks held as unknown_order anomalies for this order, oldest first: they arrived
  // before the merchant registered it.
  [[nodiscard]] virtual core::Result<std::vector<InboxEntry>> waiting_for_order(
      std::string_view merchant, std::string_view out_trade_no) = 0;
  [[nodiscard]] virtual core::Result<std::optional<core::Order>> find_order(
      std::string_view merchant, std::string_view out_trade_no) = 0;
  // False when the order already exists.
  [[nodiscard]] virtual core::Result<bool> insert_order(const core::Order& o) = 0;
  // Writes the order's state fields (state, refunded, provider, transaction_id, paid_at,
  // updated_at_ms). `from` is the state the order was read in; kConflict when the stored order
  // is no longer in it.
  [[nodiscard]] virtual core::Result<void> update_order(const core::Order& o,
                                                        core::OrderState from) = 0;
  [[nodiscard]] virtual core::Result<std::optional<core::Refund>> find_refund(
      std::string_view merchant, std::string_view out_refund_no) = 0;
  [[nodiscard]] virtual core::Result<void> upsert_refund(const core::Refund& r) = 0;
  [[nodiscard]] virtual core::Result<void> add_transition(const Transition& t) = 0;
  [[nodiscard]] virtual core::Result<std::optional<Payment>> find_payment(
      std::string_view merchant, std::string_view out_trade_no) = 0;
  // Inserts or replaces the payment of (merchant, out_trade_no).
  [[nodiscard]] virtual core::Result<void> put_payment(const Payment& p) = 0;
  [[nodiscard]] virtual core::Result<std::optional<RefundRequest>> find_refund_request(
      std::string_view merchant, std::string_view out_refund_no) = 0;
  [[nodiscard]] virtual core::Result<void> put_refund_request(const RefundRequest& r) = 0;
  [[nodiscard]] virtual core::Result<RefundTotals> refund_totals(std::string_view merchant,
                                                                 std::string_view out_trade_no) = 0;
  // Claims `key` for a request whose content hashes to `request_hash`, until `lease_until_ms`
  // (a claim whose lease ran out, its holder gone, is taken over).
  [[nodiscard]] virtual core::Result<IdempotencyClaim> claim_idempotency_key(
      std::string_view merchant, std::string_view key, std::string_view request_hash,
      int64_t now_ms, int64_t lease_until_ms) = 0;
  // Keeps the answer for repeats.
  [[nodiscard]] virtual core::Result<void> finish_idempotency_key(std::string_view merchant,
                                                                  std::string_view key, int status,
                                                                  std::string_view response) = 0;
  // Forgets an unfinished claim: the request failed before anything was decided.
  [[nodiscard]] virtual core::Result<void> release_idempotency_key(std::string_view merchant,
                                                                   std::string_view key) = 0;
  [[nodiscard]] virtual core::Result<int64_t> add_outbox(const OutboxEvent& e) = 0;
  // Merchant delivery. Outbox events not yet fanned out to endpoints, oldest first.
  [[nodiscard]] virtual core::Result<std::vector<OutboxEvent>> unrouted_outbox(int limit) = 0;
  // Every event up to and including `outbox_id` has been fanned out.
  [[nodiscard]] virtual core::Result<void> mark_routed(int64_t outbox_id) = 0;
  // False when this event already has a delivery to this endpoint.
  [[nodiscard]] virtual core::Result<bool> insert_delivery(const Delivery& d) = 0;
  // Due deliveries of `endpoint` (pending and due, or leased and the lease ran out) whose
  // order has no earlier unfinished delivery to the endpoint; leased until `lease_until_ms`.
  [[nodiscard]] virtual core::Result<std::vector<ClaimedDelivery>> claim_deliveries(
      std::string_view endpoint, int64_t now_ms, int64_t lease_until_ms, int limit) = 0;
  // Stores the outcome of an attempt: the attempt record always, and the delivery's new state
  // only while `d.lease_until_ms` is still its lease (a late result never overwrites it).
  [[nodiscard]] virtual core::Result<void> finish_attempt(const Delivery& d,
                                                          const DeliveryAttempt& a) = 0;
  // Claimed deliveries that were never started: pending and due at `now_ms` again.
  [[nodiscard]] virtual core::Result<void> release_deliveries(const std::vector<int64_t>& ids,
                                                              int64_t now_ms) = 0;
  [[nodiscard]] virtual core::Result<void> set_endpoint_state(const EndpointState& s) = 0;
  [[nodiscard]] virtual core::Result<std::optional<EndpointState>> endpoint_state(
      std::string_view endpoint) = 0;
  // Makes deliveries due now with a fresh schedule and their webhook-id kept: every one of one
  // event (`outbox_id` > 0) that is not being sent at the moment, delivered ones included; or
  // the failed (pending after failures) and dead ones of one endpoint created at or after
  // `since_ms`.
  [[nodiscard]] virtual core::Result<int> replay_deliveries(int64_t outbox_id,
                                                            std::string_view endpoint,
                                                            int64_t since_ms, int64_t now_ms) = 0;
  // A write that proves the store accepts durable writes (readiness).
  [[nodiscard]] virtual core::Result<void> heartbeat(int64_t now_ms) = 0;
  // Retention: deletes up to `limit` settled rows older than `before_ms` (delivered deliveries
  // with their attempts; applied and no-op inbox rows). Anomalies, unfinished or dead
  // deliveries, orders, transitions and the outbox are never touched. Rows deleted.
  [[nodiscard]] virtual core::Result<int64_t> prune(int64_t before_ms, int limit) = 0;
};

// A unit of work: runs inside one transaction; an error rolls back everything it did.
using Work = std::function<core::Result<void>(Tx&)>;
// Called once per submitted work: success only after the transaction is durable.
using Done = std::function<void(core::Result<void>)>;

struct OrderDetails {
  core::Order order;
  std::optional<Payment> payment;  // when paygate created it at the provider
  std::vector<core::Refund> refunds;
  std::vector<Transition> history;
};

struct Counts {
  std::map<std::string, int64_t> orders_by_state;
  int64_t anomalies = 0;
  int64_t outbox_pending = 0;                         // not yet fanned out to endpoints
  std::map<std::string, int64_t> deliveries_by_status;  // "pending", "dead", ...
};

class Store {
 public:
  virtual ~Store() = default;
  // Queues `work`; concurrent work shares one durable commit. `done` runs on the store's thread.
  virtual void submit(Work work, Done done) = 0;
  // Units submitted and not yet answered: background work (merchant delivery) backs off
  // while callbacks are waiting on the store.
  virtual std::size_t backlog() const { return 0; }

  // Reads; safe from any thread.
  [[nodiscard]] virtual core::Result<std::optional<OrderDetails>> order_details(
      std::string_view merchant, std::string_view out_trade_no) = 0;
  [[nodiscard]] virtual core::Result<std::vector<InboxEntry>> anomalies(std::string_view merchant,
                                                                        int limit) = 0;
  [[nodiscard]] virtual core::Result<std::optional<RefundDetails>> refund_details(
      std::string_view merchant, std::string_view out_refund_no) = 0;
  [[nodiscard]] virtual core::Result<std::optional<InboxEntry>> inbox_entry(int64_t id) = 0;
  [[nodiscard]] virtual core::Result<std::vector<OutboxEvent>> outbox_for_order(
      std::string_view merchant, std::string_view out_trade_no) = 0;
  [[nodiscard]] virtual core::Result<Counts> counts() = 0;
  [[nodiscard]] virtual core::Result<std::vector<OutboxEvent>> list_events(
      const EventFilter& f) = 0;
  [[nodiscard]] virtual core::Result<std::optional<EventDetails>> event_details(int64_t id) = 0;
  [[nodiscard]] virtual core::Result<std::vector<EndpointState>> endpoint_states() = 0;

  // Runs `done` once everything committed before this call is durable (at once when it is),
  // with an error when the store failed first. A read answered from within `done` shows only
  // facts that survive a power cut. `done` may run on the store's thread.
  virtual void when_durable(Done done) = 0;
  // False once the store has failed for good (a failed sync): the process must restart.
  virtual bool healthy() const { return true; }

  // Finishes queued work, then closes. Submissions after close fail with kStoreUnavailable.
  virtual void close() = 0;
};

}  // namespace paygate::store

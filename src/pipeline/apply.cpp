#include "pipeline/apply.hpp"

#include <algorithm>

#include "core/state_machine.hpp"
#include "pipeline/event_json.hpp"

namespace paygate::pipeline {
namespace {

using core::ErrorCode;
using core::Result;

// The payload's identity against configuration and the stored order; nullopt when it fits.
std::optional<std::pair<ErrorCode, std::string>> mismatch(const core::PaymentEvent& e,
                                                          const Identity& id,
                                                          const std::optional<core::Order>& o) {
  if (e.mchid != id.provider_mchid) {
    return std::pair{ErrorCode::kMerchantMismatch, "mchid is not this merchant's"};
  }
  if (!e.appid.empty() &&
      std::find(id.appids.begin(), id.appids.end(), e.appid) == id.appids.end()) {
    return std::pair{ErrorCode::kAppMismatch, "appid is not allowed for this merchant"};
  }
  if (!o) return std::pair{ErrorCode::kUnknownOrder, "no such order"};
  if (e.total != o->amount) {
    return std::pair{ErrorCode::kAmountMismatch, "amount differs from the order"};
  }
  if (!e.currency.empty() && e.currency != o->currency) {
    return std::pair{ErrorCode::kCurrencyMismatch, "currency differs from the order"};
  }
  return std::nullopt;
}

// What an event does, decided from reads alone so the inbox row is written once, final.
struct Plan {
  store::InboxStatus status = store::InboxStatus::kAnomaly;
  ErrorCode anomaly = ErrorCode::kInternal;
  std::string detail;
  // Set when the event applies:
  core::Order order;
  core::OrderState from = core::OrderState::kPending;
  std::optional<core::RefundStatus> refund;
  int64_t refund_amount = 0;
  std::string outbox_event;
};

Plan anomaly_plan(ErrorCode code, std::string detail) {
  Plan p;
  p.anomaly = code;
  p.detail = std::move(detail);
  return p;
}

Result<Plan> plan_event(store::Tx& tx, const core::PaymentEvent& e, const Identity& id,
                        int64_t now_ms) {
  auto found = tx.find_order(id.merchant, e.out_trade_no);
  if (!found) return tl::unexpected(found.error());
  if (auto bad = mismatch(e, id, *found)) return anomaly_plan(bad->first, bad->second);
  core::Order order = std::move(**found);

  std::optional<core::Refund> refund;
  if (core::is_refund(e.kind)) {
    auto r = tx.find_refund(id.merchant, e.out_refund_no);
    if (!r) return tl::unexpected(r.error());
    refund = std::move(*r);
    if (refund && refund->out_trade_no != order.out_trade_no) {
      return anomaly_plan(ErrorCode::kIllegalTransition, "out_refund_no belongs to another order");
    }
  }

  const auto d = core::decide(order, e, refund ? &*refund : nullptr);
  if (d.kind == core::Decision::Kind::kAnomaly) {
    Plan p = anomaly_plan(d.anomaly, d.reason);
    if (!d.outbox_event.empty()) {  // an anomaly the merchant hears of (double payment)
      p.order = std::move(order);
      p.outbox_event = d.outbox_event;
    }
    return p;
  }
  Plan p;
  if (d.kind == core::Decision::Kind::kNoop) {
    p.status = store::InboxStatus::kNoop;
    p.detail = d.reason;
    return p;
  }
  p.status = store::InboxStatus::kApplied;
  p.from = order.state;
  order.state = d.next;
  order.refunded = d.refunded;
  order.updated_at_ms = now_ms;
  if (e.kind == core::EventKind::kPaymentSucceeded) {
    order.provider = e.provider;
    order.transaction_id = e.transaction_id;
    order.paid_at = e.success_time;
  }
  p.order = std::move(order);
  p.refund = d.refund;
  p.refund_amount = d.refund_amount;
  p.outbox_event = d.outbox_event;
  return p;
}

// The effect of an applied plan: order, refund, history and the outbox event.
Result<void> write_plan(store::Tx& tx, const Plan& p, int64_t inbox_id,
                        const core::PaymentEvent& e, const Identity& id, int64_t now_ms) {
  if (p.status == store::InboxStatus::kAnomaly && !p.outbox_event.empty()) {
    // The order stays as it is; only the merchant event is written.
    store::OutboxEvent ob;
    ob.merchant = id.merchant;
    ob.out_trade_no = p.order.out_trade_no;
    ob.event_type = p.outbox_event;
    ob.payload = outbox_payload(p.outbox_event, p.order, e);
    ob.inbox_id = inbox_id;
    ob.created_at_ms = now_ms;
    if (auto r = tx.add_outbox(ob); !r) return tl::unexpected(r.error());
    return {};
  }
  if (p.status != store::InboxStatus::kApplied) return {};
  const core::Order& order = p.order;
  if (auto r = tx.update_order(order, p.from); !r) return r;
  if (p.refund) {
    core::Refund rec{id.merchant,    order.out_trade_no, e.out_refund_no, e.refund_id,
                     p.refund_amount, *p.refund,        e.success_time};
    if (auto r = tx.upsert_refund(rec); !r) return r;
  }
  store::Transition t{id.merchant,    order.out_trade_no, std::string(core::to_string(p.from)),
                      std::string(core::to_string(order.state)), p.outbox_event, inbox_id,
                      now_ms};
  if (auto r = tx.add_transition(t); !r) return r;
  store::OutboxEvent ob;
  ob.merchant = id.merchant;
  ob.out_trade_no = order.out_trade_no;
  ob.event_type = p.outbox_event;
  ob.payload = outbox_payload(p.outbox_event, order, e);
  ob.inbox_id = inbox_id;
  ob.created_at_ms = now_ms;
  if (auto r = tx.add_outbox(ob); !r) return tl::unexpected(r.error());
  return {};
}

Applied outcome(const Plan& p, int64_t inbox_id) {
  switch (p.status) {
    case store::InboxStatus::kApplied:
      return Applied{providers::Outcome::kApplied, inbox_id, ErrorCode::kInternal, {}};
    case store::InboxStatus::kNoop:
      return Applied{providers::Outcome::kDuplicate, inbox_id, ErrorCode::kInternal, p.detail};
    default:
      return Applied{providers::Outcome::kAnomaly, inbox_id, p.anomaly, p.detail};
  }
}

std::string anomaly_code(const Plan& p) {
  return p.status == store::InboxStatus::kAnomaly ? std::string(core::to_string(p.anomaly)) : "";
}

}  // namespace

Result<Applied> apply_event(store::Tx& tx, int64_t inbox_id, const core::PaymentEvent& e,
                            const Identity& id, int64_t now_ms) {
  auto plan = plan_event(tx, e, id, now_ms);
  if (!plan) return tl::unexpected(plan.error());
  if (auto r = tx.finish_inbox(inbox_id, plan->status, anomaly_code(*plan), plan->detail); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = write_plan(tx, *plan, inbox_id, e, id, now_ms); !r) {
    return tl::unexpected(r.error());
  }
  return outcome(*plan, inbox_id);
}

Result<Applied> record_and_apply(store::Tx& tx, const store::InboxEntry& entry,
                                 const core::PaymentEvent& e, const Identity& id,
                                 int64_t now_ms) {
  const Applied duplicate{providers::Outcome::kDuplicate, 0, ErrorCode::kInternal,
                          "notification already received"};
  // Planning only reads; the inbox insert is the dedupe (it writes nothing on a duplicate),
  // so a first delivery does not pay for a separate probe of both unique keys.
  auto plan = plan_event(tx, e, id, now_ms);
  if (!plan) return tl::unexpected(plan.error());
  store::InboxEntry row = entry;
  row.status = plan->status;
  row.anomaly_code = anomaly_code(*plan);
  row.detail = plan->detail;
  auto inserted = tx.insert_inbox(row);
  if (!inserted) return tl::unexpected(inserted.error());
  if (!*inserted) return duplicate;
  if (auto r = write_plan(tx, *plan, **inserted, e, id, now_ms); !r) {
    return tl::unexpected(r.error());
  }
  return outcome(*plan, **inserted);
}

}  // namespace paygate::pipeline

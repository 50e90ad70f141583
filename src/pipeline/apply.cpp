#include "pipeline/apply.hpp"

#include <algorithm>

#include "core/state_machine.hpp"
#include "pipeline/event_json.hpp"

namespace paygate::pipeline {
namespace {

using core::ErrorCode;
using core::Result;

bool is_refund(core::EventKind k) {
  return k == core::EventKind::kRefundSucceeded || k == core::EventKind::kRefundAbnormal ||
         k == core::EventKind::kRefundClosed;
}

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

Result<Applied> anomaly(store::Tx& tx, int64_t inbox_id, ErrorCode code, std::string detail) {
  if (auto r = tx.finish_inbox(inbox_id, store::InboxStatus::kAnomaly, core::to_string(code),
                               detail);
      !r) {
    return tl::unexpected(r.error());
  }
  return Applied{providers::Outcome::kAnomaly, inbox_id, code, std::move(detail)};
}

}  // namespace

Result<Applied> apply_event(store::Tx& tx, int64_t inbox_id, const core::PaymentEvent& e,
                            const Identity& id, int64_t now_ms) {
  auto found = tx.find_order(id.merchant, e.out_trade_no);
  if (!found) return tl::unexpected(found.error());
  if (auto bad = mismatch(e, id, *found)) {
    return anomaly(tx, inbox_id, bad->first, bad->second);
  }
  core::Order order = std::move(**found);

  std::optional<core::Refund> refund;
  if (is_refund(e.kind)) {
    auto r = tx.find_refund(id.merchant, e.out_refund_no);
    if (!r) return tl::unexpected(r.error());
    refund = std::move(*r);
    if (refund && refund->out_trade_no != order.out_trade_no) {
      return anomaly(tx, inbox_id, ErrorCode::kIllegalTransition,
                     "out_refund_no belongs to another order");
    }
  }

  const auto d = core::decide(order, e, refund ? &*refund : nullptr);
  if (d.kind == core::Decision::Kind::kAnomaly) return anomaly(tx, inbox_id, d.anomaly, d.reason);
  if (d.kind == core::Decision::Kind::kNoop) {
    if (auto r = tx.finish_inbox(inbox_id, store::InboxStatus::kNoop, "", d.reason); !r) {
      return tl::unexpected(r.error());
    }
    return Applied{providers::Outcome::kDuplicate, inbox_id, ErrorCode::kInternal, d.reason};
  }

  const auto from = order.state;
  order.state = d.next;
  order.refunded = d.refunded;
  order.updated_at_ms = now_ms;
  if (e.kind == core::EventKind::kPaymentSucceeded) {
    order.provider = e.provider;
    order.transaction_id = e.transaction_id;
    order.paid_at = e.success_time;
  }
  if (auto r = tx.update_order(order); !r) return tl::unexpected(r.error());
  if (d.refund) {
    core::Refund rec{id.merchant, order.out_trade_no, e.out_refund_no, e.refund_id,
                     e.refund_amount, *d.refund,   e.success_time};
    if (auto r = tx.upsert_refund(rec); !r) return tl::unexpected(r.error());
  }
  store::Transition t{id.merchant,    order.out_trade_no, std::string(core::to_string(from)),
                      std::string(core::to_string(order.state)), d.outbox_event, inbox_id,
                      now_ms};
  if (auto r = tx.add_transition(t); !r) return tl::unexpected(r.error());
  store::OutboxEvent ob;
  ob.merchant = id.merchant;
  ob.out_trade_no = order.out_trade_no;
  ob.event_type = d.outbox_event;
  ob.payload = outbox_payload(d.outbox_event, order, e);
  ob.inbox_id = inbox_id;
  ob.created_at_ms = now_ms;
  if (auto r = tx.add_outbox(ob); !r) return tl::unexpected(r.error());
  if (auto r = tx.finish_inbox(inbox_id, store::InboxStatus::kApplied, "", ""); !r) {
    return tl::unexpected(r.error());
  }
  return Applied{providers::Outcome::kApplied, inbox_id, ErrorCode::kInternal, {}};
}

Result<Applied> record_and_apply(store::Tx& tx, const store::InboxEntry& entry,
                                 const core::PaymentEvent& e, const Identity& id,
                                 int64_t now_ms) {
  auto inserted = tx.insert_inbox(entry);
  if (!inserted) return tl::unexpected(inserted.error());
  if (!*inserted) return Applied{providers::Outcome::kDuplicate, 0, ErrorCode::kInternal,
                                 "notification already received"};
  return apply_event(tx, **inserted, e, id, now_ms);
}

}  // namespace paygate::pipeline

#include "core/state_machine.hpp"

namespace paygate::core {
namespace {

Decision apply(OrderState next, int64_t refunded, std::string event,
               std::optional<RefundStatus> refund = std::nullopt) {
  Decision d;
  d.kind = Decision::Kind::kApply;
  d.next = next;
  d.refunded = refunded;
  d.refund = refund;
  d.outbox_event = std::move(event);
  return d;
}

Decision noop(const Order& o, std::string reason) {
  Decision d;
  d.kind = Decision::Kind::kNoop;
  d.next = o.state;
  d.refunded = o.refunded;
  d.reason = std::move(reason);
  return d;
}

Decision anomaly(const Order& o, ErrorCode code, std::string reason) {
  Decision d;
  d.kind = Decision::Kind::kAnomaly;
  d.next = o.state;
  d.refunded = o.refunded;
  d.anomaly = code;
  d.reason = std::move(reason);
  return d;
}

Decision on_payment(const Order& o, const PaymentEvent& e) {
  switch (o.state) {
    case OrderState::kPending:
      return apply(OrderState::kPaid, 0, "order.paid");
    case OrderState::kClosed:
      return anomaly(o, ErrorCode::kIllegalTransition, "paid after the order was closed");
    case OrderState::kPaid:
    case OrderState::kPartiallyRefunded:
    case OrderState::kRefunded:
      if (o.transaction_id == e.transaction_id) return noop(o, "payment already applied");
      {
        // The payer paid twice: nothing to apply, but the merchant must hear of it (a refund).
        Decision d = anomaly(o, ErrorCode::kDoublePayment,
                             "second payment with another transaction id");
        d.outbox_event = "order.double_payment";
        return d;
      }
  }
  return anomaly(o, ErrorCode::kInternal, "unknown state");
}

Decision on_close(const Order& o) {
  switch (o.state) {
    case OrderState::kPending:
      return apply(OrderState::kClosed, 0, "order.closed");
    case OrderState::kClosed:
      return noop(o, "already closed");
    default:
      return noop(o, "close after payment is superseded");
  }
}

Decision on_refund_succeeded(const Order& o, const PaymentEvent& e, const Refund* r) {
  if (r != nullptr && r->status == RefundStatus::kSucceeded) {
    return noop(o, "refund already succeeded");
  }
  if (!is_paid(o.state)) {
    return anomaly(o, ErrorCode::kIllegalTransition, "refund for an order that is not paid");
  }
  if (e.refund_amount <= 0) {
    return anomaly(o, ErrorCode::kAmountMismatch, "refund amount is not positive");
  }
  const int64_t amount = e.refund_cumulative ? e.refund_amount - o.refunded : e.refund_amount;
  if (amount <= 0) return noop(o, "refunded total already recorded");
  // Compared without adding, so a huge amount cannot overflow past the check.
  if (o.refunded < 0 || o.refunded > o.amount || amount > o.amount - o.refunded) {
    return anomaly(o, ErrorCode::kRefundExceedsPaid, "refunds exceed the paid amount");
  }
  const int64_t total = o.refunded + amount;
  const auto next = total == o.amount ? OrderState::kRefunded : OrderState::kPartiallyRefunded;
  Decision d = apply(next, total, "refund.succeeded", RefundStatus::kSucceeded);
  d.refund_amount = amount;
  return d;
}

Decision on_refund_failed(const Order& o, const PaymentEvent& e, const Refund* r,
                          RefundStatus status, std::string event) {
  if (r != nullptr && r->status == RefundStatus::kSucceeded) {
    return noop(o, "refund already succeeded; failure report is stale");
  }
  if (r != nullptr && r->status == status) return noop(o, "refund status already recorded");
  if (!is_paid(o.state)) {
    return anomaly(o, ErrorCode::kIllegalTransition, "refund for an order that is not paid");
  }
  Decision d = apply(o.state, o.refunded, std::move(event), status);
  d.refund_amount = e.refund_cumulative ? 0 : e.refund_amount;
  return d;
}

}  // namespace

Decision decide(const Order& order, const PaymentEvent& event, const Refund* existing_refund) {
  switch (event.kind) {
    case EventKind::kPaymentSucceeded:
      return on_payment(order, event);
    case EventKind::kPaymentClosed:
      return on_close(order);
    case EventKind::kRefundSucceeded:
      return on_refund_succeeded(order, event, existing_refund);
    case EventKind::kRefundAbnormal:
      return on_refund_failed(order, event, existing_refund, RefundStatus::kAbnormal,
                              "refund.abnormal");
    case EventKind::kRefundClosed:
      return on_refund_failed(order, event, existing_refund, RefundStatus::kClosed,
                              "refund.closed");
    case EventKind::kPaymentWaiting:
      return noop(order, "payment not made yet");
    case EventKind::kUnsupported:
      return anomaly(order, ErrorCode::kUnsupportedEvent, "state not applied by paygate");
  }
  return anomaly(order, ErrorCode::kInternal, "unknown event");
}

}  // namespace paygate::core

#include "core/order.hpp"

namespace paygate::core {

std::string_view to_string(OrderState s) {
  switch (s) {
    case OrderState::kPending: return "PENDING";
    case OrderState::kPaid: return "PAID";
    case OrderState::kPartiallyRefunded: return "PARTIALLY_REFUNDED";
    case OrderState::kRefunded: return "REFUNDED";
    case OrderState::kClosed: return "CLOSED";
  }
  return "PENDING";
}

std::optional<OrderState> parse_order_state(std::string_view s) {
  for (auto st : {OrderState::kPending, OrderState::kPaid, OrderState::kPartiallyRefunded,
                  OrderState::kRefunded, OrderState::kClosed}) {
    if (to_string(st) == s) return st;
  }
  return std::nullopt;
}

std::string_view to_string(RefundStatus s) {
  switch (s) {
    case RefundStatus::kSucceeded: return "SUCCESS";
    case RefundStatus::kAbnormal: return "ABNORMAL";
    case RefundStatus::kClosed: return "CLOSED";
    case RefundStatus::kProcessing: return "PROCESSING";
  }
  return "ABNORMAL";
}

std::string_view to_string(EventKind k) {
  switch (k) {
    case EventKind::kPaymentSucceeded: return "payment.succeeded";
    case EventKind::kPaymentClosed: return "payment.closed";
    case EventKind::kPaymentWaiting: return "payment.waiting";
    case EventKind::kRefundSucceeded: return "refund.succeeded";
    case EventKind::kRefundAbnormal: return "refund.abnormal";
    case EventKind::kRefundClosed: return "refund.closed";
    case EventKind::kUnsupported: return "unsupported";
  }
  return "unknown";
}

std::string PaymentEvent::business_key() const {
  std::string key(to_string(kind));
  key += ':';
  key += out_trade_no;
  if (is_refund(kind)) {
    key += ':';
    key += out_refund_no;
  }
  if (kind == EventKind::kPaymentSucceeded) {
    // A second payment with another transaction id is a different fact (a double payment),
    // not a duplicate of the first.
    key += ':';
    key += transaction_id;
  }
  if (kind == EventKind::kUnsupported) {
    key += ':';
    key += notification_id;
  }
  return key;
}

bool is_refund(EventKind k) {
  return k == EventKind::kRefundSucceeded || k == EventKind::kRefundAbnormal ||
         k == EventKind::kRefundClosed;
}

}  // namespace paygate::core

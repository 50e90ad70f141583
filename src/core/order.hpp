#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace paygate::core {

enum class OrderState { kPending, kPaid, kPartiallyRefunded, kRefunded, kClosed };

std::string_view to_string(OrderState s);
std::optional<OrderState> parse_order_state(std::string_view s);
inline bool is_paid(OrderState s) {
  return s == OrderState::kPaid || s == OrderState::kPartiallyRefunded ||
         s == OrderState::kRefunded;
}

// An order the merchant registered and expects to be paid. Amounts are integer minor units (fen).
struct Order {
  std::string merchant;
  std::string out_trade_no;
  int64_t amount = 0;
  std::string currency = "CNY";
  std::string description;
  std::optional<int64_t> expires_at;  // unix seconds
  OrderState state = OrderState::kPending;
  int64_t refunded = 0;
  std::string provider;        // which provider paid it
  std::string transaction_id;  // provider's payment id
  std::string paid_at;         // provider's success time, as the provider wrote it
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// kProcessing: asked of the provider by paygate, its result not known yet (the amount is held
// against the order so refunds in flight can never add up past what was paid).
enum class RefundStatus { kSucceeded, kAbnormal, kClosed, kProcessing };
std::string_view to_string(RefundStatus s);

struct Refund {
  std::string merchant;
  std::string out_trade_no;
  std::string out_refund_no;
  std::string refund_id;
  int64_t amount = 0;
  RefundStatus status = RefundStatus::kSucceeded;
  std::string success_time;
};

enum class EventKind {
  kPaymentSucceeded,
  kPaymentClosed,
  kPaymentWaiting,  // created, not paid yet (Alipay WAIT_BUYER_PAY): recorded, changes nothing
  kRefundSucceeded,
  kRefundAbnormal,
  kRefundClosed,
  // Authentic, but in a state paygate does not apply (WeChat NOTPAY, USERPAYING, an unknown
  // event type): stored and acknowledged as an anomaly; a retry could not change it.
  kUnsupported,
};
std::string_view to_string(EventKind k);
bool is_refund(EventKind k);

// A verified, decoded provider notification in provider-neutral terms.
struct PaymentEvent {
  EventKind kind = EventKind::kPaymentSucceeded;
  std::string provider;          // "wechatpay_v3", ...
  std::string notification_id;   // provider's id of this notification
  std::string provider_event;    // provider's event type string, for audit
  std::string mchid;             // merchant id at the provider
  std::string appid;             // empty when the provider does not send one (refunds)
  std::string out_trade_no;
  std::string transaction_id;
  int64_t total = 0;             // order total as the provider states it
  std::string currency;          // empty when the provider does not send one
  std::string success_time;
  std::string out_refund_no;
  std::string refund_id;
  int64_t refund_amount = 0;
  // The provider states the order's refunded total after this refund (Alipay's refund_fee)
  // rather than this refund's own amount.
  bool refund_cumulative = false;

  // The dedupe key of the business fact, independent of the notification id (an unsupported
  // notification has none: its notification id is its key).
  std::string business_key() const;
};

}  // namespace paygate::core

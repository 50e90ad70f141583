#pragma once
#include <optional>
#include <string>

#include "core/error.hpp"
#include "core/order.hpp"

namespace paygate::core {

// What applying one event to one order means. Pure: no I/O, fully table-tested.
struct Decision {
  enum class Kind {
    kApply,    // change the order (and/or its refund) and emit `outbox_event`
    kNoop,     // already applied or superseded: no effect, acknowledged
    kAnomaly,  // authentic but does not fit the order: recorded, not applied, acknowledged
  };
  Kind kind = Kind::kNoop;
  OrderState next = OrderState::kPending;
  int64_t refunded = 0;                    // order's refunded total after the event
  std::optional<RefundStatus> refund;      // refund record to write, if any
  int64_t refund_amount = 0;               // that record's own amount
  std::string outbox_event;                // "order.paid", "refund.succeeded", ...
  ErrorCode anomaly = ErrorCode::kInternal;
  std::string reason;                      // log-only explanation
};

// `existing_refund` is the stored refund with the event's out_refund_no, if any.
// The event's identity fields (merchant, app, amount, currency) are checked elsewhere.
Decision decide(const Order& order, const PaymentEvent& event, const Refund* existing_refund);

}  // namespace paygate::core

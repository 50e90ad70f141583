#include "store/store.hpp"

namespace paygate::store {

std::string_view to_string(InboxStatus s) {
  switch (s) {
    case InboxStatus::kProcessing: return "processing";
    case InboxStatus::kApplied: return "applied";
    case InboxStatus::kNoop: return "noop";
    case InboxStatus::kAnomaly: return "anomaly";
  }
  return "processing";
}

std::string_view to_string(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kPending: return "pending";
    case DeliveryStatus::kDelivering: return "delivering";
    case DeliveryStatus::kDelivered: return "delivered";
    case DeliveryStatus::kDead: return "dead";
  }
  return "pending";
}

std::optional<DeliveryStatus> parse_delivery_status(std::string_view s) {
  for (auto v : {DeliveryStatus::kPending, DeliveryStatus::kDelivering, DeliveryStatus::kDelivered,
                 DeliveryStatus::kDead}) {
    if (to_string(v) == s) return v;
  }
  return std::nullopt;
}

std::string_view to_string(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::kCreating: return "creating";
    case PaymentStatus::kCreated: return "created";
    case PaymentStatus::kRefused: return "refused";
    case PaymentStatus::kUnknown: return "unknown";
  }
  return "unknown";
}

std::optional<PaymentStatus> parse_payment_status(std::string_view s) {
  for (auto v : {PaymentStatus::kCreating, PaymentStatus::kCreated, PaymentStatus::kRefused,
                 PaymentStatus::kUnknown}) {
    if (to_string(v) == s) return v;
  }
  return std::nullopt;
}

}  // namespace paygate::store

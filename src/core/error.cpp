#include "core/error.hpp"

namespace paygate::core {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kBodyTooLarge: return "body_too_large";
    case ErrorCode::kUnknownMerchant: return "unknown_merchant";
    case ErrorCode::kMissingHeader: return "missing_header";
    case ErrorCode::kUnknownKey: return "unknown_serial";
    case ErrorCode::kStaleTimestamp: return "stale_timestamp";
    case ErrorCode::kBadSignature: return "bad_signature";
    case ErrorCode::kDecryptFailed: return "decrypt_failed";
    case ErrorCode::kUnknownOrder: return "unknown_order";
    case ErrorCode::kMerchantMismatch: return "merchant_mismatch";
    case ErrorCode::kAppMismatch: return "app_mismatch";
    case ErrorCode::kAmountMismatch: return "amount_mismatch";
    case ErrorCode::kCurrencyMismatch: return "currency_mismatch";
    case ErrorCode::kIllegalTransition: return "illegal_transition";
    case ErrorCode::kRefundExceedsPaid: return "refund_exceeds_paid";
    case ErrorCode::kDoublePayment: return "double_payment";
    case ErrorCode::kUnsupportedEvent: return "unsupported_event";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kStoreUnavailable: return "store_unavailable";
    case ErrorCode::kOverloaded: return "overloaded";
    case ErrorCode::kProviderUnavailable: return "provider_unavailable";
    case ErrorCode::kProviderUnknown: return "provider_unknown";
    case ErrorCode::kProviderRefused: return "provider_refused";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

bool is_anomaly(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknownOrder:
    case ErrorCode::kMerchantMismatch:
    case ErrorCode::kAppMismatch:
    case ErrorCode::kAmountMismatch:
    case ErrorCode::kCurrencyMismatch:
    case ErrorCode::kIllegalTransition:
    case ErrorCode::kRefundExceedsPaid:
    case ErrorCode::kUnsupportedEvent:
    case ErrorCode::kDoublePayment:
      return true;
    default:
      return false;
  }
}

}  // namespace paygate::core

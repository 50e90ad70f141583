#pragma once
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace paygate::core {

// Grouped by pipeline stage; the reply a provider gets is derived from the code alone.
enum class ErrorCode {
  // request shape
  kMalformed,
  kBodyTooLarge,
  kUnknownMerchant,
  // authentication of a callback
  kMissingHeader,
  kUnknownKey,
  kStaleTimestamp,
  kBadSignature,
  kDecryptFailed,
  // business checks against the stored order (anomalies, not retried)
  kUnknownOrder,
  kMerchantMismatch,
  kAppMismatch,
  kAmountMismatch,
  kCurrencyMismatch,
  kIllegalTransition,
  kRefundExceedsPaid,
  kDoublePayment,  // a second successful payment of a paid order: money to give back
  kUnsupportedEvent,
  // API
  kUnauthorized,
  kForbidden,
  kNotFound,
  kConflict,
  kInvalidArgument,
  // infrastructure
  kStoreUnavailable,
  kOverloaded,  // the store's queue is full: refused at once, retry later
  // a provider's API
  kProviderUnavailable,  // certainly not sent (unreachable, breaker open): nothing happened
  kProviderUnknown,      // no answer that can be believed: it may have happened
  kProviderRefused,      // the provider said no
  kInternal,
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string detail;  // for logs only, never sent to a caller
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string detail = {}) {
  return tl::unexpected<Error>(Error{code, std::move(detail)});
}

// True for the errors that mean "the payload is authentic but does not fit our records".
bool is_anomaly(ErrorCode code);

}  // namespace paygate::core

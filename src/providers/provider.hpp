#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/headers.hpp"
#include "core/order.hpp"

namespace paygate::providers {

// Exactly what arrived over HTTP; the body is the raw bytes, never re-serialised.
struct InboundRequest {
  std::string_view method;
  std::string_view target;
  const core::Headers& headers;
  std::string_view body;
};

// A callback that passed authentication and decoding.
struct Notification {
  core::PaymentEvent event;  // carries no payer data
};

// What the pipeline concluded; the adapter turns it into the provider's exact ack.
enum class Outcome { kApplied, kDuplicate, kAnomaly };

struct Reply {
  int status = 200;
  std::string content_type;
  std::string body;
};

// One provider's inbound callback protocol for one merchant. Adapters do no I/O: time, keys
// and the raw request are inputs, values are outputs. Thread-safe (immutable after build).
class CallbackAdapter {
 public:
  virtual ~CallbackAdapter() = default;
  virtual std::string_view provider() const = 0;

  // Verifies the raw request (signature, replay window), then decrypts and maps it.
  [[nodiscard]] virtual core::Result<Notification> accept(const InboundRequest& request,
                                                          int64_t now_unix) const = 0;

  // The merchant id and app ids this merchant holds at the provider; checked against payloads.
  virtual std::string_view provider_merchant_id() const = 0;
  virtual const std::vector<std::string>& allowed_app_ids() const = 0;

  // The exact ack for a durable outcome, or the failure reply for an error.
  virtual Reply reply(Outcome outcome) const = 0;
  virtual Reply reply(core::ErrorCode error) const = 0;

  // A browser returning from the provider's pay page with signed query parameters: the
  // out_trade_no they name once verified. Display only; it never changes an order.
  [[nodiscard]] virtual core::Result<std::string> verify_return(std::string_view query) const {
    return core::fail(core::ErrorCode::kNotFound, "no browser return for this provider");
  }
};

}  // namespace paygate::providers

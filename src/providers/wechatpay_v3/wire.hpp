#pragma once
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/order.hpp"

namespace paygate::providers::wechatpay_v3 {

// The outer (unencrypted) notification body.
struct Envelope {
  std::string id;
  std::string event_type;
  std::string algorithm;
  std::string ciphertext;
  std::string associated_data;
  std::string nonce;
  std::string original_type;
};

[[nodiscard]] core::Result<Envelope> parse_envelope(std::string_view body);

// Maps a decrypted resource to a domain event (which carries no payer data); unknown statuses
// never become "paid".
[[nodiscard]] core::Result<core::PaymentEvent> parse_resource(const Envelope& envelope,
                                                              std::string_view plaintext);

// A transaction as a query answers it (the same object a payment callback carries encrypted).
struct Transaction {
  std::string trade_state;  // SUCCESS, REFUND, NOTPAY, USERPAYING, CLOSED, REVOKED, PAYERROR, ...
  // SUCCESS and REFUND map to a payment, CLOSED and REVOKED to a close, the rest to kUnsupported.
  core::PaymentEvent event;
};
[[nodiscard]] core::Result<Transaction> parse_transaction(std::string_view body);

}  // namespace paygate::providers::wechatpay_v3

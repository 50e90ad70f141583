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

// Maps a decrypted resource to a domain event; unknown statuses never become "paid".
// `redacted` receives the resource without payer data, for storage.
[[nodiscard]] core::Result<core::PaymentEvent> parse_resource(const Envelope& envelope,
                                                              std::string_view plaintext,
                                                              std::string* redacted);

}  // namespace paygate::providers::wechatpay_v3

#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/secret.hpp"
#include "crypto/rsa.hpp"
#include "providers/provider.hpp"
#include "providers/wechatpay_v3/signing.hpp"

namespace paygate::providers::wechatpay_v3 {

struct Settings {
  std::string mchid;
  std::vector<std::string> appids;
  core::Secret apiv3_key;  // 32 ASCII characters, used as the AES-256 key bytes
  std::vector<VerificationKey> keys;
  int64_t max_clock_skew_seconds = 300;
};

// Every check run independently, for `paygate verify`: a failing callback shows all its faults.
struct Inspection {
  std::optional<std::string> serial;
  bool serial_known = false;
  bool timestamp_within_skew = false;
  int64_t clock_skew_seconds = 0;
  bool signature_valid = false;
  bool signature_probe = false;
  bool decrypt_ok = false;
  bool parse_ok = false;
  bool headers_unique = true;  // no signed header came twice
  std::string plaintext;  // decrypted resource, when decryption succeeded
  std::optional<core::PaymentEvent> event;
  std::vector<std::string> problems;
  bool accepted() const {
    return headers_unique && serial_known && timestamp_within_skew && signature_valid &&
           decrypt_ok && parse_ok;
  }
};

class Adapter final : public CallbackAdapter {
 public:
  explicit Adapter(Settings settings);

  std::string_view provider() const override { return "wechatpay_v3"; }
  core::Result<Notification> accept(const InboundRequest& request,
                                    int64_t now_unix) const override;
  std::string_view provider_merchant_id() const override { return settings_.mchid; }
  const std::vector<std::string>& allowed_app_ids() const override { return settings_.appids; }
  Reply reply(Outcome outcome) const override;
  Reply reply(core::ErrorCode error) const override;

  Inspection inspect(const InboundRequest& request, int64_t now_unix) const;

 private:
  Settings settings_;
};

}  // namespace paygate::providers::wechatpay_v3

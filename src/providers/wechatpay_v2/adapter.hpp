#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/secret.hpp"
#include "providers/form.hpp"
#include "providers/provider.hpp"

namespace paygate::providers::wechatpay_v2 {

enum class SignType { kMd5, kHmacSha256 };

// stringA: parameters except `sign`, empty values dropped, sorted by name (bytes), "k=v"
// joined by "&" with raw values.
std::string string_a(const FormParams& params);
// Upper-case hex MD5 or HMAC-SHA256 (key = API key) of stringA + "&key=" + API key.
std::string sign(const FormParams& params, std::string_view api_key, SignType type);

struct Settings {
  std::string mchid;
  std::vector<std::string> appids;
  core::Secret api_key;  // the 32-character APIv2 key
  // The sign type the merchant's orders use; a payment result signed with another (or with
  // none, which means MD5, where HMAC-SHA256 is configured) is refused: no silent downgrade.
  SignType sign_type = SignType::kMd5;
  bool any_sign_type = false;  // `paygate verify` only: check what the notification declares
};

// Every check on its own, for `paygate verify wechatpay-v2`.
struct Inspection {
  bool xml_ok = false;
  bool is_refund = false;
  std::string sign_type;       // payment results
  std::string string_a;        // payment results
  bool signature_valid = false;
  bool decrypt_ok = false;     // refund results
  bool parsed = false;
  std::optional<core::PaymentEvent> event;
  std::vector<std::string> problems;
  bool accepted() const { return xml_ok && (is_refund ? decrypt_ok : signature_valid) && parsed; }
};

// WeChat Pay APIv2 notifications: payment results (signed XML) and refund results (req_info
// encrypted with AES-256-ECB under the MD5 of the API key). No I/O.
class Adapter final : public CallbackAdapter {
 public:
  explicit Adapter(Settings settings);

  std::string_view provider() const override { return "wechatpay_v2"; }
  core::Result<Notification> accept(const InboundRequest& request,
                                    int64_t now_unix) const override;
  std::string_view provider_merchant_id() const override { return settings_.mchid; }
  const std::vector<std::string>& allowed_app_ids() const override { return settings_.appids; }
  // The XML SUCCESS form once durable; the FAIL form otherwise (WeChat retries).
  Reply reply(Outcome outcome) const override;
  Reply reply(core::ErrorCode error) const override;
  Inspection inspect(const InboundRequest& request) const;

 private:
  core::Result<Notification> payment(const FormParams& params) const;
  core::Result<Notification> refund(const FormParams& outer) const;
  Settings settings_;
  std::string refund_key_;  // lower-case hex MD5 of the API key: 32 ASCII bytes
};

}  // namespace paygate::providers::wechatpay_v2

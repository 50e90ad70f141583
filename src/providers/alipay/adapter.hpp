#pragma once
#include <optional>
#include <string>
#include <vector>

#include "crypto/rsa.hpp"
#include "crypto/x509.hpp"
#include "providers/form.hpp"
#include "providers/provider.hpp"

namespace paygate::providers::alipay {

// Certificate SN as Alipay computes it: lower-case hex MD5 of the issuer (RFC 2253) followed by
// the serial number in decimal.
std::string cert_sn(const crypto::CertificateInfo& cert);
// alipay_root_cert_sn: the SNs of the RSA-family certificates of the root bundle (signature
// algorithm 1.2.840.113549.1.1.*), in file order, joined with "_".
std::string root_cert_sn(const std::vector<crypto::CertificateInfo>& roots);

// What Alipay signs in an async notification: every parameter except sign and sign_type,
// empty values dropped, sorted by name (bytes), "k=v" joined with "&", values as decoded once.
std::string notify_sign_content(const FormParams& params);

struct Settings {
  std::string app_id;
  std::string seller_id;
  // Public-key mode: the Alipay public key. Certificate mode: the key inside the Alipay
  // public-key certificate, whose chain to the Alipay root bundle was checked at load.
  crypto::PublicKey alipay_key;
  // Where GET /return/alipay/{merchant} sends the browser after verifying (with out_trade_no
  // and state appended); empty: paygate shows the order's state itself.
  std::string return_redirect_url;
};

// Every check run on its own, for `paygate verify alipay`.
struct Inspection {
  bool form_ok = false;
  FormParams params;
  std::string sign_type;
  std::string sign_content;
  bool signature_valid = false;
  bool mapped = false;
  std::optional<core::PaymentEvent> event;
  std::vector<std::string> problems;
  bool accepted() const { return form_ok && signature_valid && mapped; }
};

// Alipay async notifications (form-urlencoded, RSA2). No I/O.
class Adapter final : public CallbackAdapter {
 public:
  explicit Adapter(Settings settings)
      : settings_(std::move(settings)), app_ids_{settings_.app_id} {}

  std::string_view provider() const override { return "alipay"; }
  core::Result<Notification> accept(const InboundRequest& request,
                                    int64_t now_unix) const override;
  // Exactly `success` (7 bytes) once the effect is durable; `failure` otherwise, so Alipay
  // retries (4m, 10m, 10m, 1h, 2h, 6h, 15h).
  Reply reply(Outcome outcome) const override;
  Reply reply(core::ErrorCode error) const override;
  Inspection inspect(const InboundRequest& request) const;
  // The sync return (return_url): same signature rule over the query; app_id and seller_id
  // must be this merchant's.
  core::Result<std::string> verify_return(std::string_view query) const override;
  std::string_view provider_merchant_id() const override { return settings_.seller_id; }
  const std::vector<std::string>& allowed_app_ids() const override { return app_ids_; }

 private:
  core::Result<void> verify(const FormParams& params) const;
  Settings settings_;
  std::vector<std::string> app_ids_;
};

}  // namespace paygate::providers::alipay

#include "providers/wechatpay_v3/certificates.hpp"

#include <nlohmann/json.hpp>

#include "core/headers.hpp"
#include "crypto/aead.hpp"
#include "crypto/encoding.hpp"
#include "crypto/rsa.hpp"

namespace paygate::providers::wechatpay_v3 {

using core::ErrorCode;
using core::fail;
using nlohmann::json;

core::Result<std::vector<PlatformCertificate>> decode_certificate_download(
    std::string_view body, std::string_view apiv3_key) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("data") ||
      !doc["data"].is_array()) {
    return fail(ErrorCode::kMalformed, "certificate list is not {data:[...]}");
  }
  std::vector<PlatformCertificate> out;
  for (const auto& item : doc["data"]) {
    if (!item.is_object() || !item.contains("encrypt_certificate")) {
      return fail(ErrorCode::kMalformed, "certificate entry lacks encrypt_certificate");
    }
    const auto& enc = item["encrypt_certificate"];
    PlatformCertificate c;
    c.serial_no = item.value("serial_no", "");
    c.effective_time = item.value("effective_time", "");
    c.expire_time = item.value("expire_time", "");
    auto ct = crypto::base64_decode(enc.value("ciphertext", ""));
    if (!ct) return fail(ErrorCode::kDecryptFailed, "certificate ciphertext is not base64");
    auto pem = crypto::aes256gcm_decrypt(apiv3_key, enc.value("nonce", ""),
                                         enc.value("associated_data", ""), *ct);
    if (!pem) return tl::unexpected(pem.error());
    auto key = crypto::PublicKey::from_pem(*pem);
    if (!key) return fail(ErrorCode::kMalformed, "decrypted certificate is unreadable");
    if (!core::iequals(key->certificate_serial(), c.serial_no)) {
      return fail(ErrorCode::kMalformed, "certificate serial differs from serial_no");
    }
    c.certificate_pem = std::move(*pem);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace paygate::providers::wechatpay_v3

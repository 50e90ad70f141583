#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/headers.hpp"
#include "crypto/rsa.hpp"

// WeChat Pay APIv3 signatures both ways (PROTOCOLS.md 1.3, 2.1-2.4), without I/O: what the
// merchant signs (requests, front-end pay parameters) and what WeChat Pay signs (callbacks and
// answers to our requests: the same headers over the same message).
namespace paygate::providers::wechatpay_v3 {

// A key WeChat Pay signs with, named by what arrives in Wechatpay-Serial: a platform
// certificate serial (hex, case-insensitive) or a WeChat Pay public-key id (PUB_KEY_ID_..., exact).
struct VerificationKey {
  std::string id;
  crypto::PublicKey key;
};

// WeChat Pay's own probes (1.3.6) start with this; they never verify.
inline constexpr std::string_view kSignatureProbePrefix = "WECHATPAY/SIGNTEST/";
// The headers a signature depends on: each must come exactly once.
inline constexpr const char* kSignedHeaders[] = {"Wechatpay-Timestamp", "Wechatpay-Nonce",
                                                  "Wechatpay-Signature", "Wechatpay-Serial"};
// A Wechatpay-Timestamp: decimal Unix seconds, nothing else.
std::optional<int64_t> parse_timestamp(std::string_view s);

const crypto::PublicKey* find_key(const std::vector<VerificationKey>& keys,
                                  std::string_view serial);

// The message WeChat Pay signs: timestamp, nonce and body, each followed by LF.
std::string signed_message(std::string_view timestamp, std::string_view nonce,
                           std::string_view body);

// Checks the Wechatpay-* headers of a callback or of an answer to our request over the exact
// body bytes: each header present once, the serial names a trusted key, the timestamp within
// `max_skew_seconds` of `now`, no signature probe, strict base64, SHA256withRSA. Errors:
// kMalformed (repeated or bad header), kMissingHeader, kUnknownKey, kStaleTimestamp,
// kBadSignature.
[[nodiscard]] core::Result<void> verify_signed_headers(const std::vector<VerificationKey>& keys,
                                                       const core::Headers& headers,
                                                       std::string_view body, int64_t now,
                                                       int64_t max_skew_seconds = 300);

// The merchant's side: its API key and the serial of its API certificate.
struct MerchantSigner {
  std::string mchid;
  std::string serial_no;
  crypto::PrivateKey key;
};

// METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n; the path and query exactly as sent.
std::string request_message(std::string_view method, std::string_view path_and_query,
                            std::string_view timestamp, std::string_view nonce,
                            std::string_view body);

// The Authorization header value: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",...
[[nodiscard]] core::Result<std::string> authorization(const MerchantSigner& signer,
                                                      std::string_view method,
                                                      std::string_view path_and_query,
                                                      std::string_view timestamp,
                                                      std::string_view nonce,
                                                      std::string_view body);

struct AuthorizationParams {
  std::string mchid, nonce_str, signature, timestamp, serial_no;
};
// Reads an Authorization header as WeChat Pay does: the scheme, then the five parameters once
// each, quoted, comma separated, in any order. Anything else is kMalformed.
[[nodiscard]] core::Result<AuthorizationParams> parse_authorization(std::string_view header);

// What the front end needs to launch a payment (2.3).
struct JsapiPayParams {  // Official Account / mini-program: wx.requestPayment / WeixinJSBridge
  std::string app_id, time_stamp, nonce_str, package, sign_type, pay_sign;
};
struct AppPayParams {  // the APP SDK
  std::string appid, partnerid, prepayid, package, noncestr, timestamp, sign;
};
[[nodiscard]] core::Result<JsapiPayParams> jsapi_pay_params(const crypto::PrivateKey& key,
                                                            std::string_view appid,
                                                            std::string_view prepay_id,
                                                            std::string_view timestamp,
                                                            std::string_view nonce);
[[nodiscard]] core::Result<AppPayParams> app_pay_params(const crypto::PrivateKey& key,
                                                        std::string_view appid,
                                                        std::string_view mchid,
                                                        std::string_view prepay_id,
                                                        std::string_view timestamp,
                                                        std::string_view nonce);

}  // namespace paygate::providers::wechatpay_v3

#include "providers/wechatpay_v3/signing.hpp"

#include <charconv>

#include "crypto/encoding.hpp"

namespace paygate::providers::wechatpay_v3 {
namespace {

using core::ErrorCode;
using core::fail;

constexpr std::string_view kScheme = "WECHATPAY2-SHA256-RSA2048";
bool is_public_key_id(std::string_view id) { return id.rfind("PUB_KEY_ID_", 0) == 0; }

core::Result<std::string> sign_lines(const crypto::PrivateKey& key,
                                     std::initializer_list<std::string_view> lines) {
  std::string msg;
  for (auto l : lines) msg.append(l).push_back('\n');
  auto sig = key.sign_sha256(msg);
  if (!sig) return tl::unexpected(sig.error());
  return crypto::base64_encode(*sig);
}

}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

const crypto::PublicKey* find_key(const std::vector<VerificationKey>& keys,
                                  std::string_view serial) {
  for (const auto& k : keys) {
    const bool match = is_public_key_id(k.id) ? k.id == serial : core::iequals(k.id, serial);
    if (match) return &k.key;
  }
  return nullptr;
}

std::string signed_message(std::string_view timestamp, std::string_view nonce,
                           std::string_view body) {
  std::string msg;
  msg.reserve(timestamp.size() + nonce.size() + body.size() + 3);
  msg.append(timestamp).append("\n").append(nonce).append("\n").append(body).append("\n");
  return msg;
}

core::Result<void> verify_signed_headers(const std::vector<VerificationKey>& keys,
                                         const core::Headers& h, std::string_view body,
                                         int64_t now, int64_t max_skew) {
  for (const char* name : kSignedHeaders) {
    if (h.count(name) > 1) return fail(ErrorCode::kMalformed, std::string("repeated ") + name);
  }
  auto ts = h.get("Wechatpay-Timestamp");
  auto nonce = h.get("Wechatpay-Nonce");
  auto sig = h.get("Wechatpay-Signature");
  auto serial = h.get("Wechatpay-Serial");
  if (!ts || !nonce || !sig || !serial || ts->empty() || nonce->empty() || sig->empty() ||
      serial->empty()) {
    return fail(ErrorCode::kMissingHeader, "missing Wechatpay-* header");
  }
  const crypto::PublicKey* key = find_key(keys, *serial);
  if (key == nullptr) return fail(ErrorCode::kUnknownKey, "unknown Wechatpay-Serial");
  auto t = parse_timestamp(*ts);
  if (!t) return fail(ErrorCode::kMalformed, "Wechatpay-Timestamp is not a number");
  const int64_t skew = now - *t;
  if (skew >= max_skew || -skew >= max_skew) {
    return fail(ErrorCode::kStaleTimestamp, "timestamp outside the replay window");
  }
  if (sig->rfind(kSignatureProbePrefix, 0) == 0) return fail(ErrorCode::kBadSignature, "signature probe");
  auto raw = crypto::base64_decode(*sig);
  if (!raw) return fail(ErrorCode::kBadSignature, "signature is not base64");
  if (!key->verify_sha256(signed_message(*ts, *nonce, body), *raw)) {
    return fail(ErrorCode::kBadSignature, "signature does not verify");
  }
  return {};
}

std::string request_message(std::string_view method, std::string_view path_and_query,
                            std::string_view timestamp, std::string_view nonce,
                            std::string_view body) {
  std::string msg;
  msg.reserve(method.size() + path_and_query.size() + timestamp.size() + nonce.size() +
              body.size() + 5);
  for (auto part : {method, path_and_query, timestamp, nonce, body}) {
    msg.append(part).push_back('\n');
  }
  return msg;
}

core::Result<std::string> authorization(const MerchantSigner& signer, std::string_view method,
                                        std::string_view path_and_query,
                                        std::string_view timestamp, std::string_view nonce,
                                        std::string_view body) {
  auto sig = signer.key.sign_sha256(request_message(method, path_and_query, timestamp, nonce, body));
  if (!sig) return tl::unexpected(sig.error());
  std::string h(kScheme);
  h.append(" mchid=\"").append(signer.mchid);
  h.append("\",nonce_str=\"").append(nonce);
  h.append("\",signature=\"").append(crypto::base64_encode(*sig));
  h.append("\",timestamp=\"").append(timestamp);
  h.append("\",serial_no=\"").append(signer.serial_no).append("\"");
  return h;
}

core::Result<AuthorizationParams> parse_authorization(std::string_view header) {
  if (header.size() <= kScheme.size() || header.substr(0, kScheme.size()) != kScheme ||
      header[kScheme.size()] != ' ') {
    return fail(ErrorCode::kMalformed, "Authorization is not WECHATPAY2-SHA256-RSA2048");
  }
  std::string_view rest = header.substr(kScheme.size() + 1);
  AuthorizationParams p;
  bool seen[5] = {};
  while (!rest.empty()) {
    const auto eq = rest.find('=');
    if (eq == std::string_view::npos || eq + 1 >= rest.size() || rest[eq + 1] != '"') {
      return fail(ErrorCode::kMalformed, "Authorization parameter is not name=\"value\"");
    }
    const auto name = rest.substr(0, eq);
    const auto close = rest.find('"', eq + 2);
    if (close == std::string_view::npos) {
      return fail(ErrorCode::kMalformed, "Authorization value is not closed");
    }
    const auto value = rest.substr(eq + 2, close - eq - 2);
    static constexpr std::string_view kNames[] = {"mchid", "nonce_str", "signature",
                                                  "timestamp", "serial_no"};
    std::string* fields[] = {&p.mchid, &p.nonce_str, &p.signature, &p.timestamp, &p.serial_no};
    bool known = false;
    for (int i = 0; i < 5; ++i) {
      if (name != kNames[i]) continue;
      if (seen[i]) return fail(ErrorCode::kMalformed, "Authorization repeats " + std::string(name));
      seen[i] = known = true;
      *fields[i] = std::string(value);
    }
    if (!known) return fail(ErrorCode::kMalformed, "unknown Authorization parameter");
    rest = rest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ',' || rest.size() == 1) {
        return fail(ErrorCode::kMalformed, "Authorization parameters are not comma separated");
      }
      rest.remove_prefix(1);
    }
  }
  for (bool s : seen) {
    if (!s) return fail(ErrorCode::kMalformed, "Authorization lacks a parameter");
  }
  return p;
}

core::Result<JsapiPayParams> jsapi_pay_params(const crypto::PrivateKey& key,
                                              std::string_view appid,
                                              std::string_view prepay_id,
                                              std::string_view timestamp,
                                              std::string_view nonce) {
  const std::string package = "prepay_id=" + std::string(prepay_id);
  auto sig = sign_lines(key, {appid, timestamp, nonce, package});
  if (!sig) return tl::unexpected(sig.error());
  return JsapiPayParams{std::string(appid), std::string(timestamp), std::string(nonce), package,
                        "RSA", std::move(*sig)};
}

core::Result<AppPayParams> app_pay_params(const crypto::PrivateKey& key, std::string_view appid,
                                          std::string_view mchid, std::string_view prepay_id,
                                          std::string_view timestamp, std::string_view nonce) {
  auto sig = sign_lines(key, {appid, timestamp, nonce, prepay_id});
  if (!sig) return tl::unexpected(sig.error());
  return AppPayParams{std::string(appid), std::string(mchid), std::string(prepay_id),
                      "Sign=WXPay", std::string(nonce), std::string(timestamp), std::move(*sig)};
}

}  // namespace paygate::providers::wechatpay_v3

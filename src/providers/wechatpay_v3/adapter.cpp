#include "providers/wechatpay_v3/adapter.hpp"

#include "crypto/aead.hpp"
#include "crypto/encoding.hpp"
#include "providers/wechatpay_v3/wire.hpp"

namespace paygate::providers::wechatpay_v3 {
namespace {

using core::ErrorCode;
using core::fail;

}  // namespace

Adapter::Adapter(Settings settings) : settings_(std::move(settings)) {}

core::Result<Notification> Adapter::accept(const InboundRequest& req, int64_t now) const {
  if (auto ok = verify_signed_headers(settings_.keys, req.headers, req.body, now,
                                      settings_.max_clock_skew_seconds);
      !ok) {
    return tl::unexpected(ok.error());
  }
  // Only now, with the bytes authenticated, is the body parsed.
  auto env = parse_envelope(req.body);
  if (!env) return tl::unexpected(env.error());
  auto ct = crypto::base64_decode(env->ciphertext);
  if (!ct) return fail(ErrorCode::kDecryptFailed, "ciphertext is not base64");
  auto plain = crypto::aes256gcm_decrypt(settings_.apiv3_key.reveal(), env->nonce,
                                         env->associated_data, *ct);
  if (!plain) return tl::unexpected(plain.error());
  Notification n;
  auto ev = parse_resource(*env, *plain);
  if (!ev) return tl::unexpected(ev.error());
  n.event = std::move(*ev);
  return n;
}

Inspection Adapter::inspect(const InboundRequest& req, int64_t now) const {
  Inspection r;
  const auto& h = req.headers;
  auto ts = h.get("Wechatpay-Timestamp");
  auto nonce = h.get("Wechatpay-Nonce");
  auto sig = h.get("Wechatpay-Signature");
  auto serial = h.get("Wechatpay-Serial");
  if (!ts) r.problems.push_back("missing header Wechatpay-Timestamp");
  if (!nonce) r.problems.push_back("missing header Wechatpay-Nonce");
  if (!sig) r.problems.push_back("missing header Wechatpay-Signature");
  if (!serial) r.problems.push_back("missing header Wechatpay-Serial");
  for (const char* name : kSignedHeaders) {
    if (h.count(name) > 1) {
      r.headers_unique = false;
      r.problems.push_back(std::string("header ") + name + " repeated");
    }
  }

  const crypto::PublicKey* key = nullptr;
  if (serial) {
    r.serial = std::string(*serial);
    key = find_key(settings_.keys, *serial);
    r.serial_known = key != nullptr;
    if (!key) r.problems.push_back("no verification key for this Wechatpay-Serial");
  }
  if (ts) {
    if (auto t = parse_timestamp(*ts)) {
      r.clock_skew_seconds = now - *t;
      r.timestamp_within_skew = r.clock_skew_seconds < settings_.max_clock_skew_seconds &&
                                -r.clock_skew_seconds < settings_.max_clock_skew_seconds;
      if (!r.timestamp_within_skew) r.problems.push_back("timestamp outside the 5-minute window");
    } else {
      r.problems.push_back("Wechatpay-Timestamp is not a number");
    }
  }
  if (sig && key && ts && nonce) {
    r.signature_probe = sig->rfind(kSignatureProbePrefix, 0) == 0;
    auto raw = crypto::base64_decode(*sig);
    r.signature_valid = !r.signature_probe && raw &&
                        key->verify_sha256(signed_message(*ts, *nonce, req.body), *raw);
    if (r.signature_probe) {
      r.problems.push_back("signature probe (WECHATPAY/SIGNTEST/): never verifies");
    } else if (!raw) {
      r.problems.push_back("Wechatpay-Signature is not base64");
    } else if (!r.signature_valid) {
      r.problems.push_back("signature does not verify over the raw body");
    }
  }
  auto env = parse_envelope(req.body);
  if (!env) {
    r.problems.push_back("body: " + env.error().detail);
    return r;
  }
  auto ct = crypto::base64_decode(env->ciphertext);
  auto plain = ct ? crypto::aes256gcm_decrypt(settings_.apiv3_key.reveal(), env->nonce,
                                              env->associated_data, *ct)
                  : core::Result<std::string>(fail(ErrorCode::kDecryptFailed, "not base64"));
  if (!plain) {
    r.problems.push_back("resource does not decrypt (wrong APIv3 key, nonce, AAD or tag)");
    return r;
  }
  r.decrypt_ok = true;
  r.plaintext = *plain;
  auto ev = parse_resource(*env, *plain);
  if (ev) {
    r.parse_ok = true;
    r.event = std::move(*ev);
  } else {
    r.problems.push_back("resource: " + ev.error().detail);
  }
  return r;
}

Reply Adapter::reply(Outcome) const { return Reply{204, "", ""}; }

Reply Adapter::reply(ErrorCode error) const {
  // Messages are fixed per class so nothing internal reaches the caller.
  auto fail_body = [](std::string_view msg) {
    return std::string(R"({"code":"FAIL","message":")") + std::string(msg) + "\"}";
  };
  switch (error) {
    case ErrorCode::kUnknownKey:
    case ErrorCode::kStaleTimestamp:
    case ErrorCode::kBadSignature:
    case ErrorCode::kDecryptFailed:
      return Reply{401, "application/json", fail_body("verification failed")};
    case ErrorCode::kMalformed:
    case ErrorCode::kMissingHeader:
      return Reply{400, "application/json", fail_body("malformed notification")};
    case ErrorCode::kBodyTooLarge:
      return Reply{413, "application/json", fail_body("body too large")};
    case ErrorCode::kUnknownMerchant:
      return Reply{404, "application/json", fail_body("unknown merchant")};
    case ErrorCode::kOverloaded:
      return Reply{503, "application/json", fail_body("busy, retry")};
    default:
      return Reply{500, "application/json", fail_body("temporarily unavailable, retry")};
  }
}

}  // namespace paygate::providers::wechatpay_v3

#include "providers/wechatpay_v3/adapter.hpp"

#include <charconv>

#include "crypto/aead.hpp"
#include "crypto/encoding.hpp"
#include "providers/wechatpay_v3/wire.hpp"

namespace paygate::providers::wechatpay_v3 {
namespace {

using core::ErrorCode;
using core::fail;

constexpr std::string_view kProbePrefix = "WECHATPAY/SIGNTEST/";

std::optional<int64_t> parse_unix(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

bool is_public_key_id(std::string_view id) { return id.rfind("PUB_KEY_ID_", 0) == 0; }

struct SignedHeaders {
  std::string_view timestamp, nonce, signature, serial;
};

constexpr const char* kSignedHeaders[] = {"Wechatpay-Timestamp", "Wechatpay-Nonce",
                                           "Wechatpay-Signature", "Wechatpay-Serial"};

core::Result<SignedHeaders> read_headers(const core::Headers& h) {
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
  return SignedHeaders{*ts, *nonce, *sig, *serial};
}

}  // namespace

std::string signed_message(std::string_view timestamp, std::string_view nonce,
                           std::string_view body) {
  std::string msg;
  msg.reserve(timestamp.size() + nonce.size() + body.size() + 3);
  msg.append(timestamp).append("\n").append(nonce).append("\n").append(body).append("\n");
  return msg;
}

Adapter::Adapter(Settings settings) : settings_(std::move(settings)) {}

const crypto::PublicKey* Adapter::find_key(std::string_view serial) const {
  for (const auto& k : settings_.keys) {
    const bool match = is_public_key_id(k.id) ? k.id == serial : core::iequals(k.id, serial);
    if (match) return &k.key;
  }
  return nullptr;
}

core::Result<Notification> Adapter::accept(const InboundRequest& req, int64_t now) const {
  auto hdr = read_headers(req.headers);
  if (!hdr) return tl::unexpected(hdr.error());
  const crypto::PublicKey* key = find_key(hdr->serial);
  if (key == nullptr) return fail(ErrorCode::kUnknownKey, "unknown Wechatpay-Serial");
  auto ts = parse_unix(hdr->timestamp);
  if (!ts) return fail(ErrorCode::kMalformed, "Wechatpay-Timestamp is not a number");
  const int64_t skew = now - *ts;
  if (skew >= settings_.max_clock_skew_seconds || -skew >= settings_.max_clock_skew_seconds) {
    return fail(ErrorCode::kStaleTimestamp, "timestamp outside the replay window");
  }
  if (hdr->signature.rfind(kProbePrefix, 0) == 0) {
    return fail(ErrorCode::kBadSignature, "signature probe");
  }
  auto sig = crypto::base64_decode(hdr->signature);
  if (!sig) return fail(ErrorCode::kBadSignature, "signature is not base64");
  if (!key->verify_sha256(signed_message(hdr->timestamp, hdr->nonce, req.body), *sig)) {
    return fail(ErrorCode::kBadSignature, "signature does not verify");
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
    key = find_key(*serial);
    r.serial_known = key != nullptr;
    if (!key) r.problems.push_back("no verification key for this Wechatpay-Serial");
  }
  if (ts) {
    if (auto t = parse_unix(*ts)) {
      r.clock_skew_seconds = now - *t;
      r.timestamp_within_skew = r.clock_skew_seconds < settings_.max_clock_skew_seconds &&
                                -r.clock_skew_seconds < settings_.max_clock_skew_seconds;
      if (!r.timestamp_within_skew) r.problems.push_back("timestamp outside the 5-minute window");
    } else {
      r.problems.push_back("Wechatpay-Timestamp is not a number");
    }
  }
  if (sig && key && ts && nonce) {
    r.signature_probe = sig->rfind(kProbePrefix, 0) == 0;
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

#include "providers/wechat_mp/endpoint.hpp"

#include <charconv>

#include "crypto/encoding.hpp"
#include "providers/wechat_mp/crypto.hpp"
#include "providers/xml.hpp"

namespace paygate::providers::wechat_mp {

using core::ErrorCode;
using core::fail;

core::Result<void> Endpoint::check_signature(const FormParams& query) const {
  const std::string* sig = form_value(query, "signature");
  const std::string* ts = form_value(query, "timestamp");
  const std::string* nonce = form_value(query, "nonce");
  if (sig == nullptr || ts == nullptr || nonce == nullptr) {
    return fail(ErrorCode::kMissingHeader, "signature, timestamp or nonce missing");
  }
  if (!crypto::constant_time_equal(signature({settings_.token.reveal(), *ts, *nonce}), *sig)) {
    return fail(ErrorCode::kBadSignature, "signature does not verify");
  }
  return {};
}

core::Result<std::string> Endpoint::verify_url(const FormParams& query) const {
  if (auto r = check_signature(query); !r) return tl::unexpected(r.error());
  const std::string* echo = form_value(query, "echostr");
  if (echo == nullptr) return fail(ErrorCode::kMissingHeader, "echostr missing");
  return *echo;
}

core::Result<Message> Endpoint::accept(const FormParams& query, std::string_view body,
                                       int64_t now_unix) const {
  if (auto r = check_signature(query); !r) return tl::unexpected(r.error());
  // The plaintext signature does not cover the body: bound how long a captured one is useful.
  const std::string ts = form_get(query, "timestamp");
  int64_t t = 0;
  const auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
  if (ec != std::errc() || end != ts.data() + ts.size()) {
    return fail(ErrorCode::kMalformed, "timestamp is not a number");
  }
  if (t > now_unix + settings_.max_clock_skew_seconds ||
      t < now_unix - settings_.max_clock_skew_seconds) {
    return fail(ErrorCode::kStaleTimestamp, "timestamp outside the replay window");
  }

  std::string xml(body);
  const bool encrypted = form_get(query, "encrypt_type") == "aes";
  if (!encrypted && settings_.mode == Mode::kSafe) {
    return fail(ErrorCode::kBadSignature, "plaintext message refused: the account is in safe mode");
  }
  if (encrypted && settings_.mode == Mode::kPlain) {
    return fail(ErrorCode::kDecryptFailed, "encrypted message: the account is in plaintext mode");
  }
  if (encrypted) {
    if (!settings_.aes_key) return fail(ErrorCode::kDecryptFailed, "safe mode is not configured");
    auto outer = parse_flat_xml(body, "xml");
    if (!outer) return tl::unexpected(outer.error());
    const std::string encrypt = form_get(*outer, "Encrypt");
    const std::string* msg_sig = form_value(query, "msg_signature");
    if (encrypt.empty() || msg_sig == nullptr) {
      return fail(ErrorCode::kMissingHeader, "Encrypt or msg_signature missing");
    }
    const std::string expected = signature(
        {settings_.token.reveal(), ts, form_get(query, "nonce"), encrypt});
    if (!crypto::constant_time_equal(expected, *msg_sig)) {
      return fail(ErrorCode::kBadSignature, "msg_signature does not verify");
    }
    auto plain = decrypt_message(settings_.aes_key->reveal(), encrypt, settings_.appid);
    if (!plain) return tl::unexpected(plain.error());
    xml = std::move(*plain);
  }

  auto fields = parse_flat_xml(xml, "xml");
  if (!fields) return tl::unexpected(fields.error());
  Message m;
  m.msg_type = form_get(*fields, "MsgType");
  m.to_user = form_get(*fields, "ToUserName");
  m.from_user = form_get(*fields, "FromUserName");
  const std::string created = form_get(*fields, "CreateTime");
  const auto [cend, cec] = std::from_chars(created.data(), created.data() + created.size(),
                                           m.create_time);
  if (m.msg_type.empty() || m.from_user.empty() || cec != std::errc() ||
      cend != created.data() + created.size()) {
    return fail(ErrorCode::kMalformed, "message lacks MsgType, FromUserName or CreateTime");
  }
  m.is_event = m.msg_type == "event";
  m.event = form_get(*fields, "Event");
  const std::string msg_id = form_get(*fields, "MsgId");
  m.dedupe_key = !m.is_event && !msg_id.empty() ? "MsgId:" + msg_id
                                                 : m.from_user + "+" + created;
  m.xml = std::move(xml);
  m.fields = std::move(*fields);
  m.replay_key = ts + "\n" + form_get(query, "nonce");
  m.encrypted = encrypted;
  return m;
}

void Endpoint::expire_locked(int64_t now_unix) const {
  while (!remembered_order_.empty() &&
         (remembered_order_.front().first < now_unix - 2 * settings_.max_clock_skew_seconds ||
          remembered_order_.size() > kMaxRemembered)) {
    remembered_.erase(remembered_order_.front().second);
    remembered_order_.pop_front();
  }
}

Endpoint::Seen Endpoint::seen(const Message& m, int64_t now_unix) const {
  std::lock_guard lock(replay_mu_);
  expire_locked(now_unix);
  auto it = remembered_.find(m.replay_key);
  if (it == remembered_.end()) return Seen::kNew;
  if (it->second == m.dedupe_key) return Seen::kRepeat;
  return m.encrypted ? Seen::kNew : Seen::kOtherMessage;
}

void Endpoint::remember(const Message& m, int64_t now_unix) const {
  std::lock_guard lock(replay_mu_);
  if (remembered_.emplace(m.replay_key, m.dedupe_key).second) {
    remembered_order_.emplace_back(now_unix, m.replay_key);
  }
  expire_locked(now_unix);
}

Inspection Endpoint::inspect(const FormParams& query, std::string_view body,
                             int64_t now_unix) const {
  Inspection r;
  if (auto s = check_signature(query); s) {
    r.signature_valid = true;
  } else {
    r.problems.push_back(s.error().detail);
  }
  int64_t t = 0;
  const std::string ts = form_get(query, "timestamp");
  const auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
  r.timestamp_in_window = ec == std::errc() && end == ts.data() + ts.size() &&
                          t <= now_unix + settings_.max_clock_skew_seconds &&
                          t >= now_unix - settings_.max_clock_skew_seconds;
  if (!r.timestamp_in_window) r.problems.push_back("timestamp outside the replay window");
  r.safe_mode = form_get(query, "encrypt_type") == "aes";
  if (r.safe_mode && settings_.aes_key) {
    if (auto outer = parse_flat_xml(body, "xml")) {
      const std::string encrypt = form_get(*outer, "Encrypt");
      r.msg_signature_valid = crypto::constant_time_equal(
          signature({settings_.token.reveal(), ts, form_get(query, "nonce"), encrypt}),
          form_get(query, "msg_signature"));
      if (!r.msg_signature_valid) r.problems.push_back("msg_signature does not verify");
      auto plain = decrypt_message(settings_.aes_key->reveal(), encrypt, settings_.appid);
      r.decrypted = static_cast<bool>(plain);
      if (!plain) r.problems.push_back(plain.error().detail);
    } else {
      r.problems.push_back(outer.error().detail);
    }
  } else if (r.safe_mode) {
    r.problems.push_back("safe mode needs --encoding-aes-key-file");
  }
  // Parsing, with the signature checks already reported above, on a request that passes them.
  auto m = accept(query, body, now_unix);
  if (m) {
    r.parsed = true;
    r.message = std::move(*m);
  } else if (r.signature_valid && r.timestamp_in_window &&
             (!r.safe_mode || (r.msg_signature_valid && r.decrypted))) {
    r.problems.push_back(m.error().detail);
  }
  return r;
}

}  // namespace paygate::providers::wechat_mp

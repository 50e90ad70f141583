#include "webhooks/signature.hpp"

#include <charconv>

#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"

namespace paygate::webhooks {

core::Result<core::Secret> parse_secret(std::string_view text) {
  constexpr std::string_view kPrefix = "whsec_";
  if (text.starts_with(kPrefix)) text.remove_prefix(kPrefix.size());
  auto key = crypto::base64_decode(text);
  if (!key || key->empty()) {
    return core::fail(core::ErrorCode::kInvalidArgument,
                      "a webhook secret is \"whsec_\" followed by base64");
  }
  return core::Secret(std::move(*key));
}

std::string signed_content(std::string_view id, int64_t timestamp, std::string_view body) {
  std::string s;
  s.reserve(id.size() + body.size() + 24);
  s.append(id).push_back('.');
  s.append(std::to_string(timestamp)).push_back('.');
  s.append(body);
  return s;
}

std::string sign(const core::Secret& key, std::string_view id, int64_t timestamp,
                 std::string_view body) {
  return "v1," + crypto::base64_encode(
                     crypto::hmac_sha256(key.reveal(), signed_content(id, timestamp, body)));
}

std::string signature_header(const std::vector<core::Secret>& keys, std::string_view id,
                             int64_t timestamp, std::string_view body) {
  std::string header;
  for (const auto& k : keys) {
    if (!header.empty()) header.push_back(' ');
    header += sign(k, id, timestamp, body);
  }
  return header;
}

Verdict verify(const std::vector<core::Secret>& keys, const core::Headers& headers,
               std::string_view body, int64_t now, int64_t tolerance_seconds) {
  auto id = headers.get("webhook-id");
  auto ts = headers.get("webhook-timestamp");
  auto sig = headers.get("webhook-signature");
  if (!id || id->empty() || !ts || !sig) return {false, "missing webhook headers"};
  int64_t timestamp = 0;
  auto [end, ec] = std::from_chars(ts->data(), ts->data() + ts->size(), timestamp);
  if (ec != std::errc() || end != ts->data() + ts->size()) return {false, "bad timestamp"};
  if (timestamp < now - tolerance_seconds) return {false, "timestamp too old"};
  if (timestamp > now + tolerance_seconds) return {false, "timestamp too new"};
  const std::string content = signed_content(*id, timestamp, body);
  std::vector<std::string> expected;
  for (const auto& k : keys) {
    expected.push_back(crypto::base64_encode(crypto::hmac_sha256(k.reveal(), content)));
  }
  std::string_view rest = *sig;
  bool matched = false;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    std::string_view entry = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (!entry.starts_with("v1,")) continue;  // v1a (ed25519) and unknown versions
    entry.remove_prefix(3);
    for (const auto& e : expected) matched |= crypto::constant_time_equal(entry, e);
  }
  if (!matched) return {false, "no matching signature"};
  return {true, ""};
}

}  // namespace paygate::webhooks

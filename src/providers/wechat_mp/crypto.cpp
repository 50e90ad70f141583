#include "providers/wechat_mp/crypto.hpp"

#include <algorithm>

#include "crypto/block_cipher.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"

namespace paygate::providers::wechat_mp {

using core::ErrorCode;
using core::fail;

std::string signature(std::vector<std::string_view> values) {
  std::sort(values.begin(), values.end());
  std::string joined;
  for (auto v : values) joined += v;
  return crypto::hex_lower(crypto::sha1(joined));
}

core::Result<std::string> aes_key(std::string_view encoding_aes_key) {
  if (encoding_aes_key.size() != 43) {
    return fail(ErrorCode::kInvalidArgument, "EncodingAESKey must be 43 characters");
  }
  auto key = crypto::base64_decode(std::string(encoding_aes_key) + "=");
  if (!key || key->size() != 32) {
    return fail(ErrorCode::kInvalidArgument, "EncodingAESKey is not base64 of 32 bytes");
  }
  return *key;
}

core::Result<std::string> decrypt_message(std::string_view key, std::string_view encrypt_base64,
                                          std::string_view appid) {
  auto ct = crypto::base64_decode(encrypt_base64);
  if (!ct) return fail(ErrorCode::kDecryptFailed, "Encrypt is not base64");
  if (ct->empty() || ct->size() % 32 != 0) {
    return fail(ErrorCode::kDecryptFailed, "Encrypt is not whole 32-byte blocks");
  }
  auto plain = crypto::aes256cbc_decrypt_raw(key, key.substr(0, 16), *ct);
  if (!plain) return fail(ErrorCode::kDecryptFailed, "Encrypt does not decrypt");
  const auto pad = static_cast<unsigned char>(plain->back());
  if (pad < 1 || pad > 32 || pad > plain->size()) {
    return fail(ErrorCode::kDecryptFailed, "bad padding");
  }
  for (std::size_t i = plain->size() - pad; i < plain->size(); ++i) {
    if (static_cast<unsigned char>((*plain)[i]) != pad) {
      return fail(ErrorCode::kDecryptFailed, "bad padding");
    }
  }
  const std::string_view body(plain->data(), plain->size() - pad);
  if (body.size() < 20) return fail(ErrorCode::kDecryptFailed, "payload too short");
  const auto* b = reinterpret_cast<const unsigned char*>(body.data()) + 16;
  const std::size_t len = (std::size_t(b[0]) << 24) | (std::size_t(b[1]) << 16) |
                          (std::size_t(b[2]) << 8) | std::size_t(b[3]);
  if (len > body.size() - 20) return fail(ErrorCode::kDecryptFailed, "bad message length");
  if (body.substr(20 + len) != appid) {
    return fail(ErrorCode::kDecryptFailed, "message is for another appid");
  }
  return std::string(body.substr(20, len));
}

core::Result<std::string> encrypt_message(std::string_view key, std::string_view random16,
                                          std::string_view message, std::string_view appid) {
  if (random16.size() != 16) return fail(ErrorCode::kInvalidArgument, "random must be 16 bytes");
  std::string plain(random16);
  const auto len = static_cast<uint32_t>(message.size());
  plain += static_cast<char>(len >> 24);
  plain += static_cast<char>(len >> 16);
  plain += static_cast<char>(len >> 8);
  plain += static_cast<char>(len);
  plain += message;
  plain += appid;
  const std::size_t pad = 32 - plain.size() % 32;  // a full block when already aligned
  plain.append(pad, static_cast<char>(pad));
  auto ct = crypto::aes256cbc_encrypt_raw(key, key.substr(0, 16), plain);
  if (!ct) return tl::unexpected(ct.error());
  return crypto::base64_encode(*ct);
}

}  // namespace paygate::providers::wechat_mp

#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace paygate::providers::wechat_mp {

// SHA-1 (lower-case hex) of the values sorted as strings and concatenated: `signature` over
// token, timestamp, nonce; `msg_signature` over those and Encrypt.
std::string signature(std::vector<std::string_view> values);

// The AES key behind a 43-character EncodingAESKey: base64(EncodingAESKey + "="), 32 bytes.
[[nodiscard]] core::Result<std::string> aes_key(std::string_view encoding_aes_key);

// Safe-mode payload: base64(AES-256-CBC(key, iv = key[0..16],
//   random(16) || big-endian u32 length || message || appid || PKCS#7 pad to 32 bytes)).
// Decryption checks the padding (1..32, every pad byte), the length and that the trailing
// appid is `appid`; it returns the message.
[[nodiscard]] core::Result<std::string> decrypt_message(std::string_view key,
                                                        std::string_view encrypt_base64,
                                                        std::string_view appid);
[[nodiscard]] core::Result<std::string> encrypt_message(std::string_view key,
                                                        std::string_view random16,
                                                        std::string_view message,
                                                        std::string_view appid);

}  // namespace paygate::providers::wechat_mp

#pragma once
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace paygate::crypto {

// AES-256-ECB with PKCS#7 padding (WeChat Pay APIv2 refund req_info). Decryption fails with
// kDecryptFailed on a wrong key size, a length that is not a whole number of blocks, or
// padding that is not exactly PKCS#7.
[[nodiscard]] core::Result<std::string> aes256ecb_decrypt(std::string_view key,
                                                          std::string_view ciphertext);
[[nodiscard]] core::Result<std::string> aes256ecb_encrypt(std::string_view key,
                                                          std::string_view plaintext);

// AES-256-CBC without padding: the input must be whole 16-byte blocks; the caller owns the
// padding scheme (WeChat Official Account messages pad to 32 bytes).
[[nodiscard]] core::Result<std::string> aes256cbc_decrypt_raw(std::string_view key,
                                                              std::string_view iv,
                                                              std::string_view ciphertext);
[[nodiscard]] core::Result<std::string> aes256cbc_encrypt_raw(std::string_view key,
                                                              std::string_view iv,
                                                              std::string_view plaintext);

}  // namespace paygate::crypto

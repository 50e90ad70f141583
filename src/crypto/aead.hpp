#pragma once
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace paygate::crypto {

// AES-256-GCM with a 16-byte tag appended to the ciphertext (WeChat Pay's layout).
// Fails with kDecryptFailed on a wrong key size, short input or tag mismatch.
[[nodiscard]] core::Result<std::string> aes256gcm_decrypt(std::string_view key,
                                                          std::string_view iv,
                                                          std::string_view aad,
                                                          std::string_view ciphertext_and_tag);
[[nodiscard]] core::Result<std::string> aes256gcm_encrypt(std::string_view key,
                                                          std::string_view iv,
                                                          std::string_view aad,
                                                          std::string_view plaintext);

}  // namespace paygate::crypto

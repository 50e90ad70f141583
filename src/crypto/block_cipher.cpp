#include "crypto/block_cipher.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>

namespace paygate::crypto {
namespace {

using core::ErrorCode;
using core::fail;

const EVP_CIPHER* aes256ecb() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-ECB", nullptr);
  return cipher;
}

const EVP_CIPHER* aes256cbc() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

core::Result<std::string> run(bool encrypt, std::string_view key, std::string_view in,
                              const EVP_CIPHER* cipher = aes256ecb(),
                              std::string_view iv = {}, bool pad = true) {
  if (key.size() != 32) return fail(ErrorCode::kDecryptFailed, "key is not 32 bytes");
  if ((!encrypt || !pad) && (in.empty() || in.size() % 16 != 0)) {
    return fail(ErrorCode::kDecryptFailed, "input is not whole blocks");
  }
  if (cipher == aes256cbc() && iv.size() != 16) {
    return fail(ErrorCode::kDecryptFailed, "IV is not 16 bytes");
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  std::string out(in.size() + 16, '\0');
  int len = 0, fin = 0;
  // OpenSSL's padding check verifies every padding byte (and runs in constant time).
  const auto* v = iv.empty() ? nullptr : reinterpret_cast<const unsigned char*>(iv.data());
  const bool ok =
      EVP_CipherInit_ex(ctx.get(), cipher, nullptr, k, v, encrypt ? 1 : 0) == 1 &&
      EVP_CIPHER_CTX_set_padding(ctx.get(), pad ? 1 : 0) == 1 &&
      EVP_CipherUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       reinterpret_cast<const unsigned char*>(in.data()),
                       static_cast<int>(in.size())) == 1 &&
      EVP_CipherFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &fin) == 1;
  if (!ok) {
    ERR_clear_error();
    return fail(ErrorCode::kDecryptFailed, "bad padding");
  }
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

}  // namespace

core::Result<std::string> aes256ecb_decrypt(std::string_view key, std::string_view ciphertext) {
  return run(false, key, ciphertext);
}

core::Result<std::string> aes256ecb_encrypt(std::string_view key, std::string_view plaintext) {
  return run(true, key, plaintext);
}

core::Result<std::string> aes256cbc_decrypt_raw(std::string_view key, std::string_view iv,
                                                std::string_view ciphertext) {
  return run(false, key, ciphertext, aes256cbc(), iv, false);
}

core::Result<std::string> aes256cbc_encrypt_raw(std::string_view key, std::string_view iv,
                                                std::string_view plaintext) {
  return run(true, key, plaintext, aes256cbc(), iv, false);
}

}  // namespace paygate::crypto

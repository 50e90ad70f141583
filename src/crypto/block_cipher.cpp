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

core::Result<std::string> run(bool encrypt, std::string_view key, std::string_view in) {
  if (key.size() != 32) return fail(ErrorCode::kDecryptFailed, "key is not 32 bytes");
  if (!encrypt && (in.empty() || in.size() % 16 != 0)) {
    return fail(ErrorCode::kDecryptFailed, "ciphertext is not whole blocks");
  }
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  std::string out(in.size() + 16, '\0');
  int len = 0, fin = 0;
  // OpenSSL's padding check verifies every padding byte (and runs in constant time).
  const bool ok =
      EVP_CipherInit_ex(ctx.get(), aes256ecb(), nullptr, k, nullptr, encrypt ? 1 : 0) == 1 &&
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

}  // namespace paygate::crypto

#include "crypto/aead.hpp"

#include <openssl/evp.h>

#include <memory>

namespace paygate::crypto {
namespace {

using core::ErrorCode;
using core::fail;
constexpr std::size_t kTagLen = 16;

const EVP_CIPHER* aes256gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

core::Result<std::string> aes256gcm_decrypt(std::string_view key, std::string_view iv,
                                            std::string_view aad, std::string_view input) {
  if (key.size() != 32) return fail(ErrorCode::kDecryptFailed, "key is not 32 bytes");
  if (iv.empty()) return fail(ErrorCode::kDecryptFailed, "empty nonce");
  if (input.size() < kTagLen) return fail(ErrorCode::kDecryptFailed, "ciphertext too short");
  const std::string_view ct = input.substr(0, input.size() - kTagLen);
  const std::string_view tag = input.substr(input.size() - kTagLen);
  CtxPtr ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(ct.size(), '\0');
  int len = 0;
  int total = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), aes256gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int(iv.size()), nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, u8(key), u8(iv)) == 1;
  if (ok && !aad.empty()) {
    ok = EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(aad), int(aad.size())) == 1;
  }
  if (ok && !ct.empty()) {
    ok = EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, u8(ct),
                           int(ct.size())) == 1;
    total = len;
  }
  if (ok) {
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(kTagLen),
                             const_cast<char*>(tag.data())) == 1;
  }
  // The tag is checked here; without this call forged ciphertext would "decrypt".
  if (ok) {
    ok = EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total,
                             &len) == 1;
  }
  if (!ok) return fail(ErrorCode::kDecryptFailed, "AES-GCM authentication failed");
  out.resize(static_cast<std::size_t>(total + len));
  return out;
}

core::Result<std::string> aes256gcm_encrypt(std::string_view key, std::string_view iv,
                                            std::string_view aad, std::string_view plaintext) {
  if (key.size() != 32) return fail(ErrorCode::kInvalidArgument, "key is not 32 bytes");
  CtxPtr ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  std::string out(plaintext.size() + kTagLen, '\0');
  int len = 0;
  int total = 0;
  bool ok = EVP_EncryptInit_ex(ctx.get(), aes256gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, int(iv.size()), nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, u8(key), u8(iv)) == 1;
  if (ok && !aad.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(aad), int(aad.size())) == 1;
  }
  if (ok && !plaintext.empty()) {
    ok = EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                           u8(plaintext), int(plaintext.size())) == 1;
    total = len;
  }
  if (ok) {
    ok = EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + total,
                             &len) == 1;
    total += len;
  }
  if (ok) {
    ok = EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kTagLen), out.data() + total) ==
         1;
  }
  if (!ok) return fail(ErrorCode::kInternal, "AES-GCM encryption failed");
  out.resize(static_cast<std::size_t>(total) + kTagLen);
  return out;
}

}  // namespace paygate::crypto

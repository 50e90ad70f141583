#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace paygate::crypto {

// An RSA public key, from an SPKI PEM or from an X.509 certificate PEM. Immutable; safe to
// share between threads.
class PublicKey {
 public:
  // Accepts "BEGIN PUBLIC KEY" or "BEGIN CERTIFICATE"; RSA keys of at least 2048 bits only.
  [[nodiscard]] static core::Result<PublicKey> from_pem(std::string_view pem);

  // SHA256withRSA (RSASSA-PKCS1-v1_5) over `message`; false on any mismatch.
  bool verify_sha256(std::string_view message, std::string_view signature) const;

  // RSAES-OAEP with SHA-1 and MGF1-SHA-1, empty label (WeChat Pay's sensitive fields);
  // randomised, so two calls differ.
  [[nodiscard]] core::Result<std::string> encrypt_oaep_sha1(std::string_view plaintext) const;

  // Upper-case hex serial when loaded from a certificate, empty otherwise.
  const std::string& certificate_serial() const { return serial_; }
  std::string to_pem() const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
  std::string serial_;
};

class PrivateKey {
 public:
  // Accepts PKCS#8 ("BEGIN PRIVATE KEY") and PKCS#1 ("BEGIN RSA PRIVATE KEY") PEM.
  [[nodiscard]] static core::Result<PrivateKey> from_pem(std::string_view pem);
  [[nodiscard]] static core::Result<PrivateKey> generate_rsa(int bits = 2048);

  // SHA256withRSA signature bytes.
  [[nodiscard]] core::Result<std::string> sign_sha256(std::string_view message) const;

  // The inverse of PublicKey::encrypt_oaep_sha1; fails on any padding or key mismatch.
  [[nodiscard]] core::Result<std::string> decrypt_oaep_sha1(std::string_view ciphertext) const;

  std::string to_pem() const;         // PKCS#8
  std::string public_pem() const;     // SPKI
  // A self-signed certificate for this key, valid ten years, with the given serial (hex).
  [[nodiscard]] core::Result<std::string> self_signed_certificate_pem(
      std::string_view serial_hex, std::string_view common_name) const;

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace paygate::crypto

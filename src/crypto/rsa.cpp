#include "crypto/rsa.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <unordered_map>

namespace paygate::crypto {
namespace {

using core::ErrorCode;
using core::fail;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr mem_bio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* k) { return {k, EVP_PKEY_free}; }

core::Result<std::shared_ptr<EVP_PKEY>> check_rsa(EVP_PKEY* raw) {
  auto key = own(raw);
  if (!key) return fail(ErrorCode::kInvalidArgument, "not a PEM key");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return fail(ErrorCode::kInvalidArgument, "not an RSA key");
  }
  if (EVP_PKEY_get_bits(key.get()) < 2048) {
    return fail(ErrorCode::kInvalidArgument, "RSA key shorter than 2048 bits");
  }
  return key;
}

const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// A verify context per key and thread, set up once: building one costs OpenSSL 3 more than
// the RSA operation itself. A context holds a reference on its key, so an address in the
// cache cannot be reused by another key while cached.
EVP_PKEY_CTX* verify_ctx(EVP_PKEY* key) {
  thread_local std::unordered_map<const EVP_PKEY*, std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>>
      cache;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  if (cache.size() >= 64) cache.clear();  // keys come from config; tests make many
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256_md()) != 1) {
    return nullptr;
  }
  return cache.emplace(key, std::move(ctx)).first->second.get();
}

}  // namespace

core::Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  PublicKey out;
  auto bio = mem_bio(pem);
  if (pem.find("BEGIN CERTIFICATE") != std::string_view::npos) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) return fail(ErrorCode::kInvalidArgument, "unreadable certificate PEM");
    std::unique_ptr<X509, decltype(&X509_free)> guard(cert, X509_free);
    auto key = check_rsa(X509_get_pubkey(cert));
    if (!key) return tl::unexpected(key.error());
    out.key_ = *key;
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    out.serial_ = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    return out;
  }
  auto key = check_rsa(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return tl::unexpected(key.error());
  out.key_ = *key;
  return out;
}

bool PublicKey::verify_sha256(std::string_view message, std::string_view signature) const {
  if (!key_ || signature.empty()) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &digest_len, sha256_md(), nullptr) != 1) {
    return false;
  }
  EVP_PKEY_CTX* ctx = verify_ctx(key_.get());
  return ctx != nullptr &&
         EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                         signature.size(), digest, digest_len) == 1;
}

std::string PublicKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return drain(bio.get());
}

core::Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  auto bio = mem_bio(pem);
  auto key = check_rsa(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return tl::unexpected(key.error());
  PrivateKey out;
  out.key_ = *key;
  return out;
}

core::Result<PrivateKey> PrivateKey::generate_rsa(int bits) {
  EVP_PKEY* raw = EVP_RSA_gen(static_cast<unsigned int>(bits));
  if (raw == nullptr) return fail(ErrorCode::kInternal, "RSA key generation failed");
  PrivateKey out;
  out.key_ = own(raw);
  return out;
}

core::Result<std::string> PrivateKey::sign_sha256(std::string_view message) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, sha256_md(), nullptr, key_.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &len,
                           reinterpret_cast<const unsigned char*>(message.data()),
                           message.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                        reinterpret_cast<const unsigned char*>(message.data()),
                        message.size()) == 1;
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return fail(ErrorCode::kInternal, "RSA signing failed");
  return sig;
}

namespace {

// One OAEP-SHA1 operation (encrypt or decrypt) with `key`.
template <typename Init, typename Op>
core::Result<std::string> oaep_sha1(EVP_PKEY* key, std::string_view in, Init init, Op op,
                                    ErrorCode code, const char* what) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr), EVP_PKEY_CTX_free);
  const auto* data = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t len = 0;
  bool ok = ctx && init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) == 1 &&
            op(ctx.get(), nullptr, &len, data, in.size()) == 1;
  std::string out;
  if (ok) {
    out.resize(len);
    ok = op(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, data, in.size()) == 1;
    out.resize(len);
  }
  if (!ok) return fail(code, what);
  return out;
}

}  // namespace

core::Result<std::string> PublicKey::encrypt_oaep_sha1(std::string_view plaintext) const {
  return oaep_sha1(key_.get(), plaintext, EVP_PKEY_encrypt_init, EVP_PKEY_encrypt,
                   ErrorCode::kInvalidArgument, "RSA-OAEP encryption failed (plaintext too long?)");
}

core::Result<std::string> PrivateKey::decrypt_oaep_sha1(std::string_view ciphertext) const {
  return oaep_sha1(key_.get(), ciphertext, EVP_PKEY_decrypt_init, EVP_PKEY_decrypt,
                   ErrorCode::kDecryptFailed, "RSA-OAEP decryption failed");
}

std::string PrivateKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return drain(bio.get());
}

std::string PrivateKey::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return drain(bio.get());
}

core::Result<std::string> PrivateKey::self_signed_certificate_pem(
    std::string_view serial_hex, std::string_view common_name) const {
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  BIGNUM* bn = nullptr;
  std::string serial(serial_hex);
  if (BN_hex2bn(&bn, serial.c_str()) == 0) {
    return fail(ErrorCode::kInvalidArgument, "bad serial");
  }
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key_.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("CN"), -1, -1, 0);
  std::string cn(common_name);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key_.get(), EVP_sha256()) == 0) {
    return fail(ErrorCode::kInternal, "certificate signing failed");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  return drain(bio.get());
}

}  // namespace paygate::crypto

#include "crypto/x509.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace paygate::crypto {
namespace {

using core::ErrorCode;
using core::fail;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::vector<X509Ptr> load(std::string_view pem) {
  std::vector<X509Ptr> out;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the end of the bundle reads as an error
  return out;
}

std::string to_pem(X509* x) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), x);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

core::Result<std::vector<CertificateInfo>> read_certificates(std::string_view pem) {
  auto certs = load(pem);
  if (certs.empty()) return fail(ErrorCode::kInvalidArgument, "no readable certificate in PEM");
  std::vector<CertificateInfo> out;
  for (auto& x : certs) {
    CertificateInfo info;
    info.pem = to_pem(x.get());
    {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
      // RFC 2253 order and separators, UTF-8 kept as is (as Java's getName() prints it).
      X509_NAME_print_ex(bio.get(), X509_get_issuer_name(x.get()), 0,
                         XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
      char* data = nullptr;
      const long len = BIO_get_mem_data(bio.get(), &data);
      info.issuer_rfc2253.assign(data, static_cast<std::size_t>(len));
    }
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x.get()), nullptr);
    char* dec = BN_bn2dec(bn);
    info.serial_decimal = dec;
    OPENSSL_free(dec);
    BN_free(bn);
    char oid[128];
    OBJ_obj2txt(oid, sizeof oid, OBJ_nid2obj(X509_get_signature_nid(x.get())), 1);
    info.signature_algorithm_oid = oid;
    out.push_back(std::move(info));
  }
  return out;
}

core::Result<void> verify_chain(std::string_view chain_pem, std::string_view roots_pem,
                                int64_t now_unix) {
  auto chain = load(chain_pem);
  auto roots = load(roots_pem);
  if (chain.empty()) return fail(ErrorCode::kInvalidArgument, "no certificate to verify");
  if (roots.empty()) return fail(ErrorCode::kInvalidArgument, "no root certificate");
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                X509_STORE_free);
  for (auto& r : roots) X509_STORE_add_cert(store.get(), r.get());
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509)* s) { sk_X509_free(s); });
  for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i].get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1) {
    return fail(ErrorCode::kInternal, "cannot set up certificate verification");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now_unix));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return fail(ErrorCode::kInvalidArgument,
                std::string("certificate chain does not verify: ") +
                    X509_verify_cert_error_string(err));
  }
  return {};
}

}  // namespace paygate::crypto

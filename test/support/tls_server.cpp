#include "support/tls_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>

namespace paygate::testing {
namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr new_key() {
  return KeyPtr(EVP_RSA_gen(2048), EVP_PKEY_free);
}

std::string pem_of(EVP_PKEY* k) {
  std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  const long n = BIO_get_mem_data(b.get(), &p);
  return std::string(p, static_cast<std::size_t>(n));
}

std::string pem_of(X509* c) {
  std::unique_ptr<BIO, decltype(&BIO_free)> b(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(b.get(), c);
  char* p = nullptr;
  const long n = BIO_get_mem_data(b.get(), &p);
  return std::string(p, static_cast<std::size_t>(n));
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) throw std::runtime_error("bad extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// Signed by issuer (self-signed when issuer is null).
CertPtr make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, long serial,
                  bool ca, const char* san) {
  CertPtr c(X509_new(), X509_free);
  X509_set_version(c.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 86400);
  X509_set_pubkey(c.get(), key);
  X509_NAME* name = X509_get_subject_name(c.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : c.get();
  add_ext(c.get(), iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
  add_ext(c.get(), iss, NID_key_usage,
          ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  add_ext(c.get(), iss, NID_subject_key_identifier, "hash");
  if (san) add_ext(c.get(), iss, NID_subject_alt_name, san);
  X509_sign(c.get(), issuer_key ? issuer_key : key, EVP_sha256());
  return c;
}

X509* read_cert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> b(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr);
}

EVP_PKEY* read_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> b(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr);
}

}  // namespace

TestPki TestPki::make() {
  TestPki p;
  auto ca_key = new_key();
  auto ca = make_cert(ca_key.get(), "paygate test CA", nullptr, nullptr, 1, true, nullptr);
  auto server_key = new_key();
  auto server = make_cert(server_key.get(), "127.0.0.1", ca.get(), ca_key.get(), 2, false,
                          "IP:127.0.0.1,DNS:localhost");
  auto client_key = new_key();
  auto client = make_cert(client_key.get(), "merchant 1900000109", ca.get(), ca_key.get(), 3,
                          false, nullptr);
  auto other_key = new_key();
  auto other = make_cert(other_key.get(), "another CA", nullptr, nullptr, 4, true, nullptr);
  p.ca_cert = pem_of(ca.get());
  p.server_cert = pem_of(server.get());
  p.server_key = pem_of(server_key.get());
  p.client_cert = pem_of(client.get());
  p.client_key = pem_of(client_key.get());
  p.other_ca_cert = pem_of(other.get());
  return p;
}

std::string read_http_request(const std::function<long(char*, int)>& read) {
  char buf[4096];
  std::string req;
  const auto more = [&] {
    const long n = read(buf, sizeof buf);
    if (n <= 0) return false;
    req.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  while (req.find("\r\n\r\n") == std::string::npos) {
    if (!more()) return req;
  }
  const auto head_end = req.find("\r\n\r\n");
  const auto cl = req.find("Content-Length: ");
  const std::size_t want = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
  while (req.size() - head_end - 4 < want && more()) {
  }
  return req;
}

int listen_on_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd, 4);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

OneShotTlsServer::OneShotTlsServer(const TestPki& pki, std::string answer,
                                   bool require_client_cert)
    : answer_(std::move(answer)) {
  fd_ = listen_on_loopback(port_);
  thread_ = std::thread([this, pki, require_client_cert] { serve(pki, require_client_cert); });
}

OneShotTlsServer::~OneShotTlsServer() {
  ::shutdown(fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

std::string OneShotTlsServer::request() {
  if (thread_.joinable()) thread_.join();
  return request_;
}

std::string OneShotTlsServer::client_common_name() {
  if (thread_.joinable()) thread_.join();
  return client_cn_;
}

void OneShotTlsServer::serve(const TestPki& pki, bool require_client_cert) {
  const int c = ::accept(fd_, nullptr, nullptr);
  if (c < 0) return;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                         SSL_CTX_free);
  X509* cert = read_cert(pki.server_cert);
  SSL_CTX_use_certificate(ctx.get(), cert);
  X509_free(cert);
  EVP_PKEY* key = read_key(pki.server_key);
  SSL_CTX_use_PrivateKey(ctx.get(), key);
  EVP_PKEY_free(key);
  if (require_client_cert) {
    X509* ca = read_cert(pki.ca_cert);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca);
    X509_free(ca);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL* ssl = SSL_new(ctx.get());
  SSL_set_fd(ssl, c);
  if (SSL_accept(ssl) == 1) {
    if (X509* peer = SSL_get1_peer_certificate(ssl)) {
      char cn[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
      client_cn_ = cn;
      X509_free(peer);
    }
    request_ =
        read_http_request([ssl](char* buf, int n) -> long { return SSL_read(ssl, buf, n); });
    SSL_write(ssl, answer_.data(), static_cast<int>(answer_.size()));
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ::close(c);
}

}  // namespace paygate::testing

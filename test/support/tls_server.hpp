#pragma once
#include <functional>
#include <string>
#include <thread>

namespace paygate::testing {

// A listening TCP socket on 127.0.0.1 at a port the kernel picks; sets `port`.
int listen_on_loopback(int& port);

// One HTTP/1.1 request (head, then Content-Length bytes of body) read through `read`, which
// returns what recv/SSL_read return. What came, even if the peer stopped early.
std::string read_http_request(const std::function<long(char*, int)>& read);

// A throw-away PKI for TLS tests: a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA (RSA-2048, valid one day). PEM strings.
struct TestPki {
  std::string ca_cert;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string other_ca_cert;  // a CA that signed nothing here
  static TestPki make();
};

// Accepts one TLS connection on 127.0.0.1, reads one HTTP request and writes a canned answer.
// With require_client_cert, the handshake fails unless the client shows a certificate of the
// PKI's CA.
class OneShotTlsServer {
 public:
  OneShotTlsServer(const TestPki& pki, std::string answer, bool require_client_cert = false);
  ~OneShotTlsServer();
  OneShotTlsServer(const OneShotTlsServer&) = delete;
  OneShotTlsServer& operator=(const OneShotTlsServer&) = delete;

  int port() const { return port_; }
  // After the exchange (joins the server thread): the request read, empty when the handshake
  // failed, and the client certificate's common name, empty when none was shown.
  std::string request();
  std::string client_common_name();

 private:
  void serve(const TestPki& pki, bool require_client_cert);

  std::string answer_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
  std::string client_cn_;
};

}  // namespace paygate::testing

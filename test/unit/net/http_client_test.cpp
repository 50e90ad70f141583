#include "net/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "support/tls_server.hpp"

namespace paygate {
namespace {

using namespace std::chrono_literals;

bool internal(const char* ip) {
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET, ip, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return net::is_internal_address(reinterpret_cast<sockaddr*>(&v4));
  }
  EXPECT_EQ(inet_pton(AF_INET6, ip, &v6.sin6_addr), 1) << ip;
  v6.sin6_family = AF_INET6;
  return net::is_internal_address(reinterpret_cast<sockaddr*>(&v6));
}

TEST(EndpointAddress, PrivateLoopbackAndLinkLocalAreInternal) {
  for (const char* ip : {"127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                         "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
                         "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "fc00::5",
                         "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1",
                         // the rest of the IANA special-purpose registries
                         "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.255",
                         "198.51.100.7", "203.0.113.9", "192.88.99.1", "240.0.0.1",
                         "64:ff9b::a9fe:a9fe", "64:ff9b::808:808", "64:ff9b:1::1",
                         "2002:7f00:1::", "2002:a9fe:a9fe::1", "::7f00:1", "::a9fe:a9fe",
                         "2001:0:4136:e378::1", "2001:db8::1", "2001:10::1", "100::1",
                         "fec0::1", "3fff::1", "5f00::1"}) {
    EXPECT_TRUE(internal(ip)) << ip;
  }
  for (const char* ip : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                         "192.169.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "198.20.0.1",
                         "192.0.3.1", "2400:cb00::1", "2001:200::1"}) {
    EXPECT_FALSE(internal(ip)) << ip;
  }
}

// One connection, one canned answer: enough to see what the transport sends and reads.
class OneShotServer {
 public:
  explicit OneShotServer(std::string answer, int hold_ms = 0)
      : answer_(std::move(answer)), hold_ms_(hold_ms) {
    fd_ = testing::listen_on_loopback(port_);
    thread_ = std::thread([this] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      request_ =
          testing::read_http_request([c](char* buf, int n) -> long { return ::read(c, buf, n); });
      accepted_at_ = std::chrono::steady_clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms_));
      (void)!::write(c, answer_.data(), answer_.size());
      ::close(c);
    });
  }
  ~OneShotServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::string request() {
    thread_.join();
    thread_ = std::thread([] {});
    return request_;
  }

 private:
  std::string answer_;
  int hold_ms_ = 0;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
 public:
  std::chrono::steady_clock::time_point accepted_at_{};  // when the request was read
};

net::HttpResponse call(net::HttpClient& c, net::HttpRequest req) {
  std::promise<net::HttpResponse> done;
  c.send(std::move(req), [&](net::HttpResponse r) { done.set_value(std::move(r)); });
  return done.get_future().get();
}

net::HttpRequest post_to(const std::string& url) {
  net::HttpRequest req;
  req.url = url;
  req.body = R"({"type":"order.paid"})";
  req.headers = {{"webhook-id", "msg_1"}, {"Content-Type", "application/json"}};
  req.timeout = 3000ms;
  return req;
}

std::string local(int port, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

std::unique_ptr<net::HttpClient> client(bool allow_private, std::size_t keep,
                                        std::size_t in_flight = 256) {
  net::HttpClientOptions o;
  o.allow_private_addresses = allow_private;
  o.max_response_bytes = keep;
  o.max_in_flight = in_flight;
  return net::make_http_client(std::move(o));
}

TEST(HttpClient, RefusesInternalAddressesUnlessAllowed) {
  auto strict = client(false, 64);
  for (const char* url : {"http://127.0.0.1:1/x", "http://localhost:1/x", "http://[::1]:1/x"}) {
    auto r = call(*strict, post_to(url));
    EXPECT_EQ(r.status, 0) << url;
    EXPECT_TRUE(r.refused_address) << url << " " << r.error;
    EXPECT_FALSE(r.maybe_sent) << url;
    EXPECT_NE(r.error.find("not allowed"), std::string::npos) << r.error;
  }
  OneShotServer server("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  auto relaxed = client(true, 64);
  auto r = call(*relaxed, post_to(local(server.port(), "/hooks")));
  EXPECT_EQ(r.status, 204) << r.error;
  EXPECT_FALSE(r.refused_address);
  EXPECT_TRUE(r.maybe_sent);
  const std::string req = server.request();
  EXPECT_NE(req.find("POST /hooks HTTP/1.1"), std::string::npos) << req;
  EXPECT_NE(req.find("webhook-id: msg_1"), std::string::npos) << req;
  EXPECT_NE(req.find(R"({"type":"order.paid"})"), std::string::npos) << req;
}

TEST(HttpClient, SendsTheMethodAsGivenAndReadsHeadersAndBody) {
  auto c = client(true, 1 << 16);
  {
    OneShotServer s("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Wechatpay-Serial:  5157F09EFDC096DE15EBE81A47057A72  \r\n"
                    "Content-Length: 11\r\n\r\n{\"ok\":true}");
    net::HttpRequest req;
    req.method = "GET";
    req.url = local(s.port(), "/v3/pay/transactions/out-trade-no/A1?mchid=1900000109");
    req.headers = {{"Accept", "application/json"}};
    auto r = call(*c, req);
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, R"({"ok":true})");
    EXPECT_FALSE(r.truncated);
    ASSERT_TRUE(r.header("wechatpay-serial"));
    EXPECT_EQ(*r.header("WECHATPAY-SERIAL"), "5157F09EFDC096DE15EBE81A47057A72");
    EXPECT_FALSE(r.header("Wechatpay-Signature"));
    const std::string sent = s.request();
    EXPECT_EQ(sent.rfind("GET /v3/pay/transactions/out-trade-no/A1?mchid=1900000109 HTTP/1.1\r\n",
                         0),
              0u)
        << sent;
    EXPECT_EQ(sent.find("Content-Length"), std::string::npos) << sent;
  }
  {
    OneShotServer s("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    net::HttpRequest req;
    req.method = "PATCH";
    req.url = local(s.port(), "/x");
    req.body = "abc";
    EXPECT_EQ(call(*c, req).status, 200);
    const std::string sent = s.request();
    EXPECT_EQ(sent.rfind("PATCH /x HTTP/1.1\r\n", 0), 0u) << sent;
    EXPECT_NE(sent.find("\r\n\r\nabc"), std::string::npos) << sent;
  }
  {
    net::HttpRequest req;
    req.method = "TRACE";
    req.url = "http://127.0.0.1:1/";
    auto r = call(*c, req);
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.maybe_sent);
    EXPECT_EQ(r.error, "unsupported method");
  }
}

TEST(HttpClient, RepeatedHeaderIsNoSingleValueAndALongBodyIsCut) {
  auto c = client(true, 8);
  OneShotServer s("HTTP/1.1 429 Too Many\r\nRetry-After: 17\r\nRetry-After: 1\r\n"
                  "Content-Length: 20\r\n\r\nslow down, please!!!");
  auto r = call(*c, post_to(local(s.port())));
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(r.header("retry-after"));
  const auto all = r.header_values("Retry-After");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "17");
  EXPECT_EQ(all[1], "1");
  EXPECT_EQ(r.body, "slow dow");
  EXPECT_TRUE(r.truncated);
}

TEST(HttpClient, FollowsNoRedirect) {
  auto c = client(true, 8);
  OneShotServer s("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n");
  auto r = call(*c, post_to(local(s.port())));
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(*r.header("location"), "http://127.0.0.1:1/");
}

TEST(HttpClient, ATimeoutAfterTheRequestWentOutIsAnUnknownOutcome) {
  // Reads the request, then stays silent past the client's timeout.
  OneShotServer s("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 1000);
  auto c = client(true, 8);
  auto req = post_to(local(s.port()));
  req.timeout = 300ms;
  auto r = call(*c, req);
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.timed_out) << r.error;
  EXPECT_TRUE(r.maybe_sent);
  EXPECT_GE(r.latency, 290ms);
  EXPECT_LT(r.latency, 1000ms);
}

TEST(HttpClient, NoConnectionMeansCertainlyNotSent) {
  // A port that was just free: nothing listens on it any more.
  int port = 0;
  ::close(testing::listen_on_loopback(port));
  auto c = client(true, 8);
  auto r = call(*c, post_to(local(port)));
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.maybe_sent) << r.error;
  EXPECT_FALSE(r.error.empty());
}

TEST(HttpClient, CallsBeyondTheCapWaitForASlot) {
  OneShotServer first("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", 300);
  OneShotServer second("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  auto c = client(true, 8, /*in_flight=*/1);
  std::promise<std::chrono::steady_clock::time_point> one, two;
  c->send(post_to(local(first.port())),
          [&](net::HttpResponse) { one.set_value(std::chrono::steady_clock::now()); });
  c->send(post_to(local(second.port())),
          [&](net::HttpResponse) { two.set_value(std::chrono::steady_clock::now()); });
  const auto first_done = one.get_future().get();
  (void)two.get_future().get();
  first.request();
  second.request();
  // The second call's request reached its server only once the first had its answer.
  EXPECT_GE(second.accepted_at_, first_done - 5ms);
}

// TLS: the peer is verified against the configured roots; a client certificate goes along
// when the request names one.
class HttpClientTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new testing::TestPki(testing::TestPki::make()); }
  static void TearDownTestSuite() { delete pki_; }
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("paygate-net-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name, const std::string& pem) {
    const auto p = dir_ / name;
    std::ofstream(p) << pem;
    return p.string();
  }
  std::unique_ptr<net::HttpClient> tls_client(const std::string& ca_file) {
    net::HttpClientOptions o;
    o.allow_private_addresses = true;
    o.max_response_bytes = 1024;
    o.ca_file = ca_file;
    return net::make_http_client(std::move(o));
  }
  static std::string url(int port) { return "https://127.0.0.1:" + std::to_string(port) + "/v3/x"; }

  static testing::TestPki* pki_;
  std::filesystem::path dir_;
};
testing::TestPki* HttpClientTls::pki_ = nullptr;

constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST_F(HttpClientTls, AnUntrustedServerIsRefusedBeforeAnythingIsSent) {
  for (const std::string& ca : {std::string(), file("other.pem", pki_->other_ca_cert)}) {
    testing::OneShotTlsServer s(*pki_, kOk);
    auto c = tls_client(ca);
    auto r = call(*c, post_to(url(s.port())));
    EXPECT_EQ(r.status, 0) << ca;
    EXPECT_FALSE(r.maybe_sent) << r.error;
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(s.request(), "");
  }
}

TEST_F(HttpClientTls, ATrustedServerAnswers) {
  testing::OneShotTlsServer s(*pki_, kOk);
  auto c = tls_client(file("ca.pem", pki_->ca_cert));
  auto r = call(*c, post_to(url(s.port())));
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "ok");
  EXPECT_NE(s.request().find("POST /v3/x HTTP/1.1"), std::string::npos);
  EXPECT_EQ(s.client_common_name(), "");
}

TEST_F(HttpClientTls, MutualTlsShowsTheRequestsClientCertificate) {
  auto c = tls_client(file("ca.pem", pki_->ca_cert));
  {
    testing::OneShotTlsServer s(*pki_, kOk, /*require_client_cert=*/true);
    auto r = call(*c, post_to(url(s.port())));
    EXPECT_EQ(r.status, 0) << "no certificate, no answer";
    EXPECT_EQ(s.request(), "");
  }
  testing::OneShotTlsServer s(*pki_, kOk, /*require_client_cert=*/true);
  auto req = post_to(url(s.port()));
  req.client_certificate = std::make_shared<net::ClientCertificate>(
      net::ClientCertificate{pki_->client_cert, core::Secret(pki_->client_key)});
  auto r = call(*c, req);
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(s.client_common_name(), "merchant 1900000109");
}

}  // namespace
}  // namespace paygate

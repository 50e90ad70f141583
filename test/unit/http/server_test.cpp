// The HTTP server against handlers that misbehave: a throw before or while answering is a 500
// and a closed connection, a second answer is dropped, and the server keeps serving.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "obs/log.hpp"

namespace paygate {
namespace {

class Misbehaving final : public http::HttpHandler {
 public:
  void handle(http::HttpRequest req, http::Respond respond) override {
    if (req.target == "/throw") throw std::runtime_error("handler bug");
    if (req.target == "/throw-later") {
      return respond.later([]() -> http::HttpResponse { throw std::invalid_argument("bad byte"); });
    }
    if (req.target == "/twice") {
      respond(http::HttpResponse{200, "text/plain", "first", {}});
      respond(http::HttpResponse{201, "text/plain", "second", {}});
      return;
    }
    respond(http::HttpResponse{200, "text/plain", "ok", {}});
  }
};

// One request on a fresh connection; the raw answer, read until the server closes or 1 s.
std::string exchange(uint16_t port, const std::string& path, bool* closed) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
  EXPECT_EQ(send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  std::string out;
  char buf[4096];
  *closed = false;
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) {
      *closed = true;
      break;
    }
    if (n < 0) break;  // timed out: the connection stays open
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

TEST(HttpServer, HandlerThatThrowsGets500AndAClosedConnectionAndTheServerStaysUp) {
  obs::set_log_level(obs::Level::kOff);
  Misbehaving handler;
  http::ServerOptions o;
  o.port = 0;
  o.threads = 1;
  std::atomic<int> handler_errors{0};
  o.on_connection_event = [&](const char* e) {
    if (std::string(e) == "handler_error") ++handler_errors;
  };
  auto server = http::HttpServer::create(o, handler);
  ASSERT_TRUE(server) << server.error().detail;
  std::thread t([&] { (*server)->run(); });
  const uint16_t port = (*server)->port();
  bool closed = false;
  for (const char* path : {"/throw", "/throw-later"}) {
    const auto r = exchange(port, path, &closed);
    EXPECT_EQ(r.rfind("HTTP/1.1 500", 0), 0u) << path << ": " << r;
    EXPECT_NE(r.find("internal error"), std::string::npos) << r;
    EXPECT_EQ(r.find("handler bug"), std::string::npos) << r;  // nothing internal leaks
    EXPECT_EQ(r.find("bad byte"), std::string::npos) << r;
    EXPECT_TRUE(closed) << path;
  }
  EXPECT_EQ(handler_errors.load(), 2);
  const auto twice = exchange(port, "/twice", &closed);
  EXPECT_EQ(twice.rfind("HTTP/1.1 200", 0), 0u) << twice;
  EXPECT_EQ(twice.find("second"), std::string::npos) << twice;
  EXPECT_FALSE(closed);  // keep-alive: the one answer went out and the connection stays
  const auto ok = exchange(port, "/ok", &closed);
  EXPECT_EQ(ok.rfind("HTTP/1.1 200", 0), 0u) << ok;
  (*server)->stop();
  t.join();
  obs::set_log_level(obs::Level::kInfo);
}

}  // namespace
}  // namespace paygate

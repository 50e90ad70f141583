#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/headers.hpp"

namespace paygate::http {

struct HttpRequest {
  std::string method;
  std::string target;
  core::Headers headers;
  std::string body;
  std::string remote;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Answers one request, exactly once, from any thread. `later` runs `make` on the connection's
// I/O thread and sends what it returns, so the work around an answer (logs, metrics) never
// runs on the answering thread, e.g. the store's single writer.
class Respond {
 public:
  using Make = std::function<HttpResponse()>;
  explicit Respond(std::function<void(Make)> run) : run_(std::move(run)) {}
  void operator()(HttpResponse r) const {
    run_([r = std::move(r)]() mutable { return std::move(r); });
  }
  void later(Make make) const { run_(std::move(make)); }

 private:
  std::function<void(Make)> run_;
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void handle(HttpRequest request, Respond respond) = 0;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port
  std::size_t body_limit = 64 * 1024;
  std::chrono::milliseconds header_timeout{10000};  // also the keep-alive idle limit
  std::chrono::milliseconds body_timeout{10000};
  std::chrono::milliseconds drain_timeout{15000};
  int threads = 2;
  // Called with a request the server answered itself (oversized, malformed), for metrics.
  std::function<void(int status)> on_protocol_error;
};

// HTTP/1.1 with keep-alive on Boost.Beast. SIGTERM/SIGINT (or stop()) drain it: stop
// accepting, close idle connections, let in-flight requests finish, then return from run().
class HttpServer {
 public:
  [[nodiscard]] static core::Result<std::unique_ptr<HttpServer>> create(ServerOptions options,
                                                                        HttpHandler& handler);
  virtual ~HttpServer() = default;
  virtual uint16_t port() const = 0;
  virtual void run() = 0;
  virtual void stop() = 0;
};

}  // namespace paygate::http

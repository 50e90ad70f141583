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
  bool close = false;  // close the connection after this answer
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
  std::chrono::milliseconds idle_timeout{5000};      // waiting for a request's first byte
  std::chrono::milliseconds header_timeout{10000};   // the header section, from its first byte
  std::chrono::milliseconds body_timeout{10000};     // the body, after the headers
  std::chrono::milliseconds request_timeout{15000};  // the whole request, from its first byte
  // Open connections at most (0: the descriptor limit less a reserve for the store, the
  // webhook transport and logs) and per client address (0: a quarter of that). When a new
  // connection would pass either, the longest-idle connection (of that address, for the
  // second) is closed to make room, so idle connections cannot lock out a provider.
  int max_connections = 0;
  int max_connections_per_address = 0;
  std::chrono::milliseconds drain_timeout{15000};
  int threads = 2;
  // Called with a request the server answered itself (oversized, malformed), for metrics.
  std::function<void(int status)> on_protocol_error;
  // Connection events, for metrics: "evicted" (idle, closed for room), "refused" (no room),
  // "accept_error" (e.g. out of descriptors), "handler_error" (a handler threw: 500).
  std::function<void(const char* event)> on_connection_event;
};

// The limits the server will apply for `options` on this machine (0s resolved).
struct ConnectionLimits {
  int max_connections;
  int max_connections_per_address;
};
ConnectionLimits connection_limits(const ServerOptions& options);

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

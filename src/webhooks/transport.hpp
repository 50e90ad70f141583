#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sockaddr;

namespace paygate::webhooks {

struct HttpRequest {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{15000};
};

struct HttpResponse {
  long status = 0;  // 0: no HTTP answer
  std::optional<std::string> retry_after;
  std::string body_head;  // the first bytes of the body
  std::string error;      // transport error, when there was one
  bool timed_out = false;
  bool refused_address = false;  // the endpoint resolved to an address we may not call
  std::chrono::milliseconds latency{0};
};

using ResponseFn = std::function<void(HttpResponse)>;

// Sends POSTs without blocking the caller; `done` runs on the transport's thread.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void post(HttpRequest request, ResponseFn done) = 0;
};

struct TransportOptions {
  bool allow_private_addresses = false;
  std::size_t keep_response_bytes = 512;
};

// libcurl multi on one thread: connections are reused per host, redirects are not followed,
// only http/https, no proxies, and (unless allowed) no private, loopback or link-local peers.
std::unique_ptr<Transport> make_curl_transport(TransportOptions options);

// Loopback, private (RFC 1918, fc00::/7), link-local, CGNAT, unspecified, multicast and
// IPv4-mapped forms of those.
bool is_internal_address(const sockaddr* addr);

}  // namespace paygate::webhooks

#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/secret.hpp"

struct sockaddr;

namespace paygate::net {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Mutual TLS: the client certificate (PEM, chain allowed) and its private key (PEM).
struct ClientCertificate {
  std::string cert_pem;
  core::Secret key_pem;
};

struct HttpRequest {
  std::string method = "POST";  // GET, POST, PUT, PATCH or DELETE; a body is sent as given
  std::string url;
  HeaderList headers;
  std::string body;
  std::chrono::milliseconds timeout{15000};         // the whole call, connect included
  std::chrono::milliseconds connect_timeout{10000};  // of it, DNS + TCP + TLS
  std::shared_ptr<const ClientCertificate> client_certificate;
  std::size_t max_response_bytes = 0;  // of the body kept; 0: the client's default
  std::chrono::milliseconds start_after{0};  // a retry's back-off: not started before then
};

struct HttpResponse {
  long status = 0;     // 0: no HTTP answer
  HeaderList headers;  // of the final response, as received (names in their case, values trimmed)
  std::string body;    // at most HttpClientOptions::max_response_bytes of it
  bool truncated = false;  // the body was longer than that
  std::string error;       // transport error, when there was one
  bool timed_out = false;
  bool refused_address = false;  // the host resolved to an address we may not call
  // The request may have reached the server although no answer came: its effect is unknown
  // (only a query can tell). False when it certainly was not sent (no connection, TLS refused).
  bool maybe_sent = false;
  std::chrono::milliseconds latency{0};

  // The values of a header, case-insensitively, in the order received.
  std::vector<std::string_view> header_values(std::string_view name) const;
  // The one value of a header; nullopt when absent or repeated.
  std::optional<std::string_view> header(std::string_view name) const;
};

using ResponseFn = std::function<void(HttpResponse)>;

// Sends requests without blocking the caller; `done` runs on the client's own thread, so it
// must hand any real work elsewhere (post to an I/O context, submit to the store).
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual void send(HttpRequest request, ResponseFn done) = 0;
};

struct HttpClientOptions {
  // Webhook endpoints are merchant-supplied: by default no private, loopback or link-local
  // peer (see is_internal_address). Provider hosts are configured by the operator.
  bool allow_private_addresses = false;
  std::size_t max_response_bytes = 512;
  std::size_t max_in_flight = 256;  // more wait in order until one finishes
  std::string user_agent = "paygate/1";
  std::string ca_file;  // trusted roots (PEM); empty: the system's bundle
  std::string thread_name = "paygate-curl";
};

// libcurl multi on one thread: connections are kept alive and reused per host (and client
// certificate), TLS peers and host names are verified, redirects are not followed, only
// http/https, no proxies.
std::unique_ptr<HttpClient> make_http_client(HttpClientOptions options);

// Loopback, private (RFC 1918, fc00::/7), link-local, CGNAT, unspecified, multicast, every other
// special-purpose block of the IANA registries, and IPv6 forms that embed such IPv4 addresses.
bool is_internal_address(const sockaddr* addr);

}  // namespace paygate::net

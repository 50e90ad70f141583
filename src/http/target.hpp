#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Request targets (what a path says, decoded once) and listen addresses.
namespace paygate::http {

// %XX escapes decoded; a malformed escape stays as it is.
std::string percent_decode(std::string_view s);

// Splits a path into percent-decoded segments; the query string is dropped.
std::vector<std::string> path_segments(std::string_view target);

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT" (port 0-65535, digits only); nullopt otherwise.
std::optional<ListenAddress> parse_listen(std::string_view host_port);

}  // namespace paygate::http

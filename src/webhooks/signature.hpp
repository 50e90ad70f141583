#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/headers.hpp"
#include "core/secret.hpp"

namespace paygate::webhooks {

// A Standard Webhooks symmetric secret: "whsec_" + base64 (the prefix is optional on input).
// The HMAC key is the decoded bytes.
core::Result<core::Secret> parse_secret(std::string_view text);

// "<id>.<timestamp>.<body>", the bytes the v1 signature covers.
std::string signed_content(std::string_view id, int64_t timestamp, std::string_view body);

// "v1,<base64 HMAC-SHA256>".
std::string sign(const core::Secret& key, std::string_view id, int64_t timestamp,
                 std::string_view body);

// The webhook-signature header: one v1 entry per key (several during a rotation).
std::string signature_header(const std::vector<core::Secret>& keys, std::string_view id,
                             int64_t timestamp, std::string_view body);

struct Verdict {
  bool accepted = false;
  std::string reason;  // why not, when not
};

// Receiver side: any v1 entry matching any key, timestamp within `tolerance_seconds` of `now`.
Verdict verify(const std::vector<core::Secret>& keys, const core::Headers& headers,
               std::string_view body, int64_t now, int64_t tolerance_seconds = 300);

}  // namespace paygate::webhooks

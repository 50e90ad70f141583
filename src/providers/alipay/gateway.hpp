#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "crypto/rsa.hpp"
#include "providers/form.hpp"

// Alipay OpenAPI gateway calls (gateway.do), without I/O: signing a request (PROTOCOLS.md 4.5)
// and reading and verifying its answer (4.6).
namespace paygate::providers::alipay {

// Every parameter except sign (sign_type included), empty values dropped, sorted by name
// (bytes), "k=v" joined by "&", raw values.
std::string request_sign_content(const FormParams& params);

// `params` with `sign` appended (RSA2 over request_sign_content). A parameter named twice, a
// `sign` already present or a sign_type other than RSA2 is kInvalidArgument.
[[nodiscard]] core::Result<FormParams> sign_request(const crypto::PrivateKey& app_key,
                                                    FormParams params);

// "alipay.trade.query" -> "alipay_trade_query_response".
std::string response_key(std::string_view method);

// An answer taken apart without re-serialising anything: the raw text of the response node
// (what Alipay signed, byte for byte) and the members beside it.
struct GatewayResponse {
  std::string key;             // the method's key, or "error_response" for a gateway error
  std::string signed_content;  // the node's raw text, from its '{' to its matching '}'
  std::string sign;            // decoded JSON string; empty when absent
  std::string cert_sn;         // alipay_cert_sn (certificate mode); empty when absent
};

// Reads the answer to `method`: one JSON object whose members are unique; the method's node
// (or error_response) must be an object. Anything else is kMalformed.
[[nodiscard]] core::Result<GatewayResponse> split_response(std::string_view raw,
                                                           std::string_view method);

// SHA256withRSA of the node's raw text with the Alipay key. kBadSignature when the sign is
// missing, not base64 or does not verify.
[[nodiscard]] core::Result<void> verify_response(const crypto::PublicKey& alipay_key,
                                                 const GatewayResponse& response);

// The node's members as name -> value: strings decoded, anything else as its JSON text.
[[nodiscard]] core::Result<std::vector<std::pair<std::string, std::string>>> response_fields(
    std::string_view signed_content);

}  // namespace paygate::providers::alipay

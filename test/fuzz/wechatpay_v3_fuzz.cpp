// libFuzzer target: the WeChat Pay APIv3 callback verifier and parsers on arbitrary input.
// Input: "Name: value" header lines, an empty line, then the raw body. Any crash, sanitizer
// report or leak is a finding; rejections are the expected outcome for almost all inputs.
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/headers.hpp"
#include "crypto/encoding.hpp"
#include "providers/wechatpay_v3/adapter.hpp"
#include "providers/wechatpay_v3/certificates.hpp"
#include "providers/wechatpay_v3/wire.hpp"

namespace {

using namespace paygate;
namespace wx = providers::wechatpay_v3;

struct Fixture {
  std::unique_ptr<wx::Adapter> adapter;
  std::string apiv3_key;
  int64_t now = 0;
};

// The adapter as configured for the first notification vector: its keys, APIv3 key and clock.
Fixture load() {
  std::ifstream in(std::string(PAYGATE_VECTORS_DIR) + "/wechatpay_v3_notify.json");
  const auto doc = nlohmann::json::parse(in);
  for (const auto& v : doc["vectors"]) {
    if (v["kind"] != "notification") continue;
    const auto& inp = v["inputs"];
    wx::Settings s;
    s.mchid = "1900000001";
    s.apiv3_key = core::Secret(inp["apiv3_key"].get<std::string>());
    for (const auto& k : inp["trusted_keys"]) {
      auto key = crypto::PublicKey::from_pem(k["public_key_pem"].get<std::string>());
      if (key) s.keys.push_back({k["serial"].get<std::string>(), std::move(*key)});
    }
    Fixture f;
    f.apiv3_key = inp["apiv3_key"].get<std::string>();
    f.now = inp["now_unix"].get<int64_t>();
    f.adapter = std::make_unique<wx::Adapter>(std::move(s));
    return f;
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture f = load();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto split = in.find("\n\n");
  const std::string_view head = split == std::string_view::npos ? std::string_view{} : in.substr(0, split);
  const std::string_view body = split == std::string_view::npos ? in : in.substr(split + 2);

  core::Headers headers;
  std::size_t pos = 0;
  while (pos < head.size()) {
    auto eol = head.find('\n', pos);
    if (eol == std::string_view::npos) eol = head.size();
    const auto line = head.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      headers.add(std::string(line.substr(0, colon)), std::string(value));
    }
    pos = eol + 1;
  }

  const providers::InboundRequest req{"POST", "/notify/wechatpay/v3/fuzz", headers, body};
  auto accepted = f.adapter->accept(req, f.now);
  auto inspection = f.adapter->inspect(req, f.now);
  // A verified callback must also pass inspection, and the reverse.
  if (static_cast<bool>(accepted) != inspection.accepted()) __builtin_trap();

  // The parsers behind the signature check, reached directly.
  if (auto env = wx::parse_envelope(body)) {
    (void)wx::parse_resource(*env, body);
  }
  (void)crypto::base64_decode(body);
  (void)wx::decode_certificate_download(body, f.apiv3_key);
  return 0;
}

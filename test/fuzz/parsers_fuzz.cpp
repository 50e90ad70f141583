// libFuzzer target: the form and XML readers and the Alipay, WeChat Pay APIv2 and Official
// Account adapters on arbitrary input. The first byte picks the target: 'A' Alipay form body,
// 'X' APIv2 XML body, 'M' Official Account ("query\nbody"), 'G' an Alipay gateway answer,
// anything else the bare readers.
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "providers/alipay/adapter.hpp"
#include "providers/alipay/gateway.hpp"
#include "providers/form.hpp"
#include "providers/wechat_mp/crypto.hpp"
#include "providers/wechat_mp/endpoint.hpp"
#include "providers/wechatpay_v2/adapter.hpp"
#include "providers/xml.hpp"

namespace {

using namespace paygate;

nlohmann::json load(const char* topic) {
  std::ifstream in(std::string(PAYGATE_VECTORS_DIR) + "/" + topic);
  return nlohmann::json::parse(in);
}

struct Fixture {
  std::unique_ptr<providers::alipay::Adapter> alipay;
  std::unique_ptr<providers::wechatpay_v2::Adapter> v2;
  std::unique_ptr<providers::wechat_mp::Endpoint> mp;
  int64_t mp_now = 0;
};

// Adapters configured with the vectors' keys, so seeds pass and mutations exercise every branch.
Fixture make() {
  Fixture f;
  const auto ali = load("alipay_notify.json");
  auto key = crypto::PublicKey::from_pem(ali["shared"]["alipay_public_key_pem"].get<std::string>());
  if (!key) std::abort();
  f.alipay = std::make_unique<providers::alipay::Adapter>(providers::alipay::Settings{
      ali["shared"]["app_id"], ali["shared"]["seller_id"], *key, ""});
  const auto v2 = load("wechatpay_v2_sign.json");
  providers::wechatpay_v2::Settings s2;
  s2.mchid = v2["shared"]["mch_id"];
  s2.appids = {v2["shared"]["appid"].get<std::string>()};
  s2.api_key = core::Secret(v2["shared"]["api_key"].get<std::string>());
  f.v2 = std::make_unique<providers::wechatpay_v2::Adapter>(std::move(s2));
  const auto mp = load("wechat_mp_crypto.json");
  providers::wechat_mp::Settings sm;
  sm.appid = mp["shared"]["appid"];
  sm.token = core::Secret(mp["shared"]["token"].get<std::string>());
  sm.aes_key = core::Secret(*providers::wechat_mp::aes_key(
      mp["shared"]["encoding_aes_key"].get<std::string>()));
  sm.max_clock_skew_seconds = 1000000000;  // vectors carry 2024 timestamps
  f.mp = std::make_unique<providers::wechat_mp::Endpoint>(std::move(sm));
  f.mp_now = 1718092310;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture f = make();
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  core::Headers h;
  switch (data[0]) {
    case 'A': {
      const providers::InboundRequest req{"POST", "/", h, in};
      const bool accepted = static_cast<bool>(f.alipay->accept(req, 0));
      if (accepted != f.alipay->inspect(req).accepted()) __builtin_trap();
      (void)f.alipay->verify_return(in);
      break;
    }
    case 'X': {
      const providers::InboundRequest req{"POST", "/", h, in};
      const bool accepted = static_cast<bool>(f.v2->accept(req, 0));
      if (accepted != f.v2->inspect(req).accepted()) __builtin_trap();
      break;
    }
    case 'M': {
      const auto nl = in.find('\n');
      const auto query = providers::parse_form(in.substr(0, nl));
      if (query) {
        const auto body = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
        const bool accepted = static_cast<bool>(f.mp->accept(*query, body, f.mp_now));
        if (accepted != f.mp->inspect(*query, body, f.mp_now).accepted()) __builtin_trap();
        (void)f.mp->verify_url(*query);
      }
      break;
    }
    case 'G': {
      // What the gateway reader accepts is JSON to any other reader, and its node's fields read.
      auto r = providers::alipay::split_response(in, "alipay.trade.query");
      if (r) {
        const auto node = nlohmann::json::parse(r->signed_content, nullptr, false);
        if (node.is_discarded() || !node.is_object()) __builtin_trap();
        const auto fields = providers::alipay::response_fields(r->signed_content);
        if (fields && fields->size() != node.size()) __builtin_trap();
      }
      break;
    }
    default:
      if (auto form = providers::parse_form(in)) (void)providers::encode_form(*form);
      (void)providers::parse_flat_xml(in, "xml");
  }
  return 0;
}

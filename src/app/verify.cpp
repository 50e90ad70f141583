#include "app/verify.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "providers/alipay/adapter.hpp"
#include "providers/wechat_mp/crypto.hpp"
#include "providers/wechat_mp/endpoint.hpp"
#include "providers/wechatpay_v2/adapter.hpp"
#include "providers/wechatpay_v3/adapter.hpp"

namespace paygate::app {
namespace {

using nlohmann::json;

bool read_all(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

json event_json(const core::PaymentEvent& e) {
  return {{"kind", core::to_string(e.kind)},
          {"notification_id", e.notification_id},
          {"out_trade_no", e.out_trade_no},
          {"total", e.total}};
}

int usage(const std::string& msg) {
  std::cerr << "paygate verify: " << msg << "\n";
  return 2;
}

}  // namespace

int verify_wechatpay_v3(const VerifyArgs& args) {
  std::string headers_text, body, apiv3_key;
  if (!read_all(args.headers_file, headers_text)) return usage("cannot read " + args.headers_file);
  if (!read_all(args.body_file, body)) return usage("cannot read " + args.body_file);
  if (!read_all(args.apiv3_key_file, apiv3_key)) return usage("cannot read " + args.apiv3_key_file);
  while (!apiv3_key.empty() && (apiv3_key.back() == '\n' || apiv3_key.back() == '\r')) {
    apiv3_key.pop_back();
  }
  if (apiv3_key.size() != 32) return usage("the APIv3 key must be 32 bytes");

  core::Headers headers;
  std::istringstream lines(headers_text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return usage(args.headers_file + ":" + std::to_string(n) + ": expected 'Name: value'");
    }
    std::string value = line.substr(colon + 1);
    const auto first = value.find_first_not_of(" \t");
    value = first == std::string::npos ? "" : value.substr(first);
    headers.add(line.substr(0, colon), value);
  }

  providers::wechatpay_v3::Settings s;
  s.apiv3_key = core::Secret(apiv3_key);
  for (const auto& k : args.keys) {
    auto eq = k.find('=');
    if (eq == std::string::npos || eq == 0) return usage("--key takes SERIAL=PEMFILE");
    std::string pem;
    if (!read_all(k.substr(eq + 1), pem)) return usage("cannot read " + k.substr(eq + 1));
    auto key = crypto::PublicKey::from_pem(pem);
    if (!key) return usage(k.substr(eq + 1) + ": " + key.error().detail);
    s.keys.push_back({k.substr(0, eq), *key});
  }
  if (s.keys.empty()) return usage("at least one --key is required");
  providers::wechatpay_v3::Adapter adapter(std::move(s));
  core::SystemClock clock;
  const int64_t now = args.now >= 0 ? args.now : clock.now_unix();
  providers::InboundRequest req{"POST", "", headers, body};
  const auto r = adapter.inspect(req, now);

  json out;
  out["provider"] = "wechatpay_v3";
  out["accepted"] = r.accepted();
  out["now"] = now;
  out["checks"] = {{"serial", r.serial ? json(*r.serial) : json(nullptr)},
                   {"serial_found", r.serial_known},
                   {"timestamp_in_window", r.timestamp_within_skew},
                   {"clock_skew_seconds", r.clock_skew_seconds},
                   {"signature_valid", r.signature_valid},
                   {"signature_probe", r.signature_probe},
                   {"decrypted", r.decrypt_ok},
                   {"parsed", r.parse_ok}};
  out["problems"] = r.problems;
  if (r.decrypt_ok) {
    json res = json::parse(r.plaintext, nullptr, false);
    out["resource"] = res.is_discarded() ? json(r.plaintext) : res;
  }
  if (r.event) {
    out["event"] = {{"kind", core::to_string(r.event->kind)},
                    {"notification_id", r.event->notification_id},
                    {"out_trade_no", r.event->out_trade_no},
                    {"total", r.event->total}};
  }
  std::cout << out.dump(2) << "\n";
  return r.accepted() ? 0 : 1;
}

int verify_alipay(const VerifyAlipayArgs& args) {
  std::string body, pem;
  if (!read_all(args.body_file, body)) return usage("cannot read " + args.body_file);
  if (!read_all(args.key_file, pem)) return usage("cannot read " + args.key_file);
  auto key = crypto::PublicKey::from_pem(pem);
  if (!key) return usage(args.key_file + ": " + key.error().detail);
  providers::alipay::Adapter adapter(providers::alipay::Settings{"", "", *key, ""});
  core::Headers headers;
  const auto r = adapter.inspect(providers::InboundRequest{"POST", "", headers, body});

  json out;
  out["provider"] = "alipay";
  out["accepted"] = r.accepted();
  out["checks"] = {{"form_parsed", r.form_ok},
                   {"sign_type", r.sign_type},
                   {"signature_valid", r.signature_valid},
                   {"parsed", r.mapped}};
  out["problems"] = r.problems;
  if (r.form_ok) {
    out["sign_content"] = r.sign_content;
    json params = json::object();
    for (const auto& [k, v] : r.params) params[k] = v;
    out["params"] = params;
  }
  if (r.event) {
    out["event"] = event_json(*r.event);
  }
  // Values may be in the notification's charset (GBK occurs): invalid UTF-8 is replaced.
  std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return r.accepted() ? 0 : 1;
}

int verify_wechatpay_v2(const VerifyV2Args& args) {
  std::string body, key;
  if (!read_all(args.body_file, body)) return usage("cannot read " + args.body_file);
  if (!read_all(args.api_key_file, key)) return usage("cannot read " + args.api_key_file);
  key = trimmed(key);
  if (key.size() != 32) return usage("the APIv2 key must be 32 bytes");
  providers::wechatpay_v2::Settings s;
  s.api_key = core::Secret(key);
  s.any_sign_type = true;  // explains whatever the notification declares
  providers::wechatpay_v2::Adapter adapter(std::move(s));
  core::Headers headers;
  const auto r = adapter.inspect(providers::InboundRequest{"POST", "", headers, body});
  json out;
  out["provider"] = "wechatpay_v2";
  out["accepted"] = r.accepted();
  out["kind"] = r.is_refund ? "refund" : "payment";
  out["checks"] = {{"xml_parsed", r.xml_ok},
                   {"signature_valid", r.signature_valid},
                   {"decrypted", r.decrypt_ok},
                   {"parsed", r.parsed}};
  if (!r.is_refund && r.xml_ok) {
    out["sign_type"] = r.sign_type.empty() ? "MD5" : r.sign_type;
    out["string_a"] = r.string_a;
  }
  out["problems"] = r.problems;
  if (r.event) out["event"] = event_json(*r.event);
  std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return r.accepted() ? 0 : 1;
}

int verify_wechat_mp(const VerifyMpArgs& args) {
  std::string body, token;
  if (!read_all(args.body_file, body)) return usage("cannot read " + args.body_file);
  if (!read_all(args.token_file, token)) return usage("cannot read " + args.token_file);
  auto query = providers::parse_form(args.query);
  if (!query) return usage("--query: " + query.error().detail);
  providers::wechat_mp::Settings s;
  s.appid = args.appid;
  // Explains whatever arrives: plaintext, or safe mode when a key is given.
  s.mode = args.encoding_aes_key_file.empty() ? providers::wechat_mp::Mode::kPlain
                                              : providers::wechat_mp::Mode::kCompatible;
  s.token = core::Secret(trimmed(token));
  if (!args.encoding_aes_key_file.empty()) {
    std::string encoding;
    if (!read_all(args.encoding_aes_key_file, encoding)) {
      return usage("cannot read " + args.encoding_aes_key_file);
    }
    auto key = providers::wechat_mp::aes_key(trimmed(encoding));
    if (!key) return usage(key.error().detail);
    s.aes_key = core::Secret(*key);
  }
  providers::wechat_mp::Endpoint endpoint(std::move(s));
  core::SystemClock clock;
  const int64_t now = args.now >= 0 ? args.now : clock.now_unix();
  const auto r = endpoint.inspect(*query, body, now);
  json out;
  out["provider"] = "wechat_mp";
  out["accepted"] = r.accepted();
  out["now"] = now;
  out["checks"] = {{"signature_valid", r.signature_valid},
                   {"timestamp_in_window", r.timestamp_in_window},
                   {"safe_mode", r.safe_mode},
                   {"msg_signature_valid", r.msg_signature_valid},
                   {"decrypted", r.decrypted},
                   {"parsed", r.parsed}};
  out["problems"] = r.problems;
  if (r.message) {
    out["message"] = {{"msg_type", r.message->msg_type},
                      {"event", r.message->event},
                      {"dedupe_key", r.message->dedupe_key},
                      {"xml", r.message->xml}};
  }
  std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return r.accepted() ? 0 : 1;
}

}  // namespace paygate::app

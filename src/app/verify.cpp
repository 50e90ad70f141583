#include "app/verify.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/files.hpp"

#include "core/clock.hpp"
#include "crypto/encoding.hpp"
#include "providers/alipay/adapter.hpp"
#include "providers/alipay/gateway.hpp"
#include "providers/wechat_mp/crypto.hpp"
#include "providers/wechat_mp/endpoint.hpp"
#include "providers/wechatpay_v2/adapter.hpp"
#include "providers/wechatpay_v3/adapter.hpp"
#include "providers/wechatpay_v3/signing.hpp"

namespace paygate::app {
namespace {

using nlohmann::json;

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

namespace {

// WeChat Pay's answer to one of our requests: the same Wechatpay-* signature as a callback,
// over the exact body (empty for 204), nothing encrypted.
int verify_wechatpay_v3_response(const core::Headers& headers, const std::string& body,
                                 const std::vector<providers::wechatpay_v3::VerificationKey>& keys,
                                 int64_t now) {
  namespace v3 = providers::wechatpay_v3;
  json out;
  out["provider"] = "wechatpay_v3";
  out["kind"] = "response";
  out["now"] = now;
  std::vector<std::string> problems;
  auto serial = headers.get("Wechatpay-Serial");
  auto ts = headers.get("Wechatpay-Timestamp");
  auto nonce = headers.get("Wechatpay-Nonce");
  auto sig = headers.get("Wechatpay-Signature");
  const crypto::PublicKey* key = serial ? v3::find_key(keys, *serial) : nullptr;
  auto t = ts ? v3::parse_timestamp(*ts) : std::nullopt;
  const int64_t skew = t ? now - *t : 0;
  bool valid = false;
  if (key && ts && nonce && sig) {
    auto raw = crypto::base64_decode(*sig);
    valid = raw && key->verify_sha256(v3::signed_message(*ts, *nonce, body), *raw);
  }
  auto whole = v3::verify_signed_headers(keys, headers, body, now);
  if (!serial || !ts || !nonce || !sig) problems.push_back("a Wechatpay-* header is missing");
  if (serial && !key) problems.push_back("Wechatpay-Serial names no key given with --key");
  if (t && (skew >= 300 || -skew >= 300)) problems.push_back("timestamp outside the 300 s window");
  if (key && !valid) problems.push_back("signature does not verify over timestamp\nnonce\nbody\n");
  if (!whole && problems.empty()) problems.push_back(whole.error().detail);
  out["accepted"] = whole.has_value();
  out["checks"] = {{"serial", serial ? json(std::string(*serial)) : json(nullptr)},
                   {"serial_found", key != nullptr},
                   {"timestamp_in_window", t && skew < 300 && -skew < 300},
                   {"clock_skew_seconds", skew},
                   {"signature_valid", valid}};
  out["signed_text"] = ts && nonce ? v3::signed_message(*ts, *nonce, body) : "";
  out["problems"] = problems;
  std::cout << out.dump(2) << "\n";
  return whole ? 0 : 1;
}

}  // namespace

int verify_wechatpay_v3(const VerifyArgs& args) {
  std::string headers_text, body, apiv3_key;
  if (!read_all(args.headers_file, headers_text)) return usage("cannot read " + args.headers_file);
  if (!read_all(args.body_file, body)) return usage("cannot read " + args.body_file);
  if (!args.response && !read_all(args.apiv3_key_file, apiv3_key)) {
    return usage("cannot read " + args.apiv3_key_file + " (--apiv3-key-file is required)");
  }
  while (!apiv3_key.empty() && (apiv3_key.back() == '\n' || apiv3_key.back() == '\r')) {
    apiv3_key.pop_back();
  }
  if (!args.response && apiv3_key.size() != 32) return usage("the APIv3 key must be 32 bytes");

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
  core::SystemClock clock;
  const int64_t now = args.now >= 0 ? args.now : clock.now_unix();
  if (args.response) return verify_wechatpay_v3_response(headers, body, s.keys, now);
  providers::wechatpay_v3::Adapter adapter(std::move(s));
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
  if (!args.response_method.empty()) {
    // The gateway's answer: the method's node verified as its raw text, never re-serialised.
    json out;
    out["provider"] = "alipay";
    out["kind"] = "response";
    std::vector<std::string> problems;
    auto split = providers::alipay::split_response(body, args.response_method);
    bool valid = false;
    if (!split) {
      problems.push_back(split.error().detail);
    } else {
      auto v = providers::alipay::verify_response(*key, *split);
      valid = v.has_value();
      if (!v) problems.push_back(v.error().detail);
      out["node"] = split->key;
      out["signed_text"] = split->signed_content;
      out["cert_sn"] = split->cert_sn;
      if (auto f = providers::alipay::response_fields(split->signed_content)) {
        for (const auto& [k, v2] : *f) {
          if (k == "code" || k == "msg" || k == "sub_code" || k == "sub_msg") out["result"][k] = v2;
        }
      }
    }
    out["accepted"] = valid;
    out["checks"] = {{"answer_parsed", split.has_value()}, {"signature_valid", valid}};
    out["problems"] = problems;
    std::cout << out.dump(2) << "\n";
    return valid ? 0 : 1;
  }
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

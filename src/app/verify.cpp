#include "app/verify.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "providers/alipay/adapter.hpp"
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
    // Values may be in the notification's charset (GBK occurs); show them only when UTF-8.
    for (const auto& [k, v] : r.params) {
      json value = v;
      try {
        (void)value.dump();
      } catch (const json::exception&) {
        value = "(not UTF-8)";
      }
      params[k] = value;
    }
    out["params"] = params;
  }
  if (r.event) {
    out["event"] = {{"kind", core::to_string(r.event->kind)},
                    {"notification_id", r.event->notification_id},
                    {"out_trade_no", r.event->out_trade_no},
                    {"total", r.event->total}};
  }
  try {
    std::cout << out.dump(2) << "\n";
  } catch (const json::exception&) {
    out.erase("sign_content");
    std::cout << out.dump(2) << "\n";
  }
  return r.accepted() ? 0 : 1;
}

}  // namespace paygate::app

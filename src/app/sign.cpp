#include "app/sign.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/files.hpp"

#include "core/clock.hpp"
#include "crypto/random.hpp"
#include "providers/alipay/gateway.hpp"
#include "providers/wechatpay_v2/adapter.hpp"
#include "providers/wechatpay_v3/signing.hpp"
#include "providers/xml.hpp"

namespace paygate::app {
namespace {

using nlohmann::ordered_json;

int usage(const std::string& msg) {
  std::cerr << "paygate sign: " << msg << "\n";
  return 2;
}

// "https://host/v3/x?y" -> "/v3/x?y": WeChat Pay signs the path and query only.
std::string path_and_query(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const auto slash = url.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// Name=value pairs from the command line or a file, in the order given.
core::Result<providers::FormParams> params_of(const SignFormArgs& a, bool xml) {
  providers::FormParams out;
  if (!a.form_file.empty()) {
    std::string text;
    if (!read_all(a.form_file, text)) {
      return core::fail(core::ErrorCode::kInvalidArgument, "cannot read " + a.form_file);
    }
    auto parsed = xml ? providers::parse_flat_xml(text, "xml") : providers::parse_form(text);
    if (!parsed) return tl::unexpected(parsed.error());
    out = std::move(*parsed);
  }
  for (const auto& p : a.params) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return core::fail(core::ErrorCode::kInvalidArgument, "--param takes name=value: " + p);
    }
    out.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  if (out.empty()) return core::fail(core::ErrorCode::kInvalidArgument, "no parameters given");
  return out;
}

}  // namespace

int sign_wechatpay_v3(const SignV3Args& a) {
  std::string pem, body;
  if (!read_all(a.key_file, pem)) return usage("cannot read " + a.key_file);
  auto key = crypto::PrivateKey::from_pem(pem);
  if (!key) return usage(a.key_file + ": not an RSA private key");
  if (!a.body_file.empty() && !read_all(a.body_file, body)) return usage("cannot read " + a.body_file);
  const std::string ts = std::to_string(a.timestamp >= 0 ? a.timestamp : core::SystemClock().now_unix());
  const std::string nonce = a.nonce.empty() ? crypto::random_alnum(32) : a.nonce;
  const std::string path = path_and_query(a.url);
  providers::wechatpay_v3::MerchantSigner signer{a.mchid, a.serial_no, *key};
  auto header = providers::wechatpay_v3::authorization(signer, a.method, path, ts, nonce, body);
  if (!header) return usage("signing failed: " + header.error().detail);
  ordered_json out;
  out["provider"] = "wechatpay_v3";
  out["signed_text"] = providers::wechatpay_v3::request_message(a.method, path, ts, nonce, body);
  out["authorization"] = *header;
  out["notes"] = {
      "each of the five lines ends with \\n, the last (the body) too, even when it is empty",
      "the path and query are signed exactly as sent (percent-encoding included), no host",
      "the body is signed byte for byte: send exactly these bytes",
      "serial_no is the merchant API certificate's serial, not the platform certificate's"};
  if (!a.pay_sign.empty()) {
    if (a.appid.empty() || a.prepay_id.empty()) return usage("--pay-sign needs --appid and --prepay-id");
    if (a.pay_sign == "jsapi") {
      auto p = providers::wechatpay_v3::jsapi_pay_params(*key, a.appid, a.prepay_id, ts, nonce);
      if (!p) return usage(p.error().detail);
      out["pay_sign_text"] = a.appid + "\n" + ts + "\n" + nonce + "\n" + p->package + "\n";
      out["pay_params"] = {{"appId", p->app_id},       {"timeStamp", p->time_stamp},
                           {"nonceStr", p->nonce_str}, {"package", p->package},
                           {"signType", p->sign_type}, {"paySign", p->pay_sign}};
    } else if (a.pay_sign == "app") {
      auto p = providers::wechatpay_v3::app_pay_params(*key, a.appid, a.mchid, a.prepay_id, ts, nonce);
      if (!p) return usage(p.error().detail);
      out["pay_sign_text"] = a.appid + "\n" + ts + "\n" + nonce + "\n" + a.prepay_id + "\n";
      out["pay_params"] = {{"appid", p->appid},       {"partnerid", p->partnerid},
                           {"prepayid", p->prepayid}, {"package", p->package},
                           {"noncestr", p->noncestr}, {"timestamp", p->timestamp},
                           {"sign", p->sign}};
    } else {
      return usage("--pay-sign is jsapi or app");
    }
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int sign_alipay(const SignFormArgs& a) {
  auto params = params_of(a, false);
  if (!params) return usage(params.error().detail);
  std::string pem;
  if (!read_all(a.key_file, pem)) return usage("cannot read " + a.key_file);
  auto key = crypto::PrivateKey::from_pem(pem);
  if (!key) return usage(a.key_file + ": not an RSA private key");
  auto signed_params = providers::alipay::sign_request(*key, *params);
  if (!signed_params) return usage(signed_params.error().detail);
  ordered_json out;
  out["provider"] = "alipay";
  out["signed_text"] = providers::alipay::request_sign_content(*params);
  out["sign"] = providers::form_get(*signed_params, "sign");
  out["form"] = providers::encode_form(*signed_params);
  out["notes"] = {"every parameter but sign, sign_type included, sorted by name, empty values "
                  "dropped, raw (not URL-encoded) values; biz_content exactly as sent",
                  "RSA2 = SHA256withRSA with the app private key"};
  std::cout << out.dump(2) << "\n";
  return 0;
}

int sign_wechatpay_v2(const SignFormArgs& a) {
  auto params = params_of(a, true);
  if (!params) return usage(params.error().detail);
  std::string key;
  if (!read_all(a.key_file, key)) return usage("cannot read " + a.key_file);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() != 32) return usage("the APIv2 key must be 32 bytes");
  providers::wechatpay_v2::SignType type;
  if (a.sign_type == "MD5") {
    type = providers::wechatpay_v2::SignType::kMd5;
  } else if (a.sign_type == "HMAC-SHA256") {
    type = providers::wechatpay_v2::SignType::kHmacSha256;
  } else {
    return usage("--sign-type is MD5 or HMAC-SHA256");
  }
  ordered_json out;
  out["provider"] = "wechatpay_v2";
  // The key is part of the signed text; it is never printed.
  out["signed_text"] = providers::wechatpay_v2::string_a(*params) + "&key=<API key>";
  out["sign_type"] = a.sign_type;
  out["sign"] = providers::wechatpay_v2::sign(*params, key, type);
  out["notes"] = {"every parameter but sign, sorted by name, empty values dropped, raw values",
                  "sign_type is itself a signed parameter when sent; absent means MD5",
                  "HMAC-SHA256 uses the API key as the HMAC key and appends &key= too"};
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace paygate::app

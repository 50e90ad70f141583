#pragma once
#include <string>
#include <vector>

// `paygate sign ...`: shows exactly what a request's signature covers and what it is, so a
// provider's SIGN_ERROR can be explained by comparing with what was sent. Nothing is sent.
namespace paygate::app {

struct SignV3Args {
  std::string method = "POST";
  std::string url;        // path and query exactly as sent (a full URL is cut to them)
  std::string body_file;  // the exact body; none for GET
  std::string mchid;
  std::string serial_no;
  std::string key_file;   // the merchant API private key (PEM)
  long long timestamp = -1;  // -1: now
  std::string nonce;         // empty: random
  // Front-end launch parameters for a prepay_id: "jsapi" or "app".
  std::string pay_sign;
  std::string appid;
  std::string prepay_id;
};
int sign_wechatpay_v3(const SignV3Args& args);

struct SignFormArgs {
  std::vector<std::string> params;  // name=value, raw (not URL-encoded)
  std::string form_file;            // or an urlencoded form (Alipay) / XML (APIv2) file
  std::string key_file;             // Alipay: the app private key (PEM); APIv2: the API key
  std::string sign_type = "MD5";    // APIv2: MD5 or HMAC-SHA256
};
int sign_alipay(const SignFormArgs& args);
int sign_wechatpay_v2(const SignFormArgs& args);

}  // namespace paygate::app

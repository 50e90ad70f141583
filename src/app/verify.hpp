#pragma once
#include <string>
#include <vector>

namespace paygate::app {

struct VerifyArgs {
  std::string headers_file;
  std::string body_file;
  std::vector<std::string> keys;  // SERIAL=PEMFILE
  std::string apiv3_key_file;
  long long now = -1;             // -1: the clock
  bool response = false;          // an answer to our request: signature only, nothing to decrypt
};

// `paygate verify wechatpay-v3`: prints one JSON report; returns 0 accepted, 1 rejected,
// 2 usage error (message on stderr).
int verify_wechatpay_v3(const VerifyArgs& args);

struct VerifyAlipayArgs {
  std::string body_file;  // the exact form body as received (an answer's JSON with --response)
  std::string key_file;   // Alipay public key PEM, or the Alipay public-key certificate
  std::string response_method;  // set: the body is the gateway's answer to this method
};

// `paygate verify alipay`: same report shape and exit codes.
int verify_alipay(const VerifyAlipayArgs& args);

struct VerifyV2Args {
  std::string body_file;
  std::string api_key_file;
};
int verify_wechatpay_v2(const VerifyV2Args& args);

struct VerifyMpArgs {
  std::string query;  // the request's query string (signature=...&timestamp=...&nonce=...)
  std::string body_file;
  std::string token_file;
  std::string encoding_aes_key_file;  // safe mode
  std::string appid;
  long long now = -1;
};
int verify_wechat_mp(const VerifyMpArgs& args);

}  // namespace paygate::app

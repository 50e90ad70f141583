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
};

// `paygate verify wechatpay-v3`: prints one JSON report; returns 0 accepted, 1 rejected,
// 2 usage error (message on stderr).
int verify_wechatpay_v3(const VerifyArgs& args);

struct VerifyAlipayArgs {
  std::string body_file;  // the exact form body as received
  std::string key_file;   // Alipay public key PEM, or the Alipay public-key certificate
};

// `paygate verify alipay`: same report shape and exit codes.
int verify_alipay(const VerifyAlipayArgs& args);

}  // namespace paygate::app

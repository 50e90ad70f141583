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

}  // namespace paygate::app

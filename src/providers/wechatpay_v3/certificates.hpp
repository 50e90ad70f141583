#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace paygate::providers::wechatpay_v3 {

struct PlatformCertificate {
  std::string serial_no;
  std::string effective_time;
  std::string expire_time;
  std::string certificate_pem;
};

// Decodes a GET /v3/certificates body (whose signature the caller has verified): decrypts each
// certificate with the APIv3 key and checks that its serial equals serial_no.
[[nodiscard]] core::Result<std::vector<PlatformCertificate>> decode_certificate_download(
    std::string_view body, std::string_view apiv3_key);

}  // namespace paygate::providers::wechatpay_v3

#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace paygate::crypto {

// What paygate reads from an X.509 certificate.
struct CertificateInfo {
  std::string pem;                      // this certificate alone
  std::string issuer_rfc2253;           // "CN=...,OU=...,O=...,C=CN" (reverse DER order)
  std::string serial_decimal;
  std::string signature_algorithm_oid;  // e.g. 1.2.840.113549.1.1.11
};

// Every certificate in a PEM bundle, in file order; an empty or unreadable bundle is an error.
[[nodiscard]] core::Result<std::vector<CertificateInfo>> read_certificates(std::string_view pem);

// True when the first certificate of `chain_pem` verifies up to one of `roots_pem`, using the
// other certificates of `chain_pem` as intermediates, at `now_unix`.
[[nodiscard]] core::Result<void> verify_chain(std::string_view chain_pem,
                                              std::string_view roots_pem, int64_t now_unix);

}  // namespace paygate::crypto

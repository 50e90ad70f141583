#pragma once
#include <string>
#include <string_view>

namespace paygate::crypto {

// Raw digest bytes.
std::string sha256(std::string_view data);
std::string sha1(std::string_view data);
std::string md5(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace paygate::crypto

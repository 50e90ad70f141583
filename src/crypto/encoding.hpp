#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace paygate::crypto {

// Standard alphabet, padded.
std::string base64_encode(std::string_view bytes);
// Strict: standard alphabet, correct padding, no whitespace; nullopt on anything else.
std::optional<std::string> base64_decode(std::string_view text);

std::string hex_lower(std::string_view bytes);
std::string hex_upper(std::string_view bytes);

// Compares in time independent of where the inputs differ (length is not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace paygate::crypto

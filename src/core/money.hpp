#pragma once
#include <cstdint>
#include <string_view>

#include "core/error.hpp"

namespace paygate::core {

// "9159.98" yuan -> 915998 fen, exactly: digits, optionally '.' and one or two decimals. No
// sign, exponent, spaces or more decimals (Alipay sends two); at most 12 integer digits.
[[nodiscard]] Result<int64_t> yuan_to_fen(std::string_view yuan);

}  // namespace paygate::core

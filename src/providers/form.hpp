#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace paygate::providers {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded (also a URL query): `+` is a space, `%XX` one byte, each
// value decoded exactly once. A malformed escape, a pair without `=` or a repeated name is an
// error (a repeated name would let two parties read different values).
[[nodiscard]] core::Result<FormParams> parse_form(std::string_view text);

// The value of `name`, or nullptr.
const std::string* form_value(const FormParams& params, std::string_view name);

}  // namespace paygate::providers

#pragma once
#include <initializer_list>
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

// The inverse of parse_form: "+" for spaces, %XX for everything but unreserved characters.
std::string encode_form(const FormParams& params);

// The value of `name`, or nullptr / an empty string.
const std::string* form_value(const FormParams& params, std::string_view name);
std::string form_get(const FormParams& params, std::string_view name);

// The signed-content convention of WeChat Pay APIv2 and Alipay: every parameter except
// `excluded`, empty values dropped, sorted by name (bytes), "k=v" joined by "&", raw values.
std::string sorted_pairs(const FormParams& params,
                         std::initializer_list<std::string_view> excluded);

}  // namespace paygate::providers

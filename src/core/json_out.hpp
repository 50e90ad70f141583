#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace paygate::core {

// Length of the well-formed UTF-8 sequence at the start of `s` (1-4), or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF are not).
std::size_t utf8_sequence(std::string_view s);
bool is_valid_utf8(std::string_view s);

// Appends `s` as a JSON string literal: control characters, quotes and backslashes escaped, and
// any byte that is not part of well-formed UTF-8 written as U+FFFD, so the output is always
// valid JSON whatever a caller or provider sent.
void append_json_string(std::string& out, std::string_view s);

// Compact JSON written straight into a string, for hot paths (inbox records, outbox payloads,
// log lines) where building a DOM costs more than the work around it.
class JsonOut {
 public:
  JsonOut& begin_object();
  JsonOut& begin_object(std::string_view key);
  JsonOut& begin_array(std::string_view key);
  JsonOut& end_object();
  JsonOut& end_array();
  JsonOut& str(std::string_view key, std::string_view value);
  JsonOut& num(std::string_view key, int64_t value);
  JsonOut& null(std::string_view key);
  JsonOut& boolean(std::string_view key, bool value);
  // `json` must already be valid JSON written by paygate (a stored payload).
  JsonOut& raw(std::string_view key, std::string_view json);
  // A string element of the array being written.
  JsonOut& value(std::string_view s);
  // An empty string is written as null.
  JsonOut& str_or_null(std::string_view key, std::string_view value) {
    return value.empty() ? null(key) : str(key, value);
  }
  std::string take() { return std::move(out_); }

 private:
  void key(std::string_view k);
  std::string out_;
  bool comma_ = false;
};

}  // namespace paygate::core

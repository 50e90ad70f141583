#include "core/json_out.hpp"

#include <cstdio>

namespace paygate::core {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t run = 0;  // start of the pending run of characters that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void JsonOut::key(std::string_view k) {
  if (comma_) out_ += ',';
  append_json_string(out_, k);
  out_ += ':';
  comma_ = true;
}

JsonOut& JsonOut::begin_object() {
  if (comma_) out_ += ',';
  out_ += '{';
  comma_ = false;
  return *this;
}

JsonOut& JsonOut::begin_object(std::string_view k) {
  key(k);
  out_ += '{';
  comma_ = false;
  return *this;
}

JsonOut& JsonOut::begin_array(std::string_view k) {
  key(k);
  out_ += '[';
  comma_ = false;
  return *this;
}

JsonOut& JsonOut::end_object() {
  out_ += '}';
  comma_ = true;
  return *this;
}

JsonOut& JsonOut::end_array() {
  out_ += ']';
  comma_ = true;
  return *this;
}

JsonOut& JsonOut::str(std::string_view k, std::string_view value) {
  key(k);
  append_json_string(out_, value);
  return *this;
}

JsonOut& JsonOut::boolean(std::string_view k, bool value) {
  key(k);
  out_ += value ? "true" : "false";
  return *this;
}

JsonOut& JsonOut::raw(std::string_view k, std::string_view json) {
  key(k);
  out_ += json;
  return *this;
}

JsonOut& JsonOut::value(std::string_view s) {
  if (comma_) out_ += ',';
  append_json_string(out_, s);
  comma_ = true;
  return *this;
}

JsonOut& JsonOut::num(std::string_view k, int64_t value) {
  key(k);
  out_ += std::to_string(value);
  return *this;
}

JsonOut& JsonOut::null(std::string_view k) {
  key(k);
  out_ += "null";
  return *this;
}

}  // namespace paygate::core

#include "providers/form.hpp"

#include <algorithm>
#include <cctype>

namespace paygate::providers {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;  // truncated escape
      const int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

}  // namespace

core::Result<FormParams> parse_form(std::string_view text) {
  FormParams out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find('&', pos);
    if (end == std::string_view::npos) end = text.size();
    const auto pair = text.substr(pos, end - pos);
    pos = end + 1;
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return core::fail(core::ErrorCode::kMalformed, "form pair without '='");
    }
    std::string name, value;
    if (!decode(pair.substr(0, eq), name) || !decode(pair.substr(eq + 1), value)) {
      return core::fail(core::ErrorCode::kMalformed, "bad percent escape in form");
    }
    if (name.empty()) return core::fail(core::ErrorCode::kMalformed, "form pair without a name");
    if (form_value(out, name) != nullptr) {
      return core::fail(core::ErrorCode::kMalformed, "repeated form parameter");
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

const std::string* form_value(const FormParams& params, std::string_view name) {
  auto it = std::find_if(params.begin(), params.end(),
                         [&](const auto& p) { return p.first == name; });
  return it == params.end() ? nullptr : &it->second;
}

std::string encode_form(const FormParams& params) {
  std::string out;
  auto put = [&out](const std::string& v) {
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*') {
        out += static_cast<char>(c);
      } else if (c == ' ') {
        out += '+';
      } else {
        static const char* hex = "0123456789ABCDEF";
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
  };
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    put(k);
    out += '=';
    put(v);
  }
  return out;
}

std::string form_get(const FormParams& params, std::string_view name) {
  const std::string* v = form_value(params, name);
  return v ? *v : std::string();
}

std::string sorted_pairs(const FormParams& params,
                         std::initializer_list<std::string_view> excluded) {
  std::vector<const std::pair<std::string, std::string>*> kept;
  for (const auto& p : params) {
    if (p.second.empty() ||
        std::find(excluded.begin(), excluded.end(), p.first) != excluded.end()) {
      continue;
    }
    kept.push_back(&p);
  }
  std::sort(kept.begin(), kept.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::string out;
  for (const auto* p : kept) {
    if (!out.empty()) out += '&';
    out += p->first;
    out += '=';
    out += p->second;
  }
  return out;
}

}  // namespace paygate::providers

#include "providers/alipay/gateway.hpp"

#include <set>

#include "core/json_out.hpp"
#include "crypto/encoding.hpp"

namespace paygate::providers::alipay {
namespace {

using core::ErrorCode;
using core::fail;

constexpr int kMaxDepth = 64;

// A strict, allocation-light reader of just enough JSON to find members and their raw text.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool at_end() {
    ws();
    return i_ == s_.size();
  }
  std::size_t pos() const { return i_; }
  char peek() {
    ws();
    return i_ < s_.size() ? s_[i_] : '\0';
  }

  // A JSON string at the cursor, decoded to UTF-8.
  bool string(std::string& out) {
    ws();
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    out.clear();
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (i_ + 1 >= s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') return false;
            i_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          utf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  // Skips one value; true if it was well formed. Containers are matched iteratively.
  bool skip_value() {
    ws();
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (c == '{' || c == '[') return skip_container();
    const std::size_t start = i_;
    while (i_ < s_.size() && ((s_[i_] >= 'a' && s_[i_] <= 'z') || (s_[i_] >= '0' && s_[i_] <= '9') ||
                              s_[i_] == '-' || s_[i_] == '+' || s_[i_] == '.' || s_[i_] == 'E')) {
      ++i_;
    }
    const auto tok = s_.substr(start, i_ - start);
    if (tok == "true" || tok == "false" || tok == "null") return true;
    return is_number(tok);
  }

 private:
  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  static bool is_number(std::string_view t) {
    std::size_t k = 0;
    const auto digits = [&] {
      const std::size_t from = k;
      while (k < t.size() && t[k] >= '0' && t[k] <= '9') ++k;
      return k > from;
    };
    if (k < t.size() && t[k] == '-') ++k;
    if (k < t.size() && t[k] == '0') {
      ++k;
    } else if (!digits()) {
      return false;
    }
    if (k < t.size() && t[k] == '.') {
      ++k;
      if (!digits()) return false;
    }
    if (k < t.size() && (t[k] == 'e' || t[k] == 'E')) {
      ++k;
      if (k < t.size() && (t[k] == '+' || t[k] == '-')) ++k;
      if (!digits()) return false;
    }
    return k == t.size();
  }

  bool hex4(uint32_t& v) {
    if (i_ + 4 > s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else return false;
    }
    return true;
  }
  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  // An object or array, matched without recursion: members and elements checked for shape,
  // strings honoured (a brace inside a string is text).
  bool skip_container() {
    std::string stack;  // the closers still expected
    std::string name;
    for (;;) {
      const char open = s_[i_++];  // the cursor is on '{' or '['
      stack.push_back(open == '{' ? '}' : ']');
      if (stack.size() > kMaxDepth) return false;
      if (eat(stack.back())) {
        stack.pop_back();
      } else {
        if (stack.back() == '}' && !(string(name) && eat(':'))) return false;
        if (peek() == '{' || peek() == '[') continue;  // descend
        if (!skip_value()) return false;
      }
      // After a complete value: close what is complete, or a comma and the next value.
      bool descend = false;
      while (!descend) {
        if (stack.empty()) return true;
        if (eat(stack.back())) {
          stack.pop_back();
          continue;
        }
        if (!eat(',')) return false;
        if (stack.back() == '}' && !(string(name) && eat(':'))) return false;
        if (peek() == '{' || peek() == '[') {
          descend = true;
        } else if (!skip_value()) {
          return false;
        }
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

std::string request_sign_content(const FormParams& params) { return sorted_pairs(params, {"sign"}); }

core::Result<FormParams> sign_request(const crypto::PrivateKey& app_key, FormParams params) {
  std::set<std::string_view> names;
  for (const auto& [k, v] : params) {
    if (!names.insert(k).second) {
      return fail(ErrorCode::kInvalidArgument, "parameter " + k + " given twice");
    }
  }
  if (names.count("sign")) return fail(ErrorCode::kInvalidArgument, "already signed");
  if (form_get(params, "sign_type") != "RSA2") {
    return fail(ErrorCode::kInvalidArgument, "sign_type must be RSA2");
  }
  auto sig = app_key.sign_sha256(request_sign_content(params));
  if (!sig) return tl::unexpected(sig.error());
  params.emplace_back("sign", crypto::base64_encode(*sig));
  return params;
}

std::string response_key(std::string_view method) {
  std::string k(method);
  for (char& c : k) {
    if (c == '.') c = '_';
  }
  return k + "_response";
}

core::Result<GatewayResponse> split_response(std::string_view raw, std::string_view method) {
  if (!core::is_valid_utf8(raw)) return fail(ErrorCode::kMalformed, "answer is not UTF-8");
  Scanner sc(raw);
  if (!sc.eat('{')) return fail(ErrorCode::kMalformed, "answer is not a JSON object");
  const std::string want = response_key(method);
  GatewayResponse r;
  std::set<std::string> seen;
  bool node = false, error_node = false;
  std::string error_content;
  if (!sc.eat('}')) {
    do {
      std::string name;
      if (!sc.string(name) || !sc.eat(':')) {
        return fail(ErrorCode::kMalformed, "answer member is not \"name\": value");
      }
      if (!seen.insert(name).second) {
        return fail(ErrorCode::kMalformed, "answer repeats " + name);
      }
      if (name == want || name == "error_response") {
        if (sc.peek() != '{') return fail(ErrorCode::kMalformed, name + " is not an object");
        const std::size_t start = sc.pos();
        if (!sc.skip_value()) return fail(ErrorCode::kMalformed, name + " is not valid JSON");
        std::string text(raw.substr(start, sc.pos() - start));
        if (name == want) {
          node = true;
          r.signed_content = std::move(text);
        } else {
          error_node = true;
          error_content = std::move(text);
        }
      } else if (name == "sign" || name == "alipay_cert_sn") {
        std::string value;
        if (!sc.string(value)) return fail(ErrorCode::kMalformed, name + " is not a string");
        (name == "sign" ? r.sign : r.cert_sn) = std::move(value);
      } else if (!sc.skip_value()) {
        return fail(ErrorCode::kMalformed, "answer is not valid JSON");
      }
    } while (sc.eat(','));
    if (!sc.eat('}')) return fail(ErrorCode::kMalformed, "answer object is not closed");
  }
  if (!sc.at_end()) return fail(ErrorCode::kMalformed, "bytes after the answer object");
  if (node && error_node) return fail(ErrorCode::kMalformed, "answer has both nodes");
  if (node) {
    r.key = want;
  } else if (error_node) {
    r.key = "error_response";
    r.signed_content = std::move(error_content);
  } else {
    return fail(ErrorCode::kMalformed, "answer has no " + want);
  }
  return r;
}

core::Result<void> verify_response(const crypto::PublicKey& alipay_key,
                                   const GatewayResponse& response) {
  if (response.sign.empty()) return fail(ErrorCode::kBadSignature, "answer is not signed");
  auto sig = crypto::base64_decode(response.sign);
  if (!sig) return fail(ErrorCode::kBadSignature, "sign is not base64");
  if (!alipay_key.verify_sha256(response.signed_content, *sig)) {
    return fail(ErrorCode::kBadSignature, "signature does not verify");
  }
  return {};
}

core::Result<std::vector<std::pair<std::string, std::string>>> response_fields(
    std::string_view content) {
  Scanner sc(content);
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> seen;
  if (!sc.eat('{')) return fail(ErrorCode::kMalformed, "node is not an object");
  if (!sc.eat('}')) {
    do {
      std::string name, value;
      if (!sc.string(name) || !sc.eat(':')) return fail(ErrorCode::kMalformed, "bad member");
      if (!seen.insert(name).second) return fail(ErrorCode::kMalformed, "node repeats " + name);
      if (sc.peek() == '"') {
        if (!sc.string(value)) return fail(ErrorCode::kMalformed, "bad string");
      } else {
        const std::size_t start = sc.pos();
        if (!sc.skip_value()) return fail(ErrorCode::kMalformed, "bad value");
        value = std::string(content.substr(start, sc.pos() - start));
      }
      out.emplace_back(std::move(name), std::move(value));
    } while (sc.eat(','));
    if (!sc.eat('}')) return fail(ErrorCode::kMalformed, "node is not closed");
  }
  if (!sc.at_end()) return fail(ErrorCode::kMalformed, "bytes after the node");
  return out;
}

}  // namespace paygate::providers::alipay

#include "crypto/encoding.hpp"

#include <openssl/crypto.h>

#include <array>
#include <cstdint>

namespace paygate::crypto {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_reverse() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = int8_t(i);
  return table;
}
constexpr auto kReverse = make_reverse();

std::string hex(std::string_view bytes, const char* digits) {
  std::string out;
  out.resize(bytes.size() * 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = digits[b >> 4];
    out[2 * i + 1] = digits[b & 0xf];
  }
  return out;
}

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) |
                 uint32_t(uint8_t(in[i + 2]));
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = (in.size() >= 2 && in[in.size() - 2] == '=') ? 2 : 1;
  std::string out(in.size() / 4 * 3, '\0');
  char* o = out.data();
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t full = in.empty() ? 0 : in.size() - 4;  // the last quantum is checked apart
  for (std::size_t i = 0; i < full; i += 4) {
    const int a = kReverse[p[i]], b = kReverse[p[i + 1]], c = kReverse[p[i + 2]],
              d = kReverse[p[i + 3]];
    if ((a | b | c | d) < 0) return std::nullopt;  // '=' maps to -1 too: padding only at the end
    const uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    *o++ = char(v >> 16);
    *o++ = char(v >> 8);
    *o++ = char(v);
  }
  if (in.empty()) return out;
  int c[4];
  for (int k = 0; k < 4; ++k) {
    const unsigned char ch = p[full + k];
    if (ch == '=') {
      if (k < 4 - int(pad)) return std::nullopt;  // at most two, and only trailing
      c[k] = 0;
    } else {
      c[k] = kReverse[ch];
      if (c[k] < 0) return std::nullopt;
    }
  }
  // Non-canonical encodings (stray bits in the last symbol) are rejected.
  if (pad == 1 && (c[2] & 0x3) != 0) return std::nullopt;
  if (pad == 2 && (c[1] & 0xf) != 0) return std::nullopt;
  const uint32_t v = (uint32_t(c[0]) << 18) | (uint32_t(c[1]) << 12) | (uint32_t(c[2]) << 6) |
                     uint32_t(c[3]);
  *o++ = char(v >> 16);
  if (pad < 2) *o++ = char(v >> 8);
  if (pad < 1) *o++ = char(v);
  out.resize(static_cast<std::size_t>(o - out.data()));
  return out;
}

std::string hex_lower(std::string_view bytes) { return hex(bytes, "0123456789abcdef"); }
std::string hex_upper(std::string_view bytes) { return hex(bytes, "0123456789ABCDEF"); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace paygate::crypto

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
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int8_t c[4];
    for (int k = 0; k < 4; ++k) {
      const char ch = in[i + k];
      if (ch == '=') {
        // Padding only at the very end, at most two.
        if (!last || k < 4 - int(pad)) return std::nullopt;
        c[k] = 0;
      } else {
        c[k] = kReverse[static_cast<unsigned char>(ch)];
        if (c[k] < 0) return std::nullopt;
      }
    }
    uint32_t v = (uint32_t(c[0]) << 18) | (uint32_t(c[1]) << 12) | (uint32_t(c[2]) << 6) |
                 uint32_t(c[3]);
    out += char((v >> 16) & 0xff);
    if (!(last && pad == 2)) out += char((v >> 8) & 0xff);
    if (!(last && pad >= 1)) out += char(v & 0xff);
    // Non-canonical encodings (stray bits in the last symbol) are rejected.
    if (last && pad == 1 && (c[2] & 0x3) != 0) return std::nullopt;
    if (last && pad == 2 && (c[1] & 0xf) != 0) return std::nullopt;
  }
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

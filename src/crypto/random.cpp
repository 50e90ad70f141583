#include "crypto/random.hpp"

#include <openssl/rand.h>

#include <stdexcept>

#include "crypto/encoding.hpp"

namespace paygate::crypto {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string random_alnum(std::size_t n) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    for (unsigned char b : random_bytes(n)) {
      if (b < 248 && out.size() < n) out += kChars[b % 62];  // 248 = 4*62: no modulo bias
    }
  }
  return out;
}

std::string random_uuid() {
  std::string b = random_bytes(16);
  b[6] = char((b[6] & 0x0f) | 0x40);
  b[8] = char((b[8] & 0x3f) | 0x80);
  std::string h = hex_lower(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

}  // namespace paygate::crypto

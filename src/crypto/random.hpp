#pragma once
#include <string>

namespace paygate::crypto {

std::string random_bytes(std::size_t n);
// Letters and digits from a CSPRNG, e.g. for nonces and generated keys.
std::string random_alnum(std::size_t n);
// A random version-4 UUID string.
std::string random_uuid();

}  // namespace paygate::crypto

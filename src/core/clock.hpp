#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace paygate::core {

// Injected wherever time matters so adapters and tests never read the wall clock themselves.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_unix() const = 0;
  virtual int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_unix() const override;
  int64_t now_ms() const override;
};

// RFC 3339 in UTC with millisecond precision, e.g. 2024-06-28T06:12:03.123Z.
std::string format_rfc3339_ms(int64_t unix_ms);

}  // namespace paygate::core

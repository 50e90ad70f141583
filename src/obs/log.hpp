#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace paygate::obs {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

// Process-wide: lines go to stderr at or above the level. Thread-safe.
void set_log_level(Level level);
Level parse_level(std::string_view s);

// One structured JSON line, written when the object goes out of scope. Callers pass only
// non-secret fields; there is deliberately no way to log a Secret.
class Log {
 public:
  Log(Level level, std::string_view msg);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  Log& str(std::string_view key, std::string_view value);
  Log& num(std::string_view key, int64_t value);
  Log& real(std::string_view key, double value);

 private:
  bool enabled_;
  std::string line_;
};

}  // namespace paygate::obs

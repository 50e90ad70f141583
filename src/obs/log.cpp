#include "obs/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/clock.hpp"
#include "core/json_out.hpp"

namespace paygate::obs {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::mutex g_mu;

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "info";
}

}  // namespace

void set_log_level(Level level) { g_level.store(level); }

Level parse_level(std::string_view s) {
  if (s == "debug") return Level::kDebug;
  if (s == "warn") return Level::kWarn;
  if (s == "error") return Level::kError;
  if (s == "off") return Level::kOff;
  return Level::kInfo;
}

Log::Log(Level level, std::string_view msg) : enabled_(level >= g_level.load()) {
  if (!enabled_) return;
  core::SystemClock clock;
  line_.reserve(256);
  line_ += "{\"ts\":";
  core::append_json_string(line_, core::format_rfc3339_ms(clock.now_ms()));
  line_ += ",\"level\":";
  core::append_json_string(line_, level_name(level));
  line_ += ",\"msg\":";
  core::append_json_string(line_, msg);
}

Log& Log::str(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  line_ += ',';
  core::append_json_string(line_, key);
  line_ += ':';
  core::append_json_string(line_, value);
  return *this;
}

Log& Log::num(std::string_view key, int64_t value) {
  if (!enabled_) return *this;
  line_ += ',';
  core::append_json_string(line_, key);
  line_ += ':';
  line_ += std::to_string(value);
  return *this;
}

Log& Log::real(std::string_view key, double value) {
  if (!enabled_) return *this;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", value);
  line_ += ',';
  core::append_json_string(line_, key);
  line_ += ':';
  line_ += buf;
  return *this;
}

Log::~Log() {
  if (!enabled_) return;
  line_ += "}\n";
  std::lock_guard lock(g_mu);
  std::fwrite(line_.data(), 1, line_.size(), stderr);
}

}  // namespace paygate::obs

#pragma once
#include <chrono>
#include <cstdint>

namespace paygate::net {

// Per webhook endpoint or provider host: after `threshold` consecutive failures no new attempts
// for a cool-down that doubles up to `max_cooldown`; then one probe decides.
class CircuitBreaker {
 public:
  struct Options {
    int threshold = 5;
    std::chrono::milliseconds cooldown = std::chrono::seconds(30);
    std::chrono::milliseconds max_cooldown = std::chrono::minutes(10);
  };
  CircuitBreaker() = default;
  explicit CircuitBreaker(Options o) : o_(o) {}

  // How many attempts may start now, given `in_flight` and the endpoint's `cap`.
  int allowance(int64_t now_ms, int in_flight, int cap) const;
  // The result of an attempt that started at `started_ms`. Once tripped, only an attempt
  // started after the cool-down (the probe) counts: results of attempts already in flight at
  // the trip neither re-arm nor lengthen the cool-down, nor close the breaker. One trip per
  // cool-down; the probe decides.
  void on_success(int64_t started_ms);
  void on_failure(int64_t now_ms, int64_t started_ms);
  bool open(int64_t now_ms) const { return failures_ >= o_.threshold && now_ms < open_until_ms_; }
  int consecutive_failures() const { return failures_; }

 private:
  Options o_;
  int failures_ = 0;
  int trips_ = 0;
  int64_t open_until_ms_ = 0;
};

}  // namespace paygate::net

#include "net/breaker.hpp"

#include <algorithm>

namespace paygate::net {

int CircuitBreaker::allowance(int64_t now_ms, int in_flight, int cap) const {
  if (failures_ >= o_.threshold) {
    if (now_ms < open_until_ms_) return 0;
    return in_flight == 0 ? 1 : 0;  // half-open: one probe at a time
  }
  return std::max(0, cap - in_flight);
}

void CircuitBreaker::on_success(int64_t started_ms) {
  if (failures_ >= o_.threshold && started_ms < open_until_ms_) return;  // not the probe
  failures_ = 0;
  trips_ = 0;
  open_until_ms_ = 0;
}

void CircuitBreaker::on_failure(int64_t now_ms, int64_t started_ms) {
  if (failures_ >= o_.threshold) {
    if (started_ms < open_until_ms_) return;  // in flight at the trip, or not the probe
  } else if (++failures_ < o_.threshold) {
    return;
  }
  const int shift = std::min(trips_, 16);
  const auto cool = std::min<int64_t>(o_.cooldown.count() << shift, o_.max_cooldown.count());
  open_until_ms_ = now_ms + cool;
  ++trips_;
}

}  // namespace paygate::net

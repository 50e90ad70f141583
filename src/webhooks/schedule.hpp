#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "net/breaker.hpp"

namespace paygate::webhooks {

using Millis = std::chrono::milliseconds;
using net::CircuitBreaker;

// When to try again after a failed attempt.
struct RetryPolicy {
  // Base delay before retry 1, 2, ...; each is drawn with full jitter from (0, base].
  std::vector<Millis> delays{std::chrono::seconds(5),  std::chrono::minutes(5),
                             std::chrono::minutes(30), std::chrono::hours(2),
                             std::chrono::hours(5),    std::chrono::hours(10),
                             std::chrono::hours(10)};
  // Dead-letter only once the schedule is used up AND this long has passed since the first
  // attempt: jitter shortens delays, it must not shorten the promised retry window.
  Millis min_span = std::chrono::hours(24);
  Millis min_delay = std::chrono::seconds(1);
};

// Which retry this is (1 after the first failed attempt) -> delay, or nullopt to dead-letter.
std::optional<Millis> next_delay(const RetryPolicy& p, int failed_attempts, Millis since_first,
                                 std::mt19937_64& rng);

enum class Outcome {
  kDelivered,  // 2xx
  kRetry,      // anything else worth another attempt
  kDisable,    // 410 Gone: the merchant retired the endpoint
};

struct Classified {
  Outcome outcome = Outcome::kRetry;
  std::optional<Millis> retry_after;  // 429/503 with a usable Retry-After
  std::string reason;                 // "2xx", "3xx", "429", "timeout", ...: for metrics and logs
};

// `status` 0 means no HTTP answer (connection error or timeout, see `transport_error`).
Classified classify(long status, std::string_view transport_error, bool timed_out,
                    std::optional<std::string_view> retry_after, int64_t now_unix);

// Retry-After as delay-seconds or an HTTP-date; nullopt when absent or unreadable.
std::optional<Millis> parse_retry_after(std::string_view value, int64_t now_unix);


// Callbacks first. Once `backlog` store units are waiting (callbacks queued behind commits:
// the machine is saturated), new attempts are held to `rate` per second, and stay held until
// the queue has been below the mark for `hold`: a queue that dips for a moment must not let a
// full-speed burst of delivery work in between the callbacks. Below the mark delivery is
// unpaced, so at ordinary load it keeps up with the events it is given.
class BusyPacer {
 public:
  struct Options {
    std::size_t backlog = 16;
    double rate = 100;
    Millis hold{1000};
  };
  BusyPacer() = default;
  explicit BusyPacer(Options o) : o_(o) {}

  // Records the store's queue as seen at `now_ms`; true while delivery is held.
  bool busy(std::size_t backlog, int64_t now_ms);
  // Attempts that may start now: unbounded when not busy, else the tokens earned at `rate`
  // (a tenth of a second's worth at most, so a long wait does not become a burst).
  int budget(int64_t now_ms);
  void spend(int attempts) { tokens_ = std::max(0.0, tokens_ - attempts); }

 private:
  Options o_;
  int64_t held_until_ms_ = 0;
  double tokens_ = 0;
  int64_t tokens_at_ms_ = 0;
};

}  // namespace paygate::webhooks

#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace paygate::webhooks {

using Millis = std::chrono::milliseconds;

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

// Per endpoint: after `threshold` consecutive failures no new attempts for a cool-down that
// doubles up to `max_cooldown`; then one probe decides.
class CircuitBreaker {
 public:
  struct Options {
    int threshold = 5;
    Millis cooldown = std::chrono::seconds(30);
    Millis max_cooldown = std::chrono::minutes(10);
  };
  CircuitBreaker() = default;
  explicit CircuitBreaker(Options o) : o_(o) {}

  // How many attempts may start now, given `in_flight` and the endpoint's `cap`.
  int allowance(int64_t now_ms, int in_flight, int cap) const;
  void on_success();
  void on_failure(int64_t now_ms);
  bool open(int64_t now_ms) const { return failures_ >= o_.threshold && now_ms < open_until_ms_; }
  int consecutive_failures() const { return failures_; }

 private:
  Options o_;
  int failures_ = 0;
  int trips_ = 0;
  int64_t open_until_ms_ = 0;
};

}  // namespace paygate::webhooks

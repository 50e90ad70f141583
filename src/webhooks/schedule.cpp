#include "webhooks/schedule.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>

namespace paygate::webhooks {

std::optional<Millis> next_delay(const RetryPolicy& p, int failed_attempts, Millis since_first,
                                 std::mt19937_64& rng) {
  if (p.delays.empty()) return std::nullopt;
  const bool schedule_used = failed_attempts > static_cast<int>(p.delays.size());
  if (schedule_used && since_first >= p.min_span) return std::nullopt;
  const auto idx = std::min<std::size_t>(static_cast<std::size_t>(std::max(failed_attempts, 1)) - 1,
                                         p.delays.size() - 1);
  const auto base = std::max(p.delays[idx], p.min_delay);
  std::uniform_int_distribution<int64_t> dist(p.min_delay.count(), base.count());
  Millis d(dist(rng));
  // Past the schedule, wait no longer than needed to reach the promised span.
  if (schedule_used) d = std::min(d, std::max(p.min_span - since_first, p.min_delay));
  return d;
}

std::optional<Millis> parse_retry_after(std::string_view v, int64_t now_unix) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  int64_t secs = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec == std::errc() && end == v.data() + v.size()) {
    if (secs < 0) return std::nullopt;
    return Millis(std::min<int64_t>(secs, 7 * 86400) * 1000);
  }
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string s(v);
  const char* rest = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!rest || *rest != '\0') return std::nullopt;
  const int64_t at = timegm(&tm);
  return Millis(std::clamp<int64_t>(at - now_unix, 0, 7 * 86400) * 1000);
}

Classified classify(long status, std::string_view transport_error, bool timed_out,
                    std::optional<std::string_view> retry_after, int64_t now_unix) {
  Classified c;
  if (status == 0) {
    c.reason = timed_out ? "timeout" : "connection";
    return c;
  }
  if (status >= 200 && status < 300) {
    c.outcome = Outcome::kDelivered;
    c.reason = "2xx";
    return c;
  }
  if (status == 410) {
    c.outcome = Outcome::kDisable;
    c.reason = "410";
    return c;
  }
  if (status == 429 || status == 503) {
    c.reason = std::to_string(status);
    if (retry_after) c.retry_after = parse_retry_after(*retry_after, now_unix);
    return c;
  }
  if (status == 408) c.reason = "408";
  else if (status >= 500) c.reason = "5xx";
  else if (status >= 400) c.reason = "4xx";
  else if (status >= 300) c.reason = "3xx";
  else c.reason = "1xx";
  return c;
}

bool BusyPacer::busy(std::size_t backlog, int64_t now_ms) {
  if (backlog >= o_.backlog) {
    if (now_ms >= held_until_ms_) {  // a new hold starts with a tenth of a second's worth
      tokens_ = std::max(1.0, o_.rate / 10);
      tokens_at_ms_ = now_ms;
    }
    held_until_ms_ = now_ms + o_.hold.count();
  }
  return now_ms < held_until_ms_;
}

int BusyPacer::budget(int64_t now_ms) {
  if (now_ms >= held_until_ms_) return std::numeric_limits<int>::max();
  tokens_ = std::min(tokens_ + o_.rate * static_cast<double>(now_ms - tokens_at_ms_) / 1000.0,
                     std::max(1.0, o_.rate / 10));
  tokens_at_ms_ = now_ms;
  return static_cast<int>(tokens_);
}

}  // namespace paygate::webhooks

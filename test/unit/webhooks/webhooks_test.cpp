#include <arpa/inet.h>

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <limits>
#include <thread>

#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "support/vectors.hpp"
#include "webhooks/schedule.hpp"
#include "webhooks/signature.hpp"

namespace paygate {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string vector_body(const json& in) {
  if (in.contains("body_utf8_base64")) {
    return *crypto::base64_decode(in["body_utf8_base64"].get<std::string>());
  }
  return in["body"].get<std::string>();
}

TEST(WebhookSignature, EveryVectorVerifiesAsExpected) {
  const json doc = test::load_vectors("standard_webhooks");
  ASSERT_EQ(doc["vectors"].size(), doc["count"].get<std::size_t>());
  int positives = 0, negatives = 0;
  for (const auto& v : doc["vectors"]) {
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& in = v["inputs"];
    auto key = webhooks::parse_secret(in["secret"].get<std::string>());
    ASSERT_TRUE(key);
    core::Headers headers;
    for (const auto& [name, value] : in["headers"].items()) headers.add(name, value);
    const std::string body = vector_body(in);
    const auto verdict = webhooks::verify({*key}, headers, body, in["now_unix"].get<int64_t>(),
                                          in["tolerance_seconds"].get<int64_t>());
    const bool accept = v["expected"]["accept"].get<bool>();
    EXPECT_EQ(verdict.accepted, accept) << verdict.reason;
    (accept ? positives : negatives)++;
  }
  EXPECT_GT(positives, 0);
  EXPECT_GT(negatives, 0);
}

TEST(WebhookSignature, SignerProducesEveryVectorsSignature) {
  const json doc = test::load_vectors("standard_webhooks");
  int checked = 0;
  for (const auto& v : doc["vectors"]) {
    SCOPED_TRACE(v["id"].get<std::string>());
    if (!v["expected"].contains("expected_v1_signature")) continue;
    // The vectors' expected signature is the receiver's: its secret over the received content.
    const auto& in = v["inputs"];
    auto key = webhooks::parse_secret(in["secret"].get<std::string>());
    ASSERT_TRUE(key);
    core::Headers headers;
    for (const auto& [name, value] : in["headers"].items()) headers.add(name, value);
    auto id = headers.get("webhook-id");
    auto ts = headers.get("webhook-timestamp");
    if (!id || !ts) continue;
    const std::string body = vector_body(in);
    const int64_t timestamp = std::stoll(std::string(*ts));
    EXPECT_EQ(webhooks::signed_content(*id, timestamp, body),
              v["expected"]["signed_content"].get<std::string>());
    EXPECT_EQ(webhooks::sign(*key, *id, timestamp, body),
              "v1," + v["expected"]["expected_v1_signature"].get<std::string>());
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(WebhookSignature, RotationSendsBothAndEitherKeyVerifies) {
  auto old_key = webhooks::parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  auto new_key = webhooks::parse_secret("whsec_xWEOl5NCUO0U5fojt1ZtfvqMW/2/ONWSV6RYM65sbpQ=");
  ASSERT_TRUE(old_key && new_key);
  const std::string header = webhooks::signature_header({*new_key, *old_key}, "msg_1", 1000, "{}");
  EXPECT_EQ(header, webhooks::sign(*new_key, "msg_1", 1000, "{}") + " " +
                        webhooks::sign(*old_key, "msg_1", 1000, "{}"));
  core::Headers h;
  h.add("webhook-id", "msg_1");
  h.add("webhook-timestamp", "1000");
  h.add("webhook-signature", header);
  EXPECT_TRUE(webhooks::verify({*old_key}, h, "{}", 1000).accepted);
  EXPECT_TRUE(webhooks::verify({*new_key}, h, "{}", 1000).accepted);
  EXPECT_FALSE(webhooks::verify({*new_key}, h, "{ }", 1000).accepted);
}

TEST(WebhookSignature, MalformedInputIsRejectedWithAReason) {
  auto key = webhooks::parse_secret("whsec_xWEOl5NCUO0U5fojt1ZtfvqMW/2/ONWSV6RYM65sbpQ=");
  ASSERT_TRUE(key);
  EXPECT_FALSE(webhooks::parse_secret("whsec_"));
  EXPECT_FALSE(webhooks::parse_secret("whsec_not base64!"));
  const std::string good = webhooks::sign(*key, "msg_1", 1000, "x");
  struct Case {
    const char* ts;
    std::string sig;
  };
  for (const auto& c : std::vector<Case>{{"", good},
                                         {"10x0", good},
                                         {"-1", good},
                                         {"1000", ""},
                                         {"1000", "v1,"},
                                         {"1000", good.substr(3)},
                                         {"1000", "v2," + good.substr(3)},
                                         {"1000", "v1a," + good.substr(3)},
                                         {"1000", good.substr(0, good.size() - 2)}}) {
    core::Headers h;
    h.add("webhook-id", "msg_1");
    h.add("webhook-timestamp", c.ts);
    h.add("webhook-signature", c.sig);
    const auto v = webhooks::verify({*key}, h, "x", 1000);
    EXPECT_FALSE(v.accepted) << c.ts << " " << c.sig;
    EXPECT_FALSE(v.reason.empty());
  }
}

TEST(RetrySchedule, FullJitterWithinEachBaseDelayAndDeadLetterAfterSpan) {
  webhooks::RetryPolicy p;
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= static_cast<int>(p.delays.size()); ++attempt) {
    webhooks::Millis lo = webhooks::Millis::max(), hi{0};
    for (int i = 0; i < 2000; ++i) {
      auto d = webhooks::next_delay(p, attempt, 0ms, rng);
      ASSERT_TRUE(d);
      lo = std::min(lo, *d);
      hi = std::max(hi, *d);
    }
    const auto base = p.delays[static_cast<std::size_t>(attempt - 1)];
    EXPECT_GE(lo, p.min_delay);
    EXPECT_LE(hi, base);
    EXPECT_GT(hi, base / 2) << "jitter should spread up to the base delay";
    EXPECT_LT(lo, base / 2) << "full jitter reaches below half the base";
  }
  const int after_schedule = static_cast<int>(p.delays.size()) + 1;
  // Schedule used up but the 24 h window not yet: one more wait, never past the window.
  auto d = webhooks::next_delay(p, after_schedule, 23h, rng);
  ASSERT_TRUE(d);
  EXPECT_LE(*d, 1h);
  EXPECT_FALSE(webhooks::next_delay(p, after_schedule, 24h, rng));
  EXPECT_FALSE(webhooks::next_delay(p, after_schedule + 5, 30h, rng));
}

TEST(RetrySchedule, DefaultScheduleSpansAtLeastADay) {
  webhooks::RetryPolicy p;
  webhooks::Millis total{0};
  for (auto d : p.delays) total += d;
  EXPECT_GE(total, 24h);
  EXPECT_EQ(p.delays.front(), 5s);
}

TEST(RetrySchedule, RetryAfterSecondsAndHttpDate) {
  EXPECT_EQ(webhooks::parse_retry_after("120", 0), 120s);
  EXPECT_EQ(webhooks::parse_retry_after(" 0 ", 0), 0s);
  EXPECT_EQ(webhooks::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412420), 60s);
  EXPECT_EQ(webhooks::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412500), 0s);
  EXPECT_EQ(webhooks::parse_retry_after("99999999", 0), std::chrono::hours(7 * 24));
  EXPECT_FALSE(webhooks::parse_retry_after("", 0));
  EXPECT_FALSE(webhooks::parse_retry_after("-5", 0));
  EXPECT_FALSE(webhooks::parse_retry_after("soon", 0));
  EXPECT_FALSE(webhooks::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT trailing", 0));
}

TEST(Outcome, ClassificationTable) {
  using webhooks::Outcome;
  struct Case {
    long status;
    bool timed_out;
    std::optional<std::string_view> retry_after;
    Outcome outcome;
    const char* reason;
    std::optional<webhooks::Millis> after;
  };
  const Case cases[] = {
      {200, false, {}, Outcome::kDelivered, "2xx", {}},
      {204, false, {}, Outcome::kDelivered, "2xx", {}},
      {299, false, {}, Outcome::kDelivered, "2xx", {}},
      {301, false, {}, Outcome::kRetry, "3xx", {}},
      {302, false, {}, Outcome::kRetry, "3xx", {}},
      {400, false, {}, Outcome::kRetry, "4xx", {}},
      {404, false, {}, Outcome::kRetry, "4xx", {}},
      {408, false, {}, Outcome::kRetry, "408", {}},
      {410, false, {}, Outcome::kDisable, "410", {}},
      {429, false, "30", Outcome::kRetry, "429", 30s},
      {429, false, {}, Outcome::kRetry, "429", {}},
      {429, false, "garbage", Outcome::kRetry, "429", {}},
      {503, false, "7", Outcome::kRetry, "503", 7s},
      {500, false, "7", Outcome::kRetry, "5xx", {}},
      {502, false, {}, Outcome::kRetry, "5xx", {}},
      {0, true, {}, Outcome::kRetry, "timeout", {}},
      {0, false, {}, Outcome::kRetry, "connection", {}},
  };
  for (const auto& c : cases) {
    auto r = webhooks::classify(c.status, "", c.timed_out, c.retry_after, 0);
    EXPECT_EQ(r.outcome, c.outcome) << c.status;
    EXPECT_EQ(r.reason, c.reason) << c.status;
    EXPECT_EQ(r.retry_after, c.after) << c.status;
  }
}

TEST(CircuitBreaker, OpensAfterThresholdThenProbesOnce) {
  webhooks::CircuitBreaker b({3, 1000ms, 4000ms});
  EXPECT_EQ(b.allowance(0, 0, 8), 8);
  EXPECT_EQ(b.allowance(0, 5, 8), 3);
  b.on_failure(0, 0);
  b.on_failure(0, 0);
  EXPECT_EQ(b.allowance(0, 0, 8), 8);
  b.on_failure(0, 0);
  EXPECT_TRUE(b.open(500));
  EXPECT_EQ(b.allowance(500, 0, 8), 0);
  EXPECT_EQ(b.allowance(1000, 0, 8), 1);  // half-open
  EXPECT_EQ(b.allowance(1000, 1, 8), 0);
  b.on_failure(1000, 1000);  // probe failed: cool-down doubles
  EXPECT_EQ(b.allowance(2999, 0, 8), 0);
  EXPECT_EQ(b.allowance(3000, 0, 8), 1);
  b.on_failure(3000, 3000);
  b.on_failure(7000, 7000);  // capped at 4 s
  EXPECT_EQ(b.allowance(10999, 0, 8), 0);
  EXPECT_EQ(b.allowance(11000, 0, 8), 1);
  b.on_success(11000);
  EXPECT_EQ(b.allowance(11000, 0, 8), 8);
  EXPECT_FALSE(b.open(11000));
}

// The review's case: 12 attempts in flight all fail with 500 after a one-second blip. The
// breaker trips once (30 s) instead of doubling to the 10-minute cap on every late result.
TEST(CircuitBreaker, ResultsOfAttemptsInFlightAtTheTripDoNotRearmIt) {
  webhooks::CircuitBreaker b({5, 30000ms, 600000ms});
  EXPECT_EQ(b.allowance(0, 0, 12), 12);
  for (int i = 0; i < 12; ++i) b.on_failure(1000 + i, 0);  // all started at 0
  EXPECT_TRUE(b.open(1004));
  EXPECT_EQ(b.allowance(31003, 0, 12), 0);
  EXPECT_EQ(b.allowance(31004, 0, 12), 1);  // one trip: 30 s after the fifth failure
  // A late success of an attempt from before the trip does not close it either.
  b.on_success(500);
  EXPECT_EQ(b.allowance(31004, 0, 12), 1);
  EXPECT_EQ(b.allowance(31004, 1, 12), 0);  // one probe at a time
  // The probe fails: the cool-down doubles once, however many stale results follow.
  b.on_failure(31100, 31004);
  for (int i = 0; i < 12; ++i) b.on_failure(31200, 900);
  EXPECT_EQ(b.allowance(91099, 0, 12), 0);
  EXPECT_EQ(b.allowance(91100, 0, 12), 1);
  b.on_success(91100);  // the probe succeeds: closed
  EXPECT_EQ(b.allowance(91200, 0, 12), 12);
}

}  // namespace
}  // namespace paygate

namespace paygate {
namespace {

TEST(BusyPacer, UnpacedBelowTheMark) {
  webhooks::BusyPacer p({16, 100, 1000ms});
  for (int64_t t = 0; t < 5000; t += 100) {
    EXPECT_FALSE(p.busy(15, t));
    EXPECT_EQ(p.budget(t), std::numeric_limits<int>::max());
  }
}

TEST(BusyPacer, HoldsTheRateUntilTheQueueStaysLow) {
  webhooks::BusyPacer p({16, 100, 1000ms});
  ASSERT_TRUE(p.busy(16, 10'000));
  EXPECT_EQ(p.budget(10'000), 10);  // a tenth of a second's worth to start with
  p.spend(10);
  EXPECT_EQ(p.budget(10'000), 0);
  EXPECT_TRUE(p.busy(0, 10'050));  // a dip does not end the hold
  EXPECT_EQ(p.budget(10'050), 5);  // 100/s for 50 ms
  p.spend(5);
  EXPECT_TRUE(p.busy(20, 10'900));  // seen busy again: held until 11,900
  EXPECT_EQ(p.budget(10'900), 10);  // tokens never pile up beyond the cap
  p.spend(3);
  EXPECT_TRUE(p.busy(0, 11'899));
  EXPECT_EQ(p.budget(11'899), 10);
  EXPECT_FALSE(p.busy(0, 11'900));
  EXPECT_EQ(p.budget(11'900), std::numeric_limits<int>::max());
}

TEST(BusyPacer, SpendingMoreThanEarnedNeverGoesNegative) {
  webhooks::BusyPacer p({4, 20, 500ms});
  ASSERT_TRUE(p.busy(4, 0));
  EXPECT_EQ(p.budget(0), 2);
  p.spend(50);
  EXPECT_EQ(p.budget(0), 0);
  EXPECT_EQ(p.budget(100), 2);  // 20/s for 100 ms, from zero
}

}  // namespace
}  // namespace paygate

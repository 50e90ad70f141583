#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "net/breaker.hpp"
#include "net/http_client.hpp"

// A provider's API seen as one service: a primary host and an optional backup, a circuit
// breaker per host, a cap on calls in flight, and retries with exponential back-off and full
// jitter only where the caller says a retry cannot do harm.
namespace paygate::net {

struct UpstreamOptions {
  std::string base_url;         // e.g. https://api.mch.weixin.qq.com (no trailing slash)
  std::string backup_base_url;  // failover host; empty: none
  int max_attempts = 3;
  std::chrono::milliseconds backoff_base{200};  // retry n waits a random time in (0, base*2^n]
  std::chrono::milliseconds backoff_cap{3000};
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{3000};
  CircuitBreaker::Options breaker{5, std::chrono::seconds(30), std::chrono::minutes(5)};
  int max_in_flight = 64;  // per host; more are refused (not sent) at once
  std::size_t max_response_bytes = 1 << 20;
};

// When a failed attempt may be sent again.
enum class RetrySafety {
  kNever,      // a repeat could act twice and nothing makes it idempotent
  kIfNotSent,  // only when the provider certainly did not get or did not process it
  kAlways,     // idempotent: a query, a close, a refund with the same out_refund_no
};

struct UpstreamCall {
  std::string operation;  // "create", "query", ...: for metrics and logs
  RetrySafety safety = RetrySafety::kNever;
  // Builds (and signs) one attempt against `base_url`; called once per attempt.
  std::function<core::Result<HttpRequest>(std::string_view base_url)> build;
};

// Why the last attempt ended as it did.
enum class CallOutcome {
  kAnswered,     // an HTTP answer that is not a transient failure (2xx, or a 4xx other than 429)
  kNotSent,      // certainly not received: no connection, breakers open, over the cap
  kUnknown,      // may have reached the provider: a timeout, a dropped connection, a 5xx
  kRateLimited,  // 429: received and refused unprocessed
  kBuildFailed,  // the request could not be built (signing failed)
};
std::string_view to_string(CallOutcome o);

struct UpstreamResult {
  CallOutcome outcome = CallOutcome::kNotSent;
  HttpResponse response;     // of the last attempt
  int attempts = 0;          // sent or tried to send
  std::string host;          // base URL of the last attempt
  bool failed_over = false;  // an attempt went to the backup host
  std::string error;         // build failure or why nothing was sent
  std::chrono::milliseconds elapsed{0};
};

using UpstreamDone = std::function<void(UpstreamResult)>;

class Upstream {
 public:
  Upstream(HttpClient& client, UpstreamOptions options, const core::Clock& clock);
  // `done` runs once, on the HTTP client's thread (or the caller's, when nothing is sent).
  void call(UpstreamCall call, UpstreamDone done);

  struct HostState {
    std::string base_url;
    bool open = false;
    int consecutive_failures = 0;
    int in_flight = 0;
  };
  std::vector<HostState> hosts() const;
  const UpstreamOptions& options() const { return o_; }

 private:
  struct Host {
    std::string base_url;
    CircuitBreaker breaker;
    int in_flight = 0;
  };
  struct Running;
  void attempt(std::shared_ptr<Running> run);
  void finished(std::shared_ptr<Running> run, std::size_t host, int64_t started_ms,
                HttpResponse response);
  // The first host that may take an attempt now (primary first), reserved; -1 when none.
  int reserve_host();

  HttpClient& client_;
  UpstreamOptions o_;
  const core::Clock& clock_;
  mutable std::mutex mu_;
  std::vector<Host> hosts_;  // guarded by mu_
  std::mt19937_64 rng_;      // guarded by mu_
};

// The classification of one answer: a transport failure, 5xx and 429 are failures of the host.
CallOutcome classify_answer(const HttpResponse& r);

}  // namespace paygate::net

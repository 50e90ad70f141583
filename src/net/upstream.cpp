#include "net/upstream.hpp"

#include <algorithm>

namespace paygate::net {

std::string_view to_string(CallOutcome o) {
  switch (o) {
    case CallOutcome::kAnswered: return "answered";
    case CallOutcome::kNotSent: return "not_sent";
    case CallOutcome::kUnknown: return "unknown";
    case CallOutcome::kRateLimited: return "rate_limited";
    case CallOutcome::kBuildFailed: return "build_failed";
  }
  return "unknown";
}

CallOutcome classify_answer(const HttpResponse& r) {
  if (r.status == 0) return r.maybe_sent ? CallOutcome::kUnknown : CallOutcome::kNotSent;
  if (r.status == 429) return CallOutcome::kRateLimited;
  if (r.status >= 500) return CallOutcome::kUnknown;
  return CallOutcome::kAnswered;
}

struct Upstream::Running {
  UpstreamCall call;
  UpstreamDone done;
  UpstreamResult result;
  bool maybe_sent = false;  // some attempt may have reached the provider
  int avoid_host = -1;      // the host that could not be reached last: try the other first
  std::chrono::milliseconds delay{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  void complete() {
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    // A later attempt that was certainly not sent does not undo an earlier one that may have been.
    if (maybe_sent && result.outcome != CallOutcome::kAnswered) {
      result.outcome = CallOutcome::kUnknown;
    }
    done(std::move(result));
  }
};

Upstream::Upstream(HttpClient& client, UpstreamOptions options, const core::Clock& clock)
    : client_(client), o_(std::move(options)), clock_(clock), rng_(std::random_device{}()) {
  hosts_.push_back({o_.base_url, CircuitBreaker(o_.breaker), 0});
  if (!o_.backup_base_url.empty()) {
    hosts_.push_back({o_.backup_base_url, CircuitBreaker(o_.breaker), 0});
  }
}

std::vector<Upstream::HostState> Upstream::hosts() const {
  std::lock_guard lock(mu_);
  std::vector<HostState> out;
  const int64_t now = clock_.now_ms();
  for (const auto& h : hosts_) {
    out.push_back({h.base_url, h.breaker.open(now), h.breaker.consecutive_failures(), h.in_flight});
  }
  return out;
}

int Upstream::reserve_host() {
  // Caller holds mu_.
  const int64_t now = clock_.now_ms();
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    auto& h = hosts_[i];
    if (h.breaker.allowance(now, h.in_flight, std::max(1, o_.max_in_flight)) > 0) {
      ++h.in_flight;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void Upstream::call(UpstreamCall call, UpstreamDone done) {
  auto run = std::make_shared<Running>();
  run->call = std::move(call);
  run->done = std::move(done);
  attempt(std::move(run));
}

void Upstream::attempt(std::shared_ptr<Running> run) {
  int host = -1;
  {
    std::lock_guard lock(mu_);
    if (run->avoid_host >= 0 && hosts_.size() > 1) {
      // The other host first: the last one could not be reached.
      const std::size_t other = run->avoid_host == 0 ? 1 : 0;
      auto& h = hosts_[other];
      if (h.breaker.allowance(clock_.now_ms(), h.in_flight, std::max(1, o_.max_in_flight)) > 0) {
        ++h.in_flight;
        host = static_cast<int>(other);
      }
    }
    if (host < 0) host = reserve_host();
  }
  if (host < 0) {
    if (run->result.attempts == 0) {
      run->result.outcome = CallOutcome::kNotSent;
      run->result.error = "circuit open or too many calls in flight on every host";
    }
    return run->complete();
  }
  const std::string base = hosts_[static_cast<std::size_t>(host)].base_url;  // never changes
  auto built = run->call.build(base);
  if (!built) {
    {
      std::lock_guard lock(mu_);
      --hosts_[static_cast<std::size_t>(host)].in_flight;
    }
    run->result.outcome = CallOutcome::kBuildFailed;
    run->result.error = built.error().detail;
    return run->complete();
  }
  HttpRequest req = std::move(*built);
  req.timeout = o_.timeout;
  req.connect_timeout = o_.connect_timeout;
  req.max_response_bytes = o_.max_response_bytes;
  req.start_after = run->delay;
  ++run->result.attempts;
  run->result.host = base;
  if (host > 0) run->result.failed_over = true;
  const int64_t started_ms = clock_.now_ms() + run->delay.count();
  client_.send(std::move(req), [this, run, host, started_ms](HttpResponse r) {
    finished(run, static_cast<std::size_t>(host), started_ms, std::move(r));
  });
}

void Upstream::finished(std::shared_ptr<Running> run, std::size_t host, int64_t started_ms,
                        HttpResponse response) {
  const CallOutcome outcome = classify_answer(response);
  std::chrono::milliseconds backoff{0};
  {
    std::lock_guard lock(mu_);
    auto& h = hosts_[host];
    --h.in_flight;
    if (outcome == CallOutcome::kAnswered) {
      h.breaker.on_success(started_ms);
    } else if (outcome == CallOutcome::kNotSent || outcome == CallOutcome::kUnknown) {
      h.breaker.on_failure(clock_.now_ms(), started_ms);
    }
    const int n = std::min(run->result.attempts, 16);
    const int64_t ceiling =
        std::min<int64_t>(o_.backoff_cap.count(), o_.backoff_base.count() << (n - 1));
    backoff = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(1, std::max<int64_t>(1, ceiling))(rng_));
  }
  if (outcome == CallOutcome::kUnknown) run->maybe_sent = true;
  run->result.outcome = outcome;
  run->result.response = std::move(response);

  const auto safety = run->call.safety;
  bool again = false;
  switch (outcome) {
    case CallOutcome::kAnswered:
    case CallOutcome::kBuildFailed: break;
    case CallOutcome::kNotSent:
    case CallOutcome::kRateLimited: again = safety != RetrySafety::kNever; break;
    case CallOutcome::kUnknown: again = safety == RetrySafety::kAlways; break;
  }
  if (!again || run->result.attempts >= o_.max_attempts) {
    return run->complete();
  }
  // Not reached: fail over to the other host at once. Otherwise back off.
  const bool unreachable = outcome == CallOutcome::kNotSent && hosts_.size() > 1;
  run->avoid_host = unreachable ? static_cast<int>(host) : -1;
  run->delay = unreachable ? std::chrono::milliseconds(0) : backoff;
  attempt(std::move(run));
}

}  // namespace paygate::net

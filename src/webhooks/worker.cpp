#include "webhooks/worker.hpp"

#include <pthread.h>

#include <algorithm>
#include <future>

#include "core/json_out.hpp"
#include "crypto/random.hpp"
#include "obs/log.hpp"
#include "webhooks/signature.hpp"

namespace paygate::webhooks {

using namespace std::chrono;

bool Endpoint::wants(std::string_view event_type) const {
  if (events.empty()) return true;
  for (const auto& e : events) {
    if (e == event_type) return true;
  }
  return false;
}

std::string webhook_body(const store::ClaimedDelivery& c) {
  std::string body;
  body.reserve(c.payload.size() + 128);
  body += "{\"type\":";
  core::append_json_string(body, c.delivery.event_type);
  body += ",\"timestamp\":";
  core::append_json_string(body, core::format_rfc3339_ms(c.event_created_at_ms));
  body += ",\"id\":";
  core::append_json_string(body, "evt_" + std::to_string(c.delivery.outbox_id));
  body += ",\"data\":";
  body += c.payload;  // stored JSON, written by paygate
  body += '}';
  return body;
}

DeliveryWorker::DeliveryWorker(store::Store& store, net::HttpClient& transport,
                               const core::Clock& clock, obs::Registry& registry,
                               std::vector<Endpoint> endpoints, WorkerOptions options)
    : store_(store),
      transport_(transport),
      clock_(clock),
      endpoints_(std::move(endpoints)),
      o_(std::move(options)),
      rng_(std::random_device{}()),
      pacer_(o_.pacing),
      attempts_(registry.counter("paygate_webhook_attempts_total",
                                 "Merchant webhook delivery attempts by endpoint and outcome.",
                                 {"endpoint", "outcome"})),
      dead_(registry.counter("paygate_webhook_dead_letters_total",
                             "Deliveries given up after the retry window.", {"endpoint"})),
      latency_(registry.histogram("paygate_webhook_attempt_seconds",
                                  "Duration of one delivery attempt.", {"endpoint"},
                                  {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 30})),
      routed_(registry.counter("paygate_webhook_events_routed_total",
                               "Outbox events fanned out to endpoints.", {})) {
  for (const auto& e : endpoints_) {
    by_id_[e.id] = &e;
    runtime_[e.id].breaker = CircuitBreaker(o_.breaker);
  }
}

DeliveryWorker::~DeliveryWorker() { stop(milliseconds(0)); }

void DeliveryWorker::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "paygate-webhook");
    run();
  });
}

void DeliveryWorker::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void DeliveryWorker::stop(milliseconds grace) {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;  // no new attempts; the thread records outcomes as they come back
  }
  cv_.notify_all();
  {
    // In-flight attempts report through results_; give them `grace` to land.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, grace, [this] { return in_flight_total_ == 0; });
    exit_ = true;  // what is still out keeps its lease and goes again after a restart
  }
  cv_.notify_all();
  thread_.join();
}

void DeliveryWorker::send(store::ClaimedDelivery c) {
  const Endpoint& ep = *by_id_.at(c.delivery.endpoint);
  net::HttpRequest req;
  req.url = ep.url;
  req.timeout = ep.timeout;
  req.body = webhook_body(c);
  const int64_t ts = clock_.now_unix();
  req.headers = {{"Content-Type", "application/json"},
                 {"webhook-id", c.delivery.webhook_id},
                 {"webhook-timestamp", std::to_string(ts)},
                 {"webhook-signature",
                  signature_header(ep.secrets, c.delivery.webhook_id, ts, req.body)}};
  const int64_t started = clock_.now_ms();
  transport_.send(std::move(req), [this, c = std::move(c), started](net::HttpResponse r) mutable {
    {
      std::lock_guard lock(mu_);
      results_.push_back(Result{std::move(c), std::move(r), started});
    }
    cv_.notify_all();
  });
}

void DeliveryWorker::run() {
  bool more = true;  // the last cycle suggests more is due right away
  int64_t last_cycle_ms = 0;
  for (;;) {
    std::vector<Result> batch;
    bool stopping, woken;
    {
      std::unique_lock lock(mu_);
      if (!more) {
        cv_.wait_for(lock, o_.poll, [this] { return !results_.empty() || woken_ || stopping_; });
      }
      woken = woken_;
      woken_ = false;
      stopping = stopping_;
      batch.assign(std::make_move_iterator(results_.begin()),
                   std::make_move_iterator(results_.end()));
      results_.clear();
      in_flight_total_ -= static_cast<int>(batch.size());
    }
    cv_.notify_all();  // stop() waits for in_flight_total_ to drop
    absorb(std::move(batch));
    if (stopping) {
      cycle(true);  // record what came back, hand back what was claimed but never sent
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !results_.empty() || exit_; });
      if (exit_ && results_.empty()) return;
      more = true;
      continue;
    }
    dispatch();
    // Callbacks waiting on the store: one store unit per poll interval at most.
    const int64_t now = clock_.now_ms();
    const bool busy = pacer_.busy(store_.backlog(), now);
    if (busy && !woken && now - last_cycle_ms < o_.poll.count()) {
      more = false;
      continue;
    }
    last_cycle_ms = now;
    more = cycle(false) && !busy;
    dispatch();
  }
}

void DeliveryWorker::absorb(std::vector<Result> results) {
  const int64_t now = clock_.now_ms();
  for (auto& r : results) {
    auto& rt = runtime_[r.claimed.delivery.endpoint];
    rt.in_flight--;
    const auto c = classify(r.response.status, r.response.error, r.response.timed_out,
                            r.response.header("retry-after"), now / 1000);
    Recorded o;
    o.delivery = r.claimed.delivery;
    auto& d = o.delivery;
    if (d.first_attempt_at_ms == 0) d.first_attempt_at_ms = r.started_ms;
    d.last_status = r.response.status;
    d.last_error = r.response.status ? "" : r.response.error;
    d.updated_at_ms = now;
    o.attempt = {d.id, r.started_ms, r.response.status, c.reason,
                 static_cast<int64_t>(r.response.latency.count()), r.response.error,
                 r.response.body};
    if (r.response.error == "shutting down") {
      // Not an answer from the merchant: due again right away, no attempt counted.
      d.status = store::DeliveryStatus::kPending;
      d.due_at_ms = now;
      o.attempt.outcome = "aborted";
      records_.push_back(std::move(o));
      continue;
    }
    attempts_.inc({d.endpoint, c.reason});
    latency_.observe({d.endpoint}, static_cast<double>(r.response.latency.count()) / 1000.0);
    if (c.outcome == webhooks::Outcome::kDelivered) {
      d.status = store::DeliveryStatus::kDelivered;
      rt.breaker.on_success(r.started_ms);
    } else if (c.outcome == webhooks::Outcome::kDisable) {
      // Held, not lost: due again once someone enables the endpoint.
      d.status = store::DeliveryStatus::kPending;
      d.due_at_ms = now;
      o.disable = true;
      rt.disabled = true;
      rt.breaker.on_failure(now, r.started_ms);
    } else {
      rt.breaker.on_failure(now, r.started_ms);
      d.attempts++;
      auto delay =
          next_delay(o_.retry, d.attempts, milliseconds(now - d.first_attempt_at_ms), rng_);
      if (!delay) {
        d.status = store::DeliveryStatus::kDead;
        dead_.inc({d.endpoint});
        obs::Log(obs::Level::kWarn, "webhook dead-lettered")
            .str("endpoint", d.endpoint)
            .str("webhook_id", d.webhook_id)
            .num("event", d.outbox_id)
            .num("attempts", d.attempts);
      } else {
        if (c.retry_after) delay = std::max(*c.retry_after, o_.retry.min_delay);
        d.status = store::DeliveryStatus::kPending;
        d.due_at_ms = now + delay->count();
      }
    }
    records_.push_back(std::move(o));
  }
}

void DeliveryWorker::dispatch() {
  const int64_t now = clock_.now_ms();
  for (const auto& ep : endpoints_) {
    auto& rt = runtime_[ep.id];
    if (rt.disabled) continue;  // what it holds goes back to the store in the next cycle
    int n = rt.breaker.allowance(now, rt.in_flight, ep.max_in_flight);
    while (n-- > 0 && !rt.ready.empty()) {
      auto c = std::move(rt.ready.front());
      rt.ready.pop_front();
      rt.in_flight++;
      {
        std::lock_guard lock(mu_);
        in_flight_total_++;
      }
      send(std::move(c));
    }
  }
}

bool DeliveryWorker::cycle(bool final) {
  const int64_t now = clock_.now_ms();
  const bool busy = pacer_.busy(store_.backlog(), now);
  int budget = pacer_.budget(now);
  int route_batch = o_.route_batch;
  if (busy) route_batch = std::min(route_batch, std::max(budget, 16));

  // Claimed but not started: back to the store when stopping or when the endpoint is off.
  std::vector<int64_t> release;
  for (const auto& ep : endpoints_) {
    auto& rt = runtime_[ep.id];
    if (!final && !rt.disabled) continue;
    for (const auto& c : rt.ready) release.push_back(c.delivery.id);
    rt.ready.clear();
  }

  // What each endpoint may take now: a few rounds of its cap ahead, its breaker, the budget.
  std::vector<std::pair<const Endpoint*, int>> allowances;
  if (!final) {
    for (const auto& ep : endpoints_) {
      auto& rt = runtime_[ep.id];
      const int queued = rt.in_flight + static_cast<int>(rt.ready.size());
      int n = (kPrefetchRounds + 1) * ep.max_in_flight - queued;
      if (rt.breaker.open(now) || rt.breaker.consecutive_failures() > 0) {
        n = rt.breaker.allowance(now, queued, ep.max_in_flight);  // failing: no run-ahead
      }
      n = std::min(n, budget);
      if (n > 0) allowances.emplace_back(&ep, n);
      budget -= std::max(n, 0);
    }
  }

  struct Claimed {
    std::vector<store::ClaimedDelivery> deliveries;
    std::vector<std::string> disabled;
    int routed = 0;
    bool more = false;
  };
  auto claimed = std::make_shared<Claimed>();
  const auto& endpoints = endpoints_;
  store::Work work = [records = std::move(records_), release, allowances, claimed, now,
                      route_batch, final, &endpoints](store::Tx& tx) -> core::Result<void> {
    *claimed = Claimed{};
    for (const auto& o : records) {
      if (auto r = tx.finish_attempt(o.delivery, o.attempt); !r) return r;
      if (o.disable) {
        if (auto r = tx.set_endpoint_state(
                {o.delivery.endpoint, false, "410 Gone from the endpoint", now});
            !r) {
          return r;
        }
      }
    }
    if (auto r = tx.release_deliveries(release, now); !r) return r;
    if (final) return {};
    auto events = tx.unrouted_outbox(route_batch);
    if (!events) return tl::unexpected(events.error());
    for (const auto& ev : *events) {
      for (const auto& ep : endpoints) {
        if (ep.merchant != ev.merchant || !ep.wants(ev.event_type)) continue;
        store::Delivery d;
        d.outbox_id = ev.id;
        d.endpoint = ep.id;
        d.merchant = ev.merchant;
        d.out_trade_no = ev.out_trade_no;
        d.event_type = ev.event_type;
        d.webhook_id = "msg_" + crypto::random_alnum(24);
        d.due_at_ms = now;
        d.created_at_ms = now;
        d.updated_at_ms = now;
        if (auto r = tx.insert_delivery(d); !r) return tl::unexpected(r.error());
      }
    }
    if (!events->empty()) {
      if (auto r = tx.mark_routed(events->back().id); !r) return r;
    }
    claimed->routed = static_cast<int>(events->size());
    claimed->more = claimed->routed == route_batch;
    for (const auto& [ep, n] : allowances) {
      auto state = tx.endpoint_state(ep->id);
      if (!state) return tl::unexpected(state.error());
      if (*state && !(*state)->enabled) {
        claimed->disabled.push_back(ep->id);
        continue;
      }
      // Covers the wait in the local queue and the attempt itself.
      const int64_t lease = now + (kPrefetchRounds + 2) * ep->timeout.count() + 1000;
      auto got = tx.claim_deliveries(ep->id, now, lease, n);
      if (!got) return tl::unexpected(got.error());
      if (static_cast<int>(got->size()) == n) claimed->more = true;
      for (auto& c : *got) claimed->deliveries.push_back(std::move(c));
    }
    return {};
  };
  records_.clear();

  std::promise<core::Result<void>> done;
  auto fut = done.get_future();
  store_.submit(std::move(work), [&done](core::Result<void> r) { done.set_value(std::move(r)); });
  auto r = fut.get();  // durable: nothing is sent before its claim is on disk
  if (!r) {
    // While the store is down this fails every poll: one line per 10 s is enough.
    ++failed_cycles_;
    if (now - last_failure_log_ms_ >= 10000) {
      obs::Log(obs::Level::kError, "webhook cycle failed")
          .str("error", r.error().detail)
          .num("failures_since_last_line", failed_cycles_);
      last_failure_log_ms_ = now;
      failed_cycles_ = 0;
    }
    // Outcomes not recorded: their leases run out and the deliveries are sent again, same id.
    return false;
  }
  if (claimed->routed > 0) routed_.inc({}, claimed->routed);
  pacer_.spend(static_cast<int>(claimed->deliveries.size()));
  for (const auto& ep : endpoints_) {
    auto& rt = runtime_[ep.id];
    rt.disabled = std::find(claimed->disabled.begin(), claimed->disabled.end(), ep.id) !=
                  claimed->disabled.end();
  }
  for (auto& c : claimed->deliveries) runtime_[c.delivery.endpoint].ready.push_back(std::move(c));
  return claimed->more;
}

}  // namespace paygate::webhooks

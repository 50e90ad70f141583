#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/secret.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"
#include "webhooks/schedule.hpp"
#include "net/http_client.hpp"

namespace paygate::webhooks {

// A merchant's receiving URL, from config.
struct Endpoint {
  std::string id;  // unique across the config; names the endpoint in the API and the store
  std::string merchant;
  std::string url;
  std::vector<core::Secret> secrets;  // each signs every attempt (rotation: new and old)
  std::vector<std::string> events;    // event types it wants; empty = all
  int max_in_flight = 8;
  std::chrono::milliseconds timeout{15000};

  bool wants(std::string_view event_type) const;
};

struct WorkerOptions {
  RetryPolicy retry;
  CircuitBreaker::Options breaker;
  std::chrono::milliseconds poll{100};  // how often due work is looked for when idle
  int route_batch = 500;                // outbox events fanned out per store unit
  BusyPacer::Options pacing;  // callbacks first: see BusyPacer
};

// The webhook body: {"type","timestamp","id","data"} in the Standard Webhooks shape, built
// from the stored event only, so every retry sends the same bytes.
std::string webhook_body(const store::ClaimedDelivery& c);

// Claims due deliveries through the store (a claim is durable before anything is sent),
// posts them through the transport and records each attempt. One thread; never touches the
// callback path except through the store's queue.
class DeliveryWorker {
 public:
  DeliveryWorker(store::Store& store, net::HttpClient& transport, const core::Clock& clock,
                 obs::Registry& registry, std::vector<Endpoint> endpoints, WorkerOptions options);
  ~DeliveryWorker();
  DeliveryWorker(const DeliveryWorker&) = delete;
  DeliveryWorker& operator=(const DeliveryWorker&) = delete;

  void start();
  // Stops claiming, waits up to `grace` for attempts in flight and records their outcomes.
  void stop(std::chrono::milliseconds grace);
  // Look for due work now (after a replay or an endpoint was enabled).
  void wake();

  const std::vector<Endpoint>& endpoints() const { return endpoints_; }

 private:
  struct Result {
    store::ClaimedDelivery claimed;
    net::HttpResponse response;
    int64_t started_ms = 0;
  };
  struct EndpointRuntime {
    int in_flight = 0;
    std::deque<store::ClaimedDelivery> ready;  // claimed (leased), waiting for a slot
    bool disabled = false;
    CircuitBreaker breaker;
  };
  struct Recorded {
    store::Delivery delivery;
    store::DeliveryAttempt attempt;
    bool disable = false;
  };
  // Claims run ahead of sending by this many rounds of an endpoint's cap, so a slot that frees
  // up is refilled without waiting for a store commit.
  static constexpr int kPrefetchRounds = 3;

  void run();
  // Outcomes of finished attempts: next state, breaker, metrics; recorded by the next cycle.
  void absorb(std::vector<Result> results);
  // Starts claimed deliveries while their endpoints have free slots.
  void dispatch();
  // One store unit: record outcomes, fan out new events, claim ahead. `final`: record and
  // hand back claims only.
  bool cycle(bool final);
  void send(store::ClaimedDelivery c);

  store::Store& store_;
  net::HttpClient& transport_;
  const core::Clock& clock_;
  std::vector<Endpoint> endpoints_;
  std::map<std::string, const Endpoint*> by_id_;
  WorkerOptions o_;
  std::mt19937_64 rng_;
  BusyPacer pacer_;
  int64_t last_failure_log_ms_ = 0;
  int64_t failed_cycles_ = 0;

  obs::Counter& attempts_;     // endpoint, outcome
  obs::Counter& dead_;         // endpoint
  obs::Histogram& latency_;    // endpoint
  obs::Counter& routed_;       //

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Result> results_;
  bool woken_ = false;
  bool stopping_ = false;
  bool exit_ = false;  // stop() gave up waiting for attempts in flight
  std::map<std::string, EndpointRuntime> runtime_;  // the worker thread's only
  std::vector<Recorded> records_;                    // the worker thread's only
  int in_flight_total_ = 0;                          // guarded by mu_
  std::thread thread_;
};

}  // namespace paygate::webhooks

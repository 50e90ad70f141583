#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "core/clock.hpp"
#include "store/store.hpp"

namespace paygate::pipeline {

struct RetentionOptions {
  std::chrono::hours keep{0};  // 0: keep everything
  std::chrono::milliseconds every{std::chrono::minutes(10)};
  int batch = 1000;             // rows per store unit, so callbacks never wait long behind it
  std::size_t busy_backlog = 16;  // skip a round while this many units wait for the store
};

// Deletes settled rows older than `keep` (Store::Tx::prune), in small units, on its own
// thread. Never touches anything unsettled: anomalies, unfinished or dead deliveries, orders,
// transitions, the outbox.
class Retention {
 public:
  Retention(store::Store& store, const core::Clock& clock, RetentionOptions options);
  ~Retention();
  Retention(const Retention&) = delete;
  Retention& operator=(const Retention&) = delete;

  // One pass now: units until a batch comes back short. Rows deleted, or the store's error.
  core::Result<int64_t> run_once();
  void start();
  void stop();

 private:
  store::Store& store_;
  const core::Clock& clock_;
  RetentionOptions o_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace paygate::pipeline

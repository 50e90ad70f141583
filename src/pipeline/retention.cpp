#include "pipeline/retention.hpp"

#include <pthread.h>

#include <future>

#include "obs/log.hpp"

namespace paygate::pipeline {

Retention::Retention(store::Store& store, const core::Clock& clock, RetentionOptions options)
    : store_(store), clock_(clock), o_(options) {}

Retention::~Retention() { stop(); }

core::Result<int64_t> Retention::run_once() {
  const int64_t before =
      clock_.now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(o_.keep).count();
  int64_t total = 0;
  for (;;) {
    auto deleted = std::make_shared<int64_t>(0);
    std::promise<core::Result<void>> done;
    store_.submit(
        [deleted, before, limit = o_.batch](store::Tx& tx) -> core::Result<void> {
          auto n = tx.prune(before, limit);
          if (!n) return tl::unexpected(n.error());
          *deleted = *n;
          return {};
        },
        [&done](core::Result<void> r) { done.set_value(std::move(r)); });
    auto r = done.get_future().get();
    if (!r) return tl::unexpected(r.error());
    total += *deleted;
    if (*deleted < o_.batch) return total;
    std::lock_guard lock(mu_);
    if (stopping_) return total;
  }
}

void Retention::start() {
  if (o_.keep.count() <= 0) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "paygate-retain");
    for (;;) {
      {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, o_.every, [this] { return stopping_; })) return;
      }
      if (store_.backlog() >= o_.busy_backlog) continue;  // callbacks first; next round
      auto n = run_once();
      if (!n) {
        obs::Log(obs::Level::kWarn, "retention pass failed").str("error", n.error().detail);
      } else if (*n > 0) {
        obs::Log(obs::Level::kInfo, "retention pass").num("rows_deleted", *n);
      }
    }
  });
}

void Retention::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace paygate::pipeline

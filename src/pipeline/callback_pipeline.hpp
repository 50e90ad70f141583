#pragma once
#include <chrono>
#include <functional>
#include <string>

#include "core/clock.hpp"
#include "core/headers.hpp"
#include "obs/metrics.hpp"
#include "pipeline/apply.hpp"
#include "providers/provider.hpp"
#include "store/store.hpp"

namespace paygate::pipeline {

struct CallbackRequest {
  core::Headers headers;
  std::string target;
  std::string body;
  std::string request_id;
};

// The transport runs a MakeReply on its own I/O thread and sends the reply it returns; the
// pipeline logs and counts inside it, so none of that runs on the store's writer thread.
using MakeReply = std::function<providers::Reply()>;
using ReplyFn = std::function<void(MakeReply)>;

// What one answered callback leaves in the metrics and the log (never payloads or secrets).
struct CallbackRecord {
  std::string provider;
  std::string merchant;
  std::string request_id;
  std::chrono::steady_clock::time_point start;
  std::string outcome;  // applied, duplicate, anomaly, rejected, error, verified
  std::string reason;
  std::string notification_id;
  std::string out_trade_no;
};

// Hands `reply` to the transport; on its I/O thread the callback is counted and logged.
void answer(obs::Metrics& metrics, const ReplyFn& reply, CallbackRecord record,
            providers::Reply r);

// verify -> decode -> (one transaction: inbox, dedupe, checks, state machine, outbox) -> commit
// -> reply. The reply is produced only after the store reports the commit durable.
class CallbackPipeline {
 public:
  // `store` may be null: verify-only mode (benchmark baseline), nothing is persisted.
  CallbackPipeline(store::Store* store, const core::Clock& clock, obs::Metrics& metrics)
      : store_(store), clock_(clock), metrics_(metrics) {}

  // Calls `reply` exactly once, possibly from the store's thread.
  void handle(const providers::CallbackAdapter& adapter, const Identity& identity,
              CallbackRequest request, ReplyFn reply);

  // Re-applies a stored anomaly (e.g. after the missing order was registered).
  void redrive(int64_t inbox_id, const Identity& identity,
               std::function<void(core::Result<Applied>)> done);

 private:
  store::Store* store_;
  const core::Clock& clock_;
  obs::Metrics& metrics_;
};

}  // namespace paygate::pipeline

#include "pipeline/callback_pipeline.hpp"

#include <chrono>
#include <memory>

#include "core/json_out.hpp"
#include "obs/log.hpp"
#include "pipeline/event_json.hpp"

namespace paygate::pipeline {
namespace {

using core::ErrorCode;

std::string_view outcome_name(providers::Outcome o) {
  switch (o) {
    case providers::Outcome::kApplied: return "applied";
    case providers::Outcome::kDuplicate: return "duplicate";
    case providers::Outcome::kAnomaly: return "anomaly";
  }
  return "applied";
}

using Clock = std::chrono::steady_clock;

}  // namespace

void answer(obs::Metrics& metrics, const ReplyFn& reply, CallbackRecord rec,
            providers::Reply r) {
  reply([&metrics, rec = std::move(rec), r = std::move(r)]() mutable {
    const double secs = std::chrono::duration<double>(Clock::now() - rec.start).count();
    metrics.callbacks.inc({rec.provider, rec.outcome});
    metrics.reply_seconds.observe({rec.provider}, secs);
    obs::Log log(rec.outcome == "error" ? obs::Level::kError : obs::Level::kInfo, "callback");
    log.str("request_id", rec.request_id).str("provider", rec.provider)
        .str("merchant", rec.merchant).str("outcome", rec.outcome).num("status", r.status)
        .real("latency_ms", secs * 1000);
    if (!rec.reason.empty()) log.str("reason", rec.reason);
    if (!rec.notification_id.empty()) {
      log.str("notification_id", rec.notification_id).str("out_trade_no", rec.out_trade_no);
    }
    return std::move(r);
  });
}

namespace {

// Every text field of a decoded event is UTF-8 (adapters convert declared charsets), so what is
// stored and shown as JSON is what the provider sent.
bool is_text(const core::PaymentEvent& e) {
  for (const std::string* f :
       {&e.provider, &e.notification_id, &e.provider_event, &e.mchid, &e.appid, &e.out_trade_no,
        &e.transaction_id, &e.currency, &e.success_time, &e.out_refund_no, &e.refund_id}) {
    if (!core::is_valid_utf8(*f)) return false;
  }
  return true;
}

}  // namespace

void CallbackPipeline::handle(const providers::CallbackAdapter& adapter, const Identity& identity,
                              CallbackRequest request, ReplyFn reply) {
  const auto start = Clock::now();
  const std::string provider(adapter.provider());
  auto finish = [this, provider, start, merchant = identity.merchant,
                 request_id = request.request_id](
                    const ReplyFn& reply, providers::Reply r, std::string_view outcome,
                    std::string_view reason, const core::PaymentEvent* ev) {
    CallbackRecord rec{provider, merchant, request_id, start, std::string(outcome),
                       std::string(reason), "", ""};
    if (ev) {
      rec.notification_id = ev->notification_id;
      rec.out_trade_no = ev->out_trade_no;
    }
    answer(metrics_, reply, std::move(rec), std::move(r));
  };

  providers::InboundRequest in{"POST", request.target, request.headers, request.body};
  auto accepted = adapter.accept(in, clock_.now_unix());
  if (accepted && !is_text(accepted->event)) {
    accepted = core::fail(ErrorCode::kMalformed, "a notification field is not valid UTF-8");
  }
  if (!accepted) {
    const auto code = accepted.error().code;
    metrics_.rejections.inc({provider, std::string(core::to_string(code))});
    finish(reply, adapter.reply(code), "rejected", core::to_string(code), nullptr);
    return;
  }
  if (store_ == nullptr) {
    finish(reply, adapter.reply(providers::Outcome::kApplied), "verified", "", &accepted->event);
    return;
  }

  struct State {
    store::InboxEntry entry;
    core::PaymentEvent event;
    core::Result<Applied> applied = core::fail(ErrorCode::kInternal, "not run");
  };
  auto st = std::make_shared<State>();
  st->event = std::move(accepted->event);
  auto& e = st->entry;
  e.provider = provider;
  e.merchant = identity.merchant;
  e.notification_id = st->event.notification_id;
  e.business_key = st->event.business_key();
  e.event_type = st->event.provider_event;
  e.out_trade_no = st->event.out_trade_no;
  e.headers_json = headers_to_json(request.headers.fields());
  e.body = std::move(request.body);
  e.decoded_json = event_to_json(st->event);
  e.received_at_ms = clock_.now_ms();

  store_->submit(
      [st, &identity, now = e.received_at_ms](store::Tx& tx) -> core::Result<void> {
        st->applied = record_and_apply(tx, st->entry, st->event, identity, now);
        if (!st->applied) return tl::unexpected(st->applied.error());
        return {};
      },
      [this, st, &adapter, reply = std::move(reply), finish,
       provider](core::Result<void> committed) {
        if (!committed) {
          // Never acknowledge what is not durable: the provider retries (503 when shed).
          const bool shed = committed.error().code == ErrorCode::kOverloaded;
          finish(reply, adapter.reply(shed ? ErrorCode::kOverloaded : ErrorCode::kStoreUnavailable),
                 shed ? "shed" : "error", committed.error().detail, &st->event);
          return;
        }
        const auto& a = *st->applied;
        if (a.outcome == providers::Outcome::kAnomaly) {
          metrics_.anomalies.inc({provider, std::string(core::to_string(a.anomaly))});
        }
        finish(reply, adapter.reply(a.outcome), outcome_name(a.outcome),
               a.outcome == providers::Outcome::kApplied ? "" : a.detail, &st->event);
      });
}

void CallbackPipeline::redrive(int64_t inbox_id, const Identity& identity,
                               std::function<void(core::Result<Applied>)> done) {
  if (store_ == nullptr) {
    done(core::fail(ErrorCode::kStoreUnavailable, "verify-only mode"));
    return;
  }
  auto result = std::make_shared<core::Result<Applied>>(core::fail(ErrorCode::kInternal, ""));
  const int64_t now = clock_.now_ms();
  store_->submit(
      [result, inbox_id, &identity, now](store::Tx& tx) -> core::Result<void> {
        auto entry = tx.find_inbox(inbox_id);
        if (!entry) return tl::unexpected(entry.error());
        if (!*entry || (*entry)->merchant != identity.merchant) {
          *result = core::fail(ErrorCode::kNotFound, "no such inbox entry");
          return {};
        }
        if ((*entry)->status != store::InboxStatus::kAnomaly) {
          *result = core::fail(ErrorCode::kConflict, "only anomalies can be re-driven");
          return {};
        }
        auto ev = event_from_json((*entry)->decoded_json);
        if (!ev) {
          *result = tl::unexpected(ev.error());
          return {};
        }
        *result = apply_event(tx, inbox_id, *ev, identity, now);
        if (!*result) return tl::unexpected(result->error());
        return {};
      },
      [result, done = std::move(done)](core::Result<void> committed) {
        if (!committed) {
          done(tl::unexpected(committed.error()));
          return;
        }
        done(std::move(*result));
      });
}

}  // namespace paygate::pipeline

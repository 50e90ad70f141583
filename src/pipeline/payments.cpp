#include "pipeline/payments.hpp"

#include <nlohmann/json.hpp>

#include "obs/log.hpp"
#include "pipeline/event_json.hpp"
#include "pipeline/orders.hpp"

namespace paygate::pipeline {
namespace {

// WeChat Pay's limit; Alipay's is higher. A provider refuses past its own anyway.
constexpr int64_t kMaxRefundsPerOrder = 50;

using core::ErrorCode;
using core::fail;
using providers::AnswerKind;

// The merchant's request as stored: equal text means the identical call.
std::string request_json(const PaymentOrder& o) {
  const auto& r = o.request;
  nlohmann::ordered_json j;
  j["provider"] = o.provider;
  j["method"] = providers::to_string(r.method);
  j["amount"] = r.amount;
  j["currency"] = r.currency;
  j["description"] = r.description;
  if (r.expires_at) j["expires_at"] = *r.expires_at;
  j["attach"] = r.attach;
  j["appid"] = r.appid;
  j["payer_openid"] = r.payer_openid;
  j["client_ip"] = r.client_ip;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string fields_json(const providers::Fields& f) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [k, v] : f) j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

providers::Fields fields_of(const std::string& text) {
  providers::Fields out;
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!j.is_object()) return out;
  for (auto& [k, v] : j.items()) {
    if (v.is_string()) out.emplace_back(k, v.get<std::string>());
  }
  return out;
}

core::Error provider_error(const net::UpstreamResult& r) {
  switch (r.outcome) {
    case net::CallOutcome::kNotSent:
    case net::CallOutcome::kRateLimited:
      return {ErrorCode::kProviderUnavailable, "the provider could not be reached; nothing was sent"};
    case net::CallOutcome::kBuildFailed:
      return {ErrorCode::kInternal, "the request could not be signed"};
    default:
      return {ErrorCode::kProviderUnknown, "the provider gave no answer that can be believed"};
  }
}

// What a provider's answer (to a query or a call) leaves in the inbox: the raw answer, verified.
store::InboxEntry inbox_entry(const core::PaymentEvent& e, const std::string& merchant,
                              const net::HttpResponse& raw, std::string source, int64_t now_ms) {
  store::InboxEntry entry;
  entry.provider = e.provider;
  entry.merchant = merchant;
  entry.notification_id = e.notification_id;
  entry.business_key = e.business_key();
  entry.event_type = e.provider_event;
  entry.out_trade_no = e.out_trade_no;
  entry.headers_json = headers_to_json(raw.headers);
  entry.body = raw.body;
  entry.decoded_json = event_to_json(e);
  entry.received_at_ms = now_ms;
  entry.source = std::move(source);
  return entry;
}

std::string_view applied_name(providers::Outcome o) {
  switch (o) {
    case providers::Outcome::kApplied: return "applied";
    case providers::Outcome::kDuplicate: return "duplicate";
    case providers::Outcome::kAnomaly: return "anomaly";
  }
  return "";
}

std::string refund_json(const RefundCommand& c) {
  nlohmann::ordered_json j;
  j["out_trade_no"] = c.out_trade_no;
  j["amount"] = c.amount;
  j["reason"] = c.reason;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

core::Error answer_error(const providers::Answer& a) {
  const std::string what = a.code + (a.message.empty() ? "" : ": " + a.message);
  if (a.kind == AnswerKind::kRefused) return {ErrorCode::kProviderRefused, what};
  return {ErrorCode::kProviderUnknown, what};
}

}  // namespace

std::string_view to_string(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::kCreated: return "created";
    case PaymentStatus::kPending: return "pending";
    case PaymentStatus::kRefused: return "refused";
  }
  return "pending";
}

struct Payments::Create {
  PaymentOrder order;
  const ProviderLink* link = nullptr;
  std::string request;
  std::function<void(core::Result<PaymentResult>)> done;
  bool send = false;        // decided by the first unit: call the provider
  store::Payment payment;   // as stored
  core::Order stored_order;
  core::Result<void> failed = {};
};

struct Payments::Sync {
  std::string merchant;
  std::string out_trade_no;
  const ProviderLink* link = nullptr;
  store::OrderDetails before;
  bool closing = false;
  std::string trade_state;
  std::string applied;
  std::function<void(core::Result<SyncResult>)> done;
};

Payments::Payments(store::Store& store, const core::Clock& clock, obs::Metrics& metrics,
                   LinkOf links)
    : store_(store), clock_(clock), metrics_(metrics), links_(std::move(links)) {}

void Payments::observe(std::string_view provider, std::string_view operation,
                       std::string_view outcome, const net::UpstreamResult& r) {
  const std::string p(provider), op(operation);
  metrics_.provider_calls.inc({p, op, std::string(outcome)});
  metrics_.provider_call_seconds.observe({p, op}, std::chrono::duration<double>(r.elapsed).count());
  if (r.attempts > 0) metrics_.provider_call_attempts.inc({p, op}, r.attempts);
  if (r.failed_over) metrics_.provider_failovers.inc({p});
  obs::Log log(outcome == "ok" ? obs::Level::kInfo : obs::Level::kWarn, "provider call");
  log.str("provider", p).str("operation", op).str("outcome", outcome)
      .str("transport", net::to_string(r.outcome)).num("status", r.response.status)
      .num("attempts", r.attempts).num("elapsed_ms", r.elapsed.count());
  if (!r.error.empty()) log.str("error", r.error);
  if (!r.response.error.empty()) log.str("transport_error", r.response.error);
}

void Payments::create(PaymentOrder order, std::function<void(core::Result<PaymentResult>)> done) {
  NewOrder shape{order.merchant, order.request.out_trade_no, order.request.amount,
                 order.request.currency, order.request.description, order.request.expires_at};
  if (auto v = validate(shape); !v) return done(tl::unexpected(v.error()));
  const ProviderLink* link = links_(order.merchant, order.provider);
  if (link == nullptr) {
    return done(fail(ErrorCode::kInvalidArgument,
                     "provider is not configured for payments out for this merchant"));
  }
  if (!link->api->supports(order.request.method)) {
    return done(fail(ErrorCode::kInvalidArgument, "this provider has no such method"));
  }
  if (auto v = link->api->validate(order.request); !v) return done(tl::unexpected(v.error()));

  auto c = std::make_shared<Create>();
  c->link = link;
  c->request = request_json(order);
  c->order = std::move(order);
  c->done = std::move(done);
  const int64_t now = clock_.now_ms();
  store_.submit(
      [c, now](store::Tx& tx) -> core::Result<void> {
        const auto& req = c->order.request;
        auto found = tx.find_order(c->order.merchant, req.out_trade_no);
        if (!found) return tl::unexpected(found.error());
        auto payment = tx.find_payment(c->order.merchant, req.out_trade_no);
        if (!payment) return tl::unexpected(payment.error());
        if (*payment) {
          if ((*payment)->request != c->request) {
            c->failed = fail(ErrorCode::kConflict,
                             "out_trade_no was used for another payment request");
            return {};
          }
          c->payment = **payment;
          c->stored_order = found->value_or(core::Order{});
          const auto s = c->payment.status;
          if (s == store::PaymentStatus::kCreated || s == store::PaymentStatus::kRefused) {
            return {};  // answered before: the same answer again
          }
          // The outcome is unknown: the identical call again is how to learn it.
          c->send = true;
          c->payment.attempts += 1;
          c->payment.updated_at_ms = now;
          return tx.put_payment(c->payment);
        }
        if (*found) {
          const core::Order& o = **found;
          if (o.amount != req.amount || o.currency != req.currency) {
            c->failed = fail(ErrorCode::kConflict,
                             "out_trade_no is registered with another amount or currency");
            return {};
          }
          if (o.state != core::OrderState::kPending) {
            c->failed = fail(ErrorCode::kConflict, "the order is " +
                                                       std::string(core::to_string(o.state)));
            return {};
          }
          c->stored_order = o;
        } else {
          core::Order o;
          o.merchant = c->order.merchant;
          o.out_trade_no = req.out_trade_no;
          o.amount = req.amount;
          o.currency = req.currency;
          o.description = req.description;
          o.expires_at = req.expires_at;
          o.created_at_ms = o.updated_at_ms = now;
          auto inserted = tx.insert_order(o);
          if (!inserted) return tl::unexpected(inserted.error());
          c->stored_order = o;
        }
        store::Payment& p = c->payment;
        p.merchant = c->order.merchant;
        p.out_trade_no = req.out_trade_no;
        p.provider = c->order.provider;
        p.method = std::string(providers::to_string(req.method));
        p.request = c->request;
        p.status = store::PaymentStatus::kCreating;
        p.attempts = 1;
        p.created_at_ms = p.updated_at_ms = now;
        c->send = true;
        return tx.put_payment(p);
      },
      [this, c](core::Result<void> r) {
        if (!r) return c->done(tl::unexpected(r.error()));
        if (!c->failed) return c->done(tl::unexpected(c->failed.error()));
        if (c->send) return send_create(c);
        // A stored answer.
        PaymentResult out;
        out.details.order = c->stored_order;
        out.details.payment = c->payment;
        if (c->payment.status == store::PaymentStatus::kRefused) {
          out.status = PaymentStatus::kRefused;
          return c->done(std::move(out));
        }
        auto launch = c->link->api->launch(c->order.request, fields_of(c->payment.result),
                                           clock_.now_unix());
        if (!launch) return c->done(tl::unexpected(launch.error()));
        out.status = PaymentStatus::kCreated;
        out.launch = std::move(*launch);
        c->done(std::move(out));
      });
}

void Payments::send_create(std::shared_ptr<Create> c) {
  net::UpstreamCall call;
  call.operation = "create";
  // The same out_trade_no and body again is the same trade at the provider, but a create whose
  // first attempt may have landed is left to a query rather than repeated blindly.
  call.safety = net::RetrySafety::kIfNotSent;
  call.build = [c, this](std::string_view base) {
    return c->link->api->create_request(base, c->order.request, clock_.now_unix());
  };
  c->link->upstream->call(std::move(call), [this, c](net::UpstreamResult r) {
    record_create(c, std::move(r));
  });
}

void Payments::record_create(std::shared_ptr<Create> c, net::UpstreamResult r) {
  store::Payment& p = c->payment;
  const auto before = p.status;
  std::string outcome;
  if (r.outcome == net::CallOutcome::kAnswered) {
    auto a = c->link->api->read_create(c->order.request, r.response, clock_.now_unix());
    p.error_code = a.code;
    p.error_message = a.message;
    switch (a.kind) {
      case AnswerKind::kOk:
        p.status = store::PaymentStatus::kCreated;
        p.result = fields_json(a.result);
        break;
      case AnswerKind::kRefused: p.status = store::PaymentStatus::kRefused; break;
      default: p.status = store::PaymentStatus::kUnknown; break;
    }
    outcome = std::string(providers::to_string(a.kind));
  } else if (r.outcome == net::CallOutcome::kUnknown) {
    p.status = store::PaymentStatus::kUnknown;
    p.error_code = r.response.timed_out  ? "TIMEOUT"
                   : r.response.status ? "HTTP_" + std::to_string(r.response.status)
                                       : "NO_ANSWER";
    p.error_message.clear();
    outcome = "unknown";
  } else {
    // Certainly not sent (or not signed): nothing changed at the provider.
    p.status = before;
    outcome = std::string(net::to_string(r.outcome));
  }
  observe(p.provider, "create", outcome, r);
  const bool nothing_sent = r.outcome != net::CallOutcome::kAnswered &&
                            r.outcome != net::CallOutcome::kUnknown;
  if (nothing_sent) {
    return c->done(tl::unexpected(provider_error(r)));
  }
  p.updated_at_ms = clock_.now_ms();
  store_.submit(
      [c](store::Tx& tx) -> core::Result<void> {
        if (auto w = tx.put_payment(c->payment); !w) return w;
        auto o = tx.find_order(c->payment.merchant, c->payment.out_trade_no);
        if (!o) return tl::unexpected(o.error());
        if (*o) c->stored_order = **o;
        return {};
      },
      [this, c](core::Result<void> w) {
        if (!w) return c->done(tl::unexpected(w.error()));
        PaymentResult out;
        out.details.order = c->stored_order;
        out.details.payment = c->payment;
        switch (c->payment.status) {
          case store::PaymentStatus::kCreated: {
            auto launch = c->link->api->launch(c->order.request, fields_of(c->payment.result),
                                               clock_.now_unix());
            if (!launch) return c->done(tl::unexpected(launch.error()));
            out.status = PaymentStatus::kCreated;
            out.launch = std::move(*launch);
            break;
          }
          case store::PaymentStatus::kRefused: out.status = PaymentStatus::kRefused; break;
          default: out.status = PaymentStatus::kPending; break;
        }
        c->done(std::move(out));
      });
}

std::shared_ptr<Payments::Sync> Payments::begin(std::string merchant, std::string out_trade_no,
                                              std::function<void(core::Result<SyncResult>)> done,
                                              bool closing) {
  auto s = std::make_shared<Sync>();
  s->merchant = std::move(merchant);
  s->out_trade_no = std::move(out_trade_no);
  s->closing = closing;
  s->done = std::move(done);
  auto d = store_.order_details(s->merchant, s->out_trade_no);
  if (!d) return s->done(tl::unexpected(d.error())), nullptr;
  if (!*d) return s->done(fail(ErrorCode::kNotFound, "no such order")), nullptr;
  s->before = std::move(**d);
  const auto state = s->before.order.state;
  if (closing && state == core::OrderState::kClosed) {
    SyncResult out;
    out.details = s->before;
    out.applied = "duplicate";
    return s->done(std::move(out)), nullptr;
  }
  if (closing && state != core::OrderState::kPending) {
    return s->done(fail(ErrorCode::kConflict,
                        "the order is " + std::string(core::to_string(state)))),
           nullptr;
  }
  // A registered order paid through a provider can be asked about too; a close needs the
  // payment paygate created.
  const std::string provider = s->before.payment ? s->before.payment->provider
                               : closing         ? std::string()
                                                 : s->before.order.provider;
  if (provider.empty()) {
    return s->done(fail(ErrorCode::kConflict,
                        "no payment was created at a provider for this order")),
           nullptr;
  }
  s->link = links_(s->merchant, provider);
  if (s->link == nullptr) {
    return s->done(fail(ErrorCode::kConflict, "provider is not configured for payments out")),
           nullptr;
  }
  return s;
}

void Payments::sync(std::string merchant, std::string out_trade_no,
                    std::function<void(core::Result<SyncResult>)> done) {
  if (auto s = begin(std::move(merchant), std::move(out_trade_no), std::move(done), false)) {
    send_query(std::move(s));
  }
}

void Payments::send_query(std::shared_ptr<Sync> s) {
  net::UpstreamCall call;
  call.operation = "query";
  call.safety = net::RetrySafety::kAlways;
  call.build = [s, this](std::string_view base) {
    return s->link->api->query_request(base, s->out_trade_no, clock_.now_unix());
  };
  s->link->upstream->call(std::move(call), [this, s](net::UpstreamResult r) {
    const std::string provider(s->link->api->provider());
    if (r.outcome != net::CallOutcome::kAnswered) {
      observe(provider, "query", net::to_string(r.outcome), r);
      return s->done(tl::unexpected(provider_error(r)));
    }
    auto a = s->link->api->read_query(s->out_trade_no, r.response, clock_.now_unix());
    observe(provider, "query", providers::to_string(a.kind), r);
    if (a.kind == AnswerKind::kNotFound) {
      s->trade_state = "NOT_FOUND";
      return apply_answer(s, std::nullopt, "query", r.response);
    }
    if (a.kind != AnswerKind::kOk) return s->done(tl::unexpected(answer_error(a)));
    s->trade_state = a.trade_state;
    apply_answer(s, std::move(a.event), "query", r.response);
  });
}

void Payments::close(std::string merchant, std::string out_trade_no,
                     std::function<void(core::Result<SyncResult>)> done) {
  if (auto s = begin(std::move(merchant), std::move(out_trade_no), std::move(done), true)) {
    send_close(std::move(s));
  }
}

void Payments::send_close(std::shared_ptr<Sync> s) {
  net::UpstreamCall call;
  call.operation = "close";
  call.safety = net::RetrySafety::kAlways;  // closing a closed trade changes nothing
  call.build = [s, this](std::string_view base) {
    return s->link->api->close_request(base, s->out_trade_no, clock_.now_unix());
  };
  s->link->upstream->call(std::move(call), [this, s](net::UpstreamResult r) {
    const std::string provider(s->link->api->provider());
    if (r.outcome != net::CallOutcome::kAnswered) {
      observe(provider, "close", net::to_string(r.outcome), r);
      return s->done(tl::unexpected(provider_error(r)));
    }
    auto a = s->link->api->read_close(r.response, clock_.now_unix());
    observe(provider, "close", providers::to_string(a.kind), r);
    if (a.kind == AnswerKind::kRefused) {
      // Paid (or otherwise not closable) meanwhile: learn what the trade is, and say so.
      s->closing = false;
      auto refused = std::make_shared<core::Error>(answer_error(a));
      auto done = s->done;
      s->done = [done, refused](core::Result<SyncResult> q) {
        if (q && q->details.order.state == core::OrderState::kClosed) return done(std::move(q));
        if (q) {
          refused->code = ErrorCode::kConflict;
          refused->detail = "the provider refused to close (" + refused->detail +
                            "); the order is " +
                            std::string(core::to_string(q->details.order.state));
        }
        done(tl::unexpected(*refused));
      };
      return send_query(s);
    }
    if (a.kind == AnswerKind::kUnknown) return s->done(tl::unexpected(answer_error(a)));
    // Closed there, or never there (a create that did not land): closed here too.
    s->trade_state = a.kind == AnswerKind::kNotFound ? "NOT_FOUND" : "CLOSED";
    core::PaymentEvent e;
    e.kind = core::EventKind::kPaymentClosed;
    e.provider = provider;
    e.provider_event = "CLOSE";
    e.mchid = s->link->identity.provider_mchid;
    e.out_trade_no = s->out_trade_no;
    e.total = s->before.order.amount;
    e.currency = s->before.order.currency;
    e.notification_id = "close:" + e.business_key();
    apply_answer(s, std::move(e), "api", r.response);
  });
}

void Payments::apply_answer(std::shared_ptr<Sync> s, std::optional<core::PaymentEvent> event,
                            std::string source, const net::HttpResponse& raw) {
  const int64_t now = clock_.now_ms();
  auto entry = std::make_shared<store::InboxEntry>();
  if (event) *entry = inbox_entry(*event, s->merchant, raw, std::move(source), now);
  auto ev = std::make_shared<std::optional<core::PaymentEvent>>(std::move(event));
  store_.submit(
      [s, entry, ev, now](store::Tx& tx) -> core::Result<void> {
        if (*ev) {
          auto applied = record_and_apply(tx, *entry, **ev, s->link->identity, now);
          if (!applied) return tl::unexpected(applied.error());
          s->applied = applied_name(applied->outcome);
        }
        auto p = tx.find_payment(s->merchant, s->out_trade_no);
        if (!p) return tl::unexpected(p.error());
        if (*p) {
          (*p)->trade_state = s->trade_state;
          (*p)->updated_at_ms = now;
          return tx.put_payment(**p);
        }
        return {};
      },
      [this, s](core::Result<void> r) {
        if (!r) return s->done(tl::unexpected(r.error()));
        auto d = store_.order_details(s->merchant, s->out_trade_no);
        if (!d) return s->done(tl::unexpected(d.error()));
        if (!*d) return s->done(fail(ErrorCode::kNotFound, "no such order"));
        SyncResult out;
        out.details = std::move(**d);
        out.trade_state = s->trade_state;
        out.applied = s->applied;
        s->done(std::move(out));
      });
}

struct Payments::RefundRun {
  RefundCommand command;
  std::string request;
  const ProviderLink* link = nullptr;
  providers::RefundOrder order;  // what the provider is asked
  store::RefundRequest record;
  store::RefundDetails details;
  core::Order stored_order;
  bool send = false;
  std::string applied;
  core::Result<void> failed = {};
  std::function<void(core::Result<RefundResult>)> done;

  void answer(PaymentStatus status) {
    RefundResult out;
    out.status = status;
    out.details = details;
    out.order = stored_order;
    out.applied = applied;
    done(std::move(out));
  }
};

namespace {

PaymentStatus merchant_status(store::PaymentStatus s) {
  switch (s) {
    case store::PaymentStatus::kCreated: return PaymentStatus::kCreated;
    case store::PaymentStatus::kRefused: return PaymentStatus::kRefused;
    default: return PaymentStatus::kPending;
  }
}

}  // namespace

void Payments::refund(RefundCommand command,
                      std::function<void(core::Result<RefundResult>)> done) {
  NewOrder shape{command.merchant, command.out_trade_no, 1, "CNY", "", std::nullopt};
  if (auto v = validate(shape); !v) return done(tl::unexpected(v.error()));
  NewOrder refund_id{command.merchant, command.out_refund_no, 1, "CNY", "", std::nullopt};
  if (auto v = validate(refund_id); !v) {
    return done(fail(ErrorCode::kInvalidArgument,
                     "out_refund_no must be 1-64 printable ASCII characters without '/'"));
  }
  if (command.amount <= 0) return done(fail(ErrorCode::kInvalidArgument, "amount must be positive"));
  auto r = std::make_shared<RefundRun>();
  r->request = refund_json(command);
  r->command = std::move(command);
  r->done = std::move(done);
  const int64_t now = clock_.now_ms();
  store_.submit(
      [this, r, now](store::Tx& tx) -> core::Result<void> {
        const auto& c = r->command;
        auto order = tx.find_order(c.merchant, c.out_trade_no);
        if (!order) return tl::unexpected(order.error());
        if (!*order) {
          r->failed = fail(ErrorCode::kNotFound, "no such order");
          return {};
        }
        r->stored_order = **order;
        const core::Order& o = r->stored_order;
        r->link = links_(c.merchant, o.provider);
        auto existing = tx.find_refund_request(c.merchant, c.out_refund_no);
        if (!existing) return tl::unexpected(existing.error());
        auto ledger = tx.find_refund(c.merchant, c.out_refund_no);
        if (!ledger) return tl::unexpected(ledger.error());
        if (*existing) {
          if ((*existing)->request != r->request) {
            r->failed = fail(ErrorCode::kConflict, "out_refund_no was used for another refund");
            return {};
          }
          r->record = **existing;
          if (*ledger) r->details.refund = **ledger;
          r->details.request = r->record;
          const auto st = r->record.status;
          if (st == store::PaymentStatus::kCreated || st == store::PaymentStatus::kRefused) {
            return {};
          }
          r->send = r->link != nullptr;
          r->record.attempts += 1;
          r->record.updated_at_ms = now;
          return tx.put_refund_request(r->record);
        }
        if (*ledger) {
          r->failed = fail(ErrorCode::kConflict, "out_refund_no is already a refund of this merchant");
          return {};
        }
        if (!core::is_paid(o.state)) {
          r->failed = fail(ErrorCode::kConflict,
                           "the order is " + std::string(core::to_string(o.state)));
          return {};
        }
        if (r->link == nullptr) {
          r->failed = fail(ErrorCode::kConflict,
                           "the order was paid through a provider not configured for payments out");
          return {};
        }
        auto totals = tx.refund_totals(c.merchant, c.out_trade_no);
        if (!totals) return tl::unexpected(totals.error());
        if (totals->count >= kMaxRefundsPerOrder) {
          r->failed = fail(ErrorCode::kConflict, "the order has the most refunds a provider allows");
          return {};
        }
        const int64_t left = o.amount - o.refunded - totals->processing;
        if (c.amount > left) {
          r->failed = fail(ErrorCode::kConflict,
                           "refund exceeds what is left to refund (" + std::to_string(left) +
                               " of " + std::to_string(o.amount) + ", " +
                               std::to_string(totals->processing) + " being refunded)");
          return {};
        }
        core::Refund held{c.merchant, c.out_trade_no,       c.out_refund_no, "",
                          c.amount,   core::RefundStatus::kProcessing, ""};
        if (auto w = tx.upsert_refund(held); !w) return w;
        r->details.refund = held;
        store::RefundRequest& q = r->record;
        q.merchant = c.merchant;
        q.out_refund_no = c.out_refund_no;
        q.out_trade_no = c.out_trade_no;
        q.provider = o.provider;
        q.request = r->request;
        q.status = store::PaymentStatus::kCreating;
        q.attempts = 1;
        q.created_at_ms = q.updated_at_ms = now;
        r->details.request = q;
        r->send = true;
        return tx.put_refund_request(q);
      },
      [this, r](core::Result<void> w) {
        if (!w) return r->done(tl::unexpected(w.error()));
        if (!r->failed) return r->done(tl::unexpected(r->failed.error()));
        if (!r->send) return r->answer(merchant_status(r->record.status));
        const auto& c = r->command;
        r->order = {c.out_trade_no, c.out_refund_no, c.amount, r->stored_order.amount,
                    r->stored_order.currency, c.reason};
        if (auto v = r->link->api->validate_refund(r->order); !v) {
          return r->done(tl::unexpected(v.error()));
        }
        send_refund(r, false);
      });
}

void Payments::refund_sync(std::string merchant, std::string out_refund_no,
                           std::function<void(core::Result<RefundResult>)> done) {
  auto d = store_.refund_details(merchant, out_refund_no);
  if (!d) return done(tl::unexpected(d.error()));
  if (!*d) return done(fail(ErrorCode::kNotFound, "no such refund"));
  auto o = store_.order_details(merchant, (*d)->refund.out_trade_no);
  if (!o) return done(tl::unexpected(o.error()));
  if (!*o) return done(fail(ErrorCode::kNotFound, "no such order"));
  auto r = std::make_shared<RefundRun>();
  r->command = {merchant, (*d)->refund.out_trade_no, out_refund_no, (*d)->refund.amount, ""};
  r->details = std::move(**d);
  if (r->details.request) r->record = *r->details.request;
  r->stored_order = (*o)->order;
  r->link = links_(merchant, r->record.provider.empty() ? r->stored_order.provider
                                                        : r->record.provider);
  r->done = std::move(done);
  if (r->link == nullptr) {
    return r->done(fail(ErrorCode::kConflict, "provider is not configured for payments out"));
  }
  send_refund(r, true);
}

void Payments::send_refund(std::shared_ptr<RefundRun> r, bool query) {
  net::UpstreamCall call;
  call.operation = query ? "refund_query" : "refund";
  // The same out_refund_no is the same refund at the provider: a repeat cannot refund twice.
  call.safety = net::RetrySafety::kAlways;
  call.build = [r, query, this](std::string_view base) {
    return query ? r->link->api->refund_query_request(base, r->command.out_refund_no,
                                                      clock_.now_unix())
                 : r->link->api->refund_request(base, r->order, clock_.now_unix());
  };
  r->link->upstream->call(std::move(call), [this, r, query](net::UpstreamResult result) {
    record_refund(r, query, std::move(result));
  });
}

void Payments::record_refund(std::shared_ptr<RefundRun> r, bool query, net::UpstreamResult res) {
  const std::string provider(r->link->api->provider());
  const std::string operation = query ? "refund_query" : "refund";
  std::optional<core::PaymentEvent> event;
  auto& q = r->record;
  bool refused = false;
  if (res.outcome == net::CallOutcome::kAnswered) {
    auto a = r->link->api->read_refund(r->command.out_refund_no, res.response, clock_.now_unix());
    observe(provider, operation, providers::to_string(a.kind), res);
    if (query && a.kind != AnswerKind::kOk && a.kind != AnswerKind::kNotFound) {
      return r->done(tl::unexpected(answer_error(a)));
    }
    if (!query) {
      q.error_code = a.code;
      q.error_message = a.message;
    }
    switch (a.kind) {
      case AnswerKind::kOk:
        if (!query || q.status != store::PaymentStatus::kRefused) q.status = store::PaymentStatus::kCreated;
        q.refund_status = a.refund_status;
        event = std::move(a.event);
        break;
      case AnswerKind::kNotFound:
        if (query) {
          q.refund_status = "NOT_FOUND";
          break;
        }
        [[fallthrough]];
      case AnswerKind::kRefused:
        q.status = store::PaymentStatus::kRefused;
        refused = true;
        break;
      case AnswerKind::kUnknown: q.status = store::PaymentStatus::kUnknown; break;
    }
  } else {
    observe(provider, operation, net::to_string(res.outcome), res);
    if (query || res.outcome != net::CallOutcome::kUnknown) {
      return r->done(tl::unexpected(provider_error(res)));
    }
    q.status = store::PaymentStatus::kUnknown;
    q.error_code = res.response.timed_out ? "TIMEOUT" : "NO_ANSWER";
  }
  const int64_t now = clock_.now_ms();
  q.updated_at_ms = now;
  auto entry = std::make_shared<store::InboxEntry>();
  if (event) *entry = inbox_entry(*event, r->command.merchant, res.response, query ? "query" : "api", now);
  auto ev = std::make_shared<std::optional<core::PaymentEvent>>(std::move(event));
  store_.submit(
      [r, entry, ev, refused, now](store::Tx& tx) -> core::Result<void> {
        const auto& c = r->command;
        if (*ev) {
          auto applied = record_and_apply(tx, *entry, **ev, r->link->identity, now);
          if (!applied) return tl::unexpected(applied.error());
          r->applied = applied_name(applied->outcome);
        }
        if (refused) {
          // Never made at the provider: the held amount is released.
          auto held = tx.find_refund(c.merchant, c.out_refund_no);
          if (!held) return tl::unexpected(held.error());
          if (*held && (*held)->status == core::RefundStatus::kProcessing) {
            (*held)->status = core::RefundStatus::kClosed;
            if (auto w = tx.upsert_refund(**held); !w) return w;
          }
        }
        if (!r->record.merchant.empty()) {
          if (auto w = tx.put_refund_request(r->record); !w) return w;
        }
        auto ledger = tx.find_refund(c.merchant, c.out_refund_no);
        if (!ledger) return tl::unexpected(ledger.error());
        if (*ledger) r->details.refund = **ledger;
        if (!r->record.merchant.empty()) r->details.request = r->record;
        auto o = tx.find_order(c.merchant, c.out_trade_no);
        if (!o) return tl::unexpected(o.error());
        if (*o) r->stored_order = **o;
        return {};
      },
      [r](core::Result<void> w) {
        if (!w) return r->done(tl::unexpected(w.error()));
        r->answer(merchant_status(r->record.status));
      });
}

}  // namespace paygate::pipeline

#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "net/upstream.hpp"
#include "obs/metrics.hpp"
#include "pipeline/apply.hpp"
#include "providers/payments.hpp"
#include "store/store.hpp"

// Payments out: create, query and close a payment at the provider. Every decision is durable
// before anyone hears of it, an unknown outcome stays "pending" until a query tells, and a
// provider's answer changes an order only through the callback pipeline's apply (inbox source
// "query" or "api"), so the same fact learnt twice is applied once.
namespace paygate::pipeline {

// One merchant's way to one provider's API.
struct ProviderLink {
  std::shared_ptr<const providers::PaymentApi> api;
  std::shared_ptr<net::Upstream> upstream;
  Identity identity;  // the checks an answer's payload passes, as a callback's would
};

using LinkOf =
    std::function<const ProviderLink*(std::string_view merchant, std::string_view provider)>;

struct PaymentOrder {
  std::string merchant;
  std::string provider;  // "wechatpay_v3", ...
  providers::PaymentRequest request;
};

// How a create call ended, in the merchant's terms.
enum class PaymentStatus {
  kCreated,  // the buyer can pay: `launch` holds what the front end needs
  kPending,  // the outcome is unknown: a sync (query) tells; never a failure
  kRefused,  // the provider said no; nothing exists there and the order is still payable anew
};
std::string_view to_string(PaymentStatus s);

struct PaymentResult {
  PaymentStatus status = PaymentStatus::kPending;
  store::OrderDetails details;  // the order and its payment as stored (durable)
  providers::Fields launch;
};

struct SyncResult {
  store::OrderDetails details;
  std::string trade_state;  // the provider's word, "NOT_FOUND" when it has no such trade
  std::string applied;      // "applied", "duplicate", "anomaly" or "" when nothing was final
};

struct RefundCommand {
  std::string merchant;
  std::string out_trade_no;
  std::string out_refund_no;
  int64_t amount = 0;
  std::string reason;
};

struct RefundResult {
  PaymentStatus status = PaymentStatus::kPending;  // how the refund call ended
  store::RefundDetails details;                    // the ledger entry and the request
  core::Order order;                               // after anything applied
  std::string applied;  // "applied", "duplicate", "anomaly" or "" when nothing was final
};

class Payments {
 public:
  Payments(store::Store& store, const core::Clock& clock, obs::Metrics& metrics, LinkOf links);

  // Creates the order (or takes the registered one) and its payment at the provider. The same
  // request again returns the stored answer, or re-sends the identical call while the outcome
  // is unknown; another request for the same out_trade_no is a conflict, unless the provider
  // refused the first (nothing exists there).
  void create(PaymentOrder order, std::function<void(core::Result<PaymentResult>)> done);
  // Asks the provider for the trade now; a final state is applied like a callback.
  void sync(std::string merchant, std::string out_trade_no,
            std::function<void(core::Result<SyncResult>)> done);
  // Closes the trade at the provider, then the order (a trade the provider never had is closed
  // here alone). A trade found paid is applied as paid and the close refused.
  void close(std::string merchant, std::string out_trade_no,
             std::function<void(core::Result<SyncResult>)> done);
  // Refunds part of a paid order. The amount is checked against the ledger (what was paid,
  // refunded and is being refunded) and held in the same transaction, before the provider is
  // asked; the same request again returns the stored answer or re-sends the identical call
  // while its outcome is unknown (same out_refund_no: never a second refund).
  void refund(RefundCommand command, std::function<void(core::Result<RefundResult>)> done);
  // Asks the provider for the refund now; a final state is applied like a callback.
  void refund_sync(std::string merchant, std::string out_refund_no,
                   std::function<void(core::Result<RefundResult>)> done);

 private:
  struct Create;
  struct Sync;
  struct RefundRun;
  void send_refund(std::shared_ptr<RefundRun> r, bool query);
  void record_refund(std::shared_ptr<RefundRun> r, bool query, net::UpstreamResult result);
  // The order and the link a sync or close works with; null after answering `done` itself.
  std::shared_ptr<Sync> begin(std::string merchant, std::string out_trade_no,
                              std::function<void(core::Result<SyncResult>)> done, bool closing);
  void send_create(std::shared_ptr<Create> c);
  void record_create(std::shared_ptr<Create> c, net::UpstreamResult r);
  void send_query(std::shared_ptr<Sync> s);
  void send_close(std::shared_ptr<Sync> s);
  // Applies `event` (from a query or an API answer) and records the trade state, then answers.
  void apply_answer(std::shared_ptr<Sync> s, std::optional<core::PaymentEvent> event,
                    std::string source, const net::HttpResponse& raw);
  void observe(std::string_view provider, std::string_view operation, std::string_view outcome,
               const net::UpstreamResult& r);

  store::Store& store_;
  const core::Clock& clock_;
  obs::Metrics& metrics_;
  LinkOf links_;
};

}  // namespace paygate::pipeline

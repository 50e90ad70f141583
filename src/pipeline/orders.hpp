#pragma once
#include <functional>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/order.hpp"
#include "pipeline/apply.hpp"
#include "store/store.hpp"

namespace paygate::pipeline {

struct NewOrder {
  std::string merchant;
  std::string out_trade_no;
  int64_t amount = 0;
  std::string currency = "CNY";
  std::string description;
  std::optional<int64_t> expires_at;
};

struct Registered {
  core::Order order;  // as stored after the registration (and any callback it released)
  bool created = false;  // false: an identical earlier registration was returned
  int released = 0;      // callbacks that had arrived first and were applied now
};

// The merchant's identity at a provider ("wechatpay_v3", ...); null when not configured.
using IdentityOf = std::function<const Identity*(std::string_view provider)>;

// Validates a registration: non-empty ids of at most 64 printable chars, positive amount,
// ISO-4217-shaped currency. kInvalidArgument with a message safe to show the caller.
[[nodiscard]] core::Result<void> validate(const NewOrder& o);

// Registers an order in PENDING, idempotently: the identical request returns the same order;
// the same out_trade_no with other content fails with kConflict.
// Callbacks for this order that arrived before it (held as unknown_order anomalies) are
// applied in the same transaction, when `identity_of` knows their provider.
void register_order(store::Store& store, const core::Clock& clock, NewOrder order,
                    std::function<void(core::Result<Registered>)> done,
                    IdentityOf identity_of = {});

// Completes once a heartbeat write is durable: the store is ready for callbacks.
void check_ready(store::Store& store, const core::Clock& clock,
                 std::function<void(core::Result<void>)> done);

}  // namespace paygate::pipeline

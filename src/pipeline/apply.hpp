#pragma once
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/order.hpp"
#include "providers/provider.hpp"
#include "store/store.hpp"

namespace paygate::pipeline {

// Who the merchant is at the provider; a payload naming anyone else is an anomaly.
struct Identity {
  std::string merchant;  // paygate's merchant id
  std::string provider_mchid;
  std::vector<std::string> appids;
};

struct Applied {
  providers::Outcome outcome = providers::Outcome::kApplied;
  int64_t inbox_id = 0;
  core::ErrorCode anomaly = core::ErrorCode::kInternal;  // set when outcome is kAnomaly
  std::string detail;                                    // log-only
};

// Inside one transaction: dedupe on the inbox, then apply. Duplicates have no effect.
[[nodiscard]] core::Result<Applied> record_and_apply(store::Tx& tx, const store::InboxEntry& entry,
                                                     const core::PaymentEvent& event,
                                                     const Identity& identity, int64_t now_ms);

// Applies an event already in the inbox (first delivery or re-drive of an anomaly).
[[nodiscard]] core::Result<Applied> apply_event(store::Tx& tx, int64_t inbox_id,
                                                const core::PaymentEvent& event,
                                                const Identity& identity, int64_t now_ms);

}  // namespace paygate::pipeline

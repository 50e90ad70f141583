#pragma once
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/order.hpp"
#include "store/store.hpp"

namespace paygate::pipeline {

// The provider-neutral event as stored in the inbox for re-drive (no personal data).
std::string event_to_json(const core::PaymentEvent& e);
[[nodiscard]] core::Result<core::PaymentEvent> event_from_json(std::string_view json);

// The body merchants receive for an outbox event.
std::string outbox_payload(std::string_view type, const core::Order& order,
                           const core::PaymentEvent& e);

// API views.
std::string order_to_json(const store::OrderDetails& d);
std::string order_to_json(const core::Order& o);
std::string inbox_to_json(const store::InboxEntry& e);

}  // namespace paygate::pipeline

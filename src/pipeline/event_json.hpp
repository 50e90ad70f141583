#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/order.hpp"
#include "store/store.hpp"

namespace paygate::pipeline {

// The provider-neutral event as stored in the inbox for re-drive (no personal data).
std::string event_to_json(const core::PaymentEvent& e);
// Header fields as one JSON object, in arrival order (as the inbox keeps them).
std::string headers_to_json(const std::vector<std::pair<std::string, std::string>>& fields);
[[nodiscard]] core::Result<core::PaymentEvent> event_from_json(std::string_view json);

// The body merchants receive for an outbox event.
std::string outbox_payload(std::string_view type, const core::Order& order,
                           const core::PaymentEvent& e);

// API views.
std::string order_to_json(const store::OrderDetails& d);
std::string order_to_json(const core::Order& o);
std::string inbox_to_json(const store::InboxEntry& e);

}  // namespace paygate::pipeline

#include "pipeline/event_json.hpp"

#include <nlohmann/json.hpp>

namespace paygate::pipeline {

using nlohmann::json;

namespace {

std::optional<core::EventKind> parse_kind(const std::string& s) {
  for (auto k : {core::EventKind::kPaymentSucceeded, core::EventKind::kPaymentClosed,
                 core::EventKind::kRefundSucceeded, core::EventKind::kRefundAbnormal,
                 core::EventKind::kRefundClosed}) {
    if (core::to_string(k) == s) return k;
  }
  return std::nullopt;
}

json order_json(const core::Order& o) {
  json j = {{"merchant", o.merchant},
            {"out_trade_no", o.out_trade_no},
            {"amount", o.amount},
            {"currency", o.currency},
            {"description", o.description},
            {"state", core::to_string(o.state)},
            {"refunded", o.refunded},
            {"created_at", o.created_at_ms / 1000},
            {"updated_at", o.updated_at_ms / 1000}};
  j["expires_at"] = o.expires_at ? json(*o.expires_at) : json(nullptr);
  j["provider"] = o.provider.empty() ? json(nullptr) : json(o.provider);
  j["transaction_id"] = o.transaction_id.empty() ? json(nullptr) : json(o.transaction_id);
  j["paid_at"] = o.paid_at.empty() ? json(nullptr) : json(o.paid_at);
  return j;
}

}  // namespace

std::string event_to_json(const core::PaymentEvent& e) {
  json j = {{"kind", core::to_string(e.kind)},   {"provider", e.provider},
            {"notification_id", e.notification_id}, {"provider_event", e.provider_event},
            {"mchid", e.mchid},                  {"appid", e.appid},
            {"out_trade_no", e.out_trade_no},    {"transaction_id", e.transaction_id},
            {"total", e.total},                  {"currency", e.currency},
            {"success_time", e.success_time},    {"out_refund_no", e.out_refund_no},
            {"refund_id", e.refund_id},          {"refund_amount", e.refund_amount}};
  return j.dump();
}

core::Result<core::PaymentEvent> event_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return core::fail(core::ErrorCode::kMalformed, "stored event is not JSON");
  }
  core::PaymentEvent e;
  auto kind = parse_kind(j.value("kind", ""));
  if (!kind) return core::fail(core::ErrorCode::kMalformed, "stored event has no kind");
  e.kind = *kind;
  e.provider = j.value("provider", "");
  e.notification_id = j.value("notification_id", "");
  e.provider_event = j.value("provider_event", "");
  e.mchid = j.value("mchid", "");
  e.appid = j.value("appid", "");
  e.out_trade_no = j.value("out_trade_no", "");
  e.transaction_id = j.value("transaction_id", "");
  e.total = j.value("total", int64_t{0});
  e.currency = j.value("currency", "");
  e.success_time = j.value("success_time", "");
  e.out_refund_no = j.value("out_refund_no", "");
  e.refund_id = j.value("refund_id", "");
  e.refund_amount = j.value("refund_amount", int64_t{0});
  return e;
}

std::string outbox_payload(std::string_view type, const core::Order& order,
                           const core::PaymentEvent& e) {
  json j = {{"type", type}, {"order", order_json(order)}, {"provider", e.provider},
            {"notification_id", e.notification_id}};
  if (e.kind == core::EventKind::kRefundSucceeded || e.kind == core::EventKind::kRefundAbnormal ||
      e.kind == core::EventKind::kRefundClosed) {
    j["refund"] = {{"out_refund_no", e.out_refund_no},
                   {"refund_id", e.refund_id},
                   {"amount", e.refund_amount},
                   {"success_time", e.success_time}};
  }
  return j.dump();
}

std::string order_to_json(const core::Order& o) { return order_json(o).dump(); }

std::string order_to_json(const store::OrderDetails& d) {
  json j = order_json(d.order);
  json refunds = json::array();
  for (const auto& r : d.refunds) {
    refunds.push_back({{"out_refund_no", r.out_refund_no},
                       {"refund_id", r.refund_id},
                       {"amount", r.amount},
                       {"status", core::to_string(r.status)},
                       {"success_time", r.success_time}});
  }
  json history = json::array();
  for (const auto& t : d.history) {
    history.push_back({{"from", t.from_state},
                       {"to", t.to_state},
                       {"event", t.event},
                       {"at", t.at_ms / 1000},
                       {"inbox_id", t.inbox_id == 0 ? json(nullptr) : json(t.inbox_id)}});
  }
  j["refunds"] = std::move(refunds);
  j["history"] = std::move(history);
  return j.dump();
}

std::string inbox_to_json(const store::InboxEntry& e) {
  json j = {{"id", e.id},
            {"provider", e.provider},
            {"merchant", e.merchant},
            {"notification_id", e.notification_id},
            {"event_type", e.event_type},
            {"out_trade_no", e.out_trade_no},
            {"status", store::to_string(e.status)},
            {"anomaly", e.anomaly_code},
            {"detail", e.detail},
            {"received_at", e.received_at_ms / 1000}};
  return j.dump();
}

}  // namespace paygate::pipeline

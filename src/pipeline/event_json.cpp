#include "pipeline/event_json.hpp"

#include <nlohmann/json.hpp>

#include "core/json_out.hpp"

namespace paygate::pipeline {

using nlohmann::json;

namespace {

std::optional<core::EventKind> parse_kind(const std::string& s) {
  for (auto k : {core::EventKind::kPaymentSucceeded, core::EventKind::kPaymentClosed,
                 core::EventKind::kPaymentWaiting,
                 core::EventKind::kRefundSucceeded, core::EventKind::kRefundAbnormal,
                 core::EventKind::kRefundClosed, core::EventKind::kUnsupported}) {
    if (core::to_string(k) == s) return k;
  }
  return std::nullopt;
}

void write_order(core::JsonOut& j, const core::Order& o) {
  j.str("merchant", o.merchant)
      .str("out_trade_no", o.out_trade_no)
      .num("amount", o.amount)
      .str("currency", o.currency)
      .str("description", o.description)
      .str("state", core::to_string(o.state))
      .num("refunded", o.refunded)
      .num("created_at", o.created_at_ms / 1000)
      .num("updated_at", o.updated_at_ms / 1000);
  if (o.expires_at) {
    j.num("expires_at", *o.expires_at);
  } else {
    j.null("expires_at");
  }
  j.str_or_null("provider", o.provider)
      .str_or_null("transaction_id", o.transaction_id)
      .str_or_null("paid_at", o.paid_at);
}


}  // namespace

std::string headers_to_json(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) out += ',';
    first = false;
    core::append_json_string(out, name);
    out += ':';
    core::append_json_string(out, value);
  }
  out += '}';
  return out;
}

std::string event_to_json(const core::PaymentEvent& e) {
  core::JsonOut j;
  j.begin_object()
      .str("kind", core::to_string(e.kind))
      .str("provider", e.provider)
      .str("notification_id", e.notification_id)
      .str("provider_event", e.provider_event)
      .str("mchid", e.mchid)
      .str("appid", e.appid)
      .str("out_trade_no", e.out_trade_no)
      .str("transaction_id", e.transaction_id)
      .num("total", e.total)
      .str("currency", e.currency)
      .str("success_time", e.success_time)
      .str("out_refund_no", e.out_refund_no)
      .str("refund_id", e.refund_id)
      .num("refund_amount", e.refund_amount);
  if (e.refund_cumulative) j.num("refund_cumulative", 1);
  j.end_object();
  return j.take();
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
  e.refund_cumulative = j.value("refund_cumulative", int64_t{0}) == 1;
  return e;
}

std::string outbox_payload(std::string_view type, const core::Order& order,
                           const core::PaymentEvent& e) {
  core::JsonOut j;
  j.begin_object().str("type", type).begin_object("order");
  write_order(j, order);
  j.end_object().str("provider", e.provider).str("notification_id", e.notification_id);
  if (core::is_refund(e.kind)) {
    j.begin_object("refund")
        .str("out_refund_no", e.out_refund_no)
        .str("refund_id", e.refund_id)
        .num("amount", e.refund_amount)
        .str("success_time", e.success_time)
        .end_object();
  }
  if (type == "order.double_payment") {
    j.begin_object("payment")
        .str("transaction_id", e.transaction_id)
        .num("amount", e.total)
        .str("success_time", e.success_time)
        .end_object();
  }
  j.end_object();
  return j.take();
}

std::string order_to_json(const core::Order& o) {
  core::JsonOut j;
  j.begin_object();
  write_order(j, o);
  j.end_object();
  return j.take();
}

std::string order_to_json(const store::OrderDetails& d) {
  core::JsonOut j;
  j.begin_object();
  write_order(j, d.order);
  j.begin_array("refunds");
  for (const auto& r : d.refunds) {
    j.begin_object()
        .str("out_refund_no", r.out_refund_no)
        .str("refund_id", r.refund_id)
        .num("amount", r.amount)
        .str("status", core::to_string(r.status))
        .str("success_time", r.success_time)
        .end_object();
  }
  j.end_array().begin_array("history");
  for (const auto& t : d.history) {
    j.begin_object()
        .str("from", t.from_state)
        .str("to", t.to_state)
        .str("event", t.event)
        .num("at", t.at_ms / 1000);
    if (t.inbox_id == 0) {
      j.null("inbox_id");
    } else {
      j.num("inbox_id", t.inbox_id);
    }
    j.end_object();
  }
  j.end_array().end_object();
  return j.take();
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
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace paygate::pipeline

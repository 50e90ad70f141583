#include "providers/wechatpay_v3/wire.hpp"

#include <nlohmann/json.hpp>

namespace paygate::providers::wechatpay_v3 {
namespace {

using core::ErrorCode;
using core::EventKind;
using core::fail;
using nlohmann::json;

// Reads a string member; absent or non-string gives nullopt.
std::optional<std::string> str(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<int64_t> integer(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

}  // namespace

core::Result<Envelope> parse_envelope(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorCode::kMalformed, "body is not a JSON object");
  }
  auto res = doc.find("resource");
  if (res == doc.end() || !res->is_object()) return fail(ErrorCode::kMalformed, "no resource");
  Envelope e;
  auto id = str(doc, "id");
  auto type = str(doc, "event_type");
  auto alg = str(*res, "algorithm");
  auto ct = str(*res, "ciphertext");
  auto nonce = str(*res, "nonce");
  if (!id || !type || !alg || !ct || !nonce || id->empty()) {
    return fail(ErrorCode::kMalformed, "missing notification field");
  }
  if (*alg != "AEAD_AES_256_GCM") return fail(ErrorCode::kMalformed, "unsupported algorithm");
  e.id = *id;
  e.event_type = *type;
  e.algorithm = *alg;
  e.ciphertext = *ct;
  e.nonce = *nonce;
  e.associated_data = str(*res, "associated_data").value_or("");
  e.original_type = str(*res, "original_type").value_or("");
  return e;
}

namespace {

// The fields every transaction and refund object has.
core::Result<void> read_common(const json& doc, core::PaymentEvent& ev) {
  ev.provider = "wechatpay_v3";
  ev.mchid = str(doc, "mchid").value_or("");
  ev.appid = str(doc, "appid").value_or("");
  ev.out_trade_no = str(doc, "out_trade_no").value_or("");
  ev.transaction_id = str(doc, "transaction_id").value_or("");
  ev.success_time = str(doc, "success_time").value_or("");
  if (ev.mchid.empty() || ev.out_trade_no.empty()) {
    return fail(ErrorCode::kMalformed, "resource lacks mchid or out_trade_no");
  }
  auto amount = doc.find("amount");
  if (amount == doc.end() || !amount->is_object()) {
    return fail(ErrorCode::kMalformed, "resource lacks amount");
  }
  auto total = integer(*amount, "total");
  if (!total) return fail(ErrorCode::kMalformed, "amount.total is not an integer");
  ev.total = *total;
  ev.currency = str(*amount, "currency").value_or("");
  return {};
}

core::Result<core::PaymentEvent> read_transaction(const json& doc, core::PaymentEvent ev) {
  if (auto r = read_common(doc, ev); !r) return tl::unexpected(r.error());
  auto state = str(doc, "trade_state").value_or("");
  // REFUND: paid, then refunded since (only a query says so): the payment happened.
  if (state == "SUCCESS" || state == "REFUND") {
    ev.kind = EventKind::kPaymentSucceeded;
  } else if (state == "CLOSED" || state == "REVOKED") {
    ev.kind = EventKind::kPaymentClosed;
  } else {
    ev.kind = EventKind::kUnsupported;  // NOTPAY, USERPAYING, PAYERROR, ...
    ev.provider_event += "/" + state;
    return ev;
  }
  if (ev.transaction_id.empty()) return fail(ErrorCode::kMalformed, "no transaction_id");
  if (ev.kind == EventKind::kPaymentSucceeded && ev.appid.empty()) {
    return fail(ErrorCode::kMalformed, "no appid");
  }
  return ev;
}

}  // namespace

core::Result<core::PaymentEvent> parse_resource(const Envelope& envelope,
                                                std::string_view plaintext) {
  json doc = json::parse(plaintext, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorCode::kMalformed, "resource is not a JSON object");
  }
  core::PaymentEvent ev;
  ev.notification_id = envelope.id;
  ev.provider_event = envelope.event_type;
  if (envelope.event_type.rfind("TRANSACTION.", 0) == 0) return read_transaction(doc, ev);
  if (auto r = read_common(doc, ev); !r) return tl::unexpected(r.error());
  if (envelope.event_type.rfind("REFUND.", 0) == 0) {
    auto status = str(doc, "refund_status").value_or("");
    if (status == "SUCCESS") {
      ev.kind = EventKind::kRefundSucceeded;
    } else if (status == "ABNORMAL") {
      ev.kind = EventKind::kRefundAbnormal;
    } else if (status == "CLOSED") {
      ev.kind = EventKind::kRefundClosed;
    } else {
      ev.kind = EventKind::kUnsupported;
      ev.provider_event += "/" + status;
      return ev;
    }
    ev.out_refund_no = str(doc, "out_refund_no").value_or("");
    ev.refund_id = str(doc, "refund_id").value_or("");
    auto refund = integer(doc["amount"], "refund");
    if (ev.out_refund_no.empty() || !refund) {
      return fail(ErrorCode::kMalformed, "refund lacks out_refund_no or amount.refund");
    }
    ev.refund_amount = *refund;
  } else {
    ev.kind = EventKind::kUnsupported;
  }
  return ev;
}

core::Result<Transaction> parse_transaction(std::string_view body) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorCode::kMalformed, "answer is not a JSON object");
  }
  Transaction t;
  t.trade_state = str(doc, "trade_state").value_or("");
  if (t.trade_state.empty()) return fail(ErrorCode::kMalformed, "answer lacks trade_state");
  core::PaymentEvent ev;
  ev.provider_event = "QUERY";
  auto read = read_transaction(doc, ev);
  if (!read) return tl::unexpected(read.error());
  t.event = std::move(*read);
  // The query's own id: one per fact, so asking again is a duplicate of the first answer.
  t.event.notification_id = "query:" + t.event.business_key();
  return t;
}

}  // namespace paygate::providers::wechatpay_v3

// The merchant API of payments out: /v1/payments, and the Idempotency-Key of every POST.
#include <map>

#include <nlohmann/json.hpp>

#include "core/json_out.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "http/api.hpp"
#include "http/responses.hpp"
#include "pipeline/event_json.hpp"

namespace paygate::http {
namespace {

using core::ErrorCode;
using nlohmann::json;
using ojson = nlohmann::ordered_json;

// What the merchant is told of a call: "pending" until the provider's answer is known.
std::string_view merchant_status_of(store::PaymentStatus s) {
  switch (s) {
    case store::PaymentStatus::kCreated: return "created";
    case store::PaymentStatus::kRefused: return "refused";
    default: return "pending";
  }
}

ojson payment_json(const store::OrderDetails& d, const providers::Fields* launch) {
  ojson j;
  j["out_trade_no"] = d.order.out_trade_no;
  j["order_state"] = core::to_string(d.order.state);
  j["amount"] = d.order.amount;
  j["currency"] = d.order.currency;
  if (d.payment) {
    const auto& p = *d.payment;
    j["provider"] = p.provider;
    j["method"] = p.method;
    j["status"] = merchant_status_of(p.status);
    if (!p.trade_state.empty()) j["trade_state"] = p.trade_state;
    j["attempts"] = p.attempts;
    if (!p.error_code.empty()) {
      j["provider_error"] = {{"code", p.error_code}, {"message", p.error_message}};
    }
  }
  if (launch) {
    ojson l = ojson::object();
    for (const auto& [k, v] : *launch) l[k] = v;
    j["launch"] = std::move(l);
  }
  j["order"] = ojson::parse(pipeline::order_to_json(d), nullptr, false);
  return j;
}

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  for (unsigned char c : k) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// Every field of a create request and its JSON type; anything else is refused (a typo would
// otherwise create a payment that lacks what was meant).
const std::map<std::string, json::value_t>& create_fields() {
  static const std::map<std::string, json::value_t> f = {
      {"provider", json::value_t::string},       {"method", json::value_t::string},
      {"out_trade_no", json::value_t::string},   {"amount", json::value_t::number_integer},
      {"currency", json::value_t::string},       {"description", json::value_t::string},
      {"expires_at", json::value_t::number_integer}, {"attach", json::value_t::string},
      {"appid", json::value_t::string},          {"payer_openid", json::value_t::string},
      {"client_ip", json::value_t::string}};
  return f;
}

core::Result<pipeline::PaymentOrder> parse_create(std::string_view body, const std::string& caller) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return core::fail(ErrorCode::kMalformed, "body must be a JSON object");
  }
  for (auto& [k, v] : j.items()) {
    auto f = create_fields().find(k);
    if (f == create_fields().end()) return core::fail(ErrorCode::kInvalidArgument, "unknown field " + k);
    const bool integer = f->second == json::value_t::number_integer;
    if (integer ? !v.is_number_integer() : !v.is_string()) {
      return core::fail(ErrorCode::kInvalidArgument,
                        k + (integer ? " must be an integer" : " must be a string"));
    }
  }
  for (const char* required : {"provider", "method", "out_trade_no", "amount", "description"}) {
    if (!j.contains(required)) {
      return core::fail(ErrorCode::kInvalidArgument, std::string(required) + " is required");
    }
  }
  pipeline::PaymentOrder o;
  o.merchant = caller;
  o.provider = j["provider"].get<std::string>();
  auto method = providers::parse_pay_method(j["method"].get<std::string>());
  if (!method) {
    return core::fail(ErrorCode::kInvalidArgument,
                      "method must be one of jsapi, native, h5, app, precreate, page, wap");
  }
  auto& r = o.request;
  r.method = *method;
  r.out_trade_no = j["out_trade_no"].get<std::string>();
  r.amount = j["amount"].get<int64_t>();
  r.description = j["description"].get<std::string>();
  if (r.description.empty()) return core::fail(ErrorCode::kInvalidArgument, "description is empty");
  auto text = [&](const char* k) { return j.contains(k) ? j[k].get<std::string>() : std::string(); };
  if (j.contains("currency")) r.currency = j["currency"].get<std::string>();
  if (j.contains("expires_at")) r.expires_at = j["expires_at"].get<int64_t>();
  r.attach = text("attach");
  r.appid = text("appid");
  r.payer_openid = text("payer_openid");
  r.client_ip = text("client_ip");
  if (r.attach.size() > 128) return core::fail(ErrorCode::kInvalidArgument, "attach is longer than 128 bytes");
  if (r.payer_openid.size() > 128 || r.appid.size() > 32 || r.client_ip.size() > 45) {
    return core::fail(ErrorCode::kInvalidArgument, "appid, payer_openid or client_ip is too long");
  }
  return o;
}

ojson refund_json(const store::RefundDetails& d, const core::Order* order) {
  ojson j;
  j["out_refund_no"] = d.refund.out_refund_no;
  j["out_trade_no"] = d.refund.out_trade_no;
  j["amount"] = d.refund.amount;
  j["status"] = core::to_string(d.refund.status);
  if (!d.refund.refund_id.empty()) j["refund_id"] = d.refund.refund_id;
  if (!d.refund.success_time.empty()) j["success_time"] = d.refund.success_time;
  if (d.request) {
    const auto& q = *d.request;
    j["request"] = {{"status", merchant_status_of(q.status)}, {"attempts", q.attempts}};
    // The provider's word at the last call; the ledger's status above is the one that counts.
    if (!q.refund_status.empty() && d.refund.status == core::RefundStatus::kProcessing) {
      j["request"]["provider_status"] = q.refund_status;
    }
    if (!q.error_code.empty()) {
      j["provider_error"] = {{"code", q.error_code}, {"message", q.error_message}};
    }
  }
  if (order) {
    j["order_state"] = core::to_string(order->state);
    j["order_refunded"] = order->refunded;
  }
  return j;
}

core::Result<pipeline::RefundCommand> parse_refund(std::string_view body, const std::string& caller) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return core::fail(ErrorCode::kMalformed, "body must be a JSON object");
  }
  static const std::map<std::string, json::value_t> fields = {
      {"out_trade_no", json::value_t::string},
      {"out_refund_no", json::value_t::string},
      {"amount", json::value_t::number_integer},
      {"reason", json::value_t::string}};
  for (auto& [k, v] : j.items()) {
    auto f = fields.find(k);
    if (f == fields.end()) return core::fail(ErrorCode::kInvalidArgument, "unknown field " + k);
    const bool integer = f->second == json::value_t::number_integer;
    if (integer ? !v.is_number_integer() : !v.is_string()) {
      return core::fail(ErrorCode::kInvalidArgument,
                        k + (integer ? " must be an integer" : " must be a string"));
    }
  }
  for (const char* required : {"out_trade_no", "out_refund_no", "amount"}) {
    if (!j.contains(required)) {
      return core::fail(ErrorCode::kInvalidArgument, std::string(required) + " is required");
    }
  }
  pipeline::RefundCommand c;
  c.merchant = caller;
  c.out_trade_no = j["out_trade_no"].get<std::string>();
  c.out_refund_no = j["out_refund_no"].get<std::string>();
  c.amount = j["amount"].get<int64_t>();
  if (j.contains("reason")) c.reason = j["reason"].get<std::string>();
  return c;
}

}  // namespace

void Api::idempotent(const HttpRequest& req, const std::string& caller, Respond respond,
                     std::function<void(Respond)> run) {
  auto header = req.headers.get("Idempotency-Key");
  if (!header) return run(std::move(respond));
  if (req.headers.count("Idempotency-Key") > 1 || !valid_key(*header)) {
    return respond(error_response(ErrorCode::kInvalidArgument,
                                  "Idempotency-Key must be 1-255 visible ASCII characters, once"));
  }
  if (store_ == nullptr) return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  const std::string key(*header);
  const std::string hash = crypto::hex_lower(
      crypto::sha256(req.method + "\n" + req.target + "\n" + req.body));
  auto claim = std::make_shared<store::IdempotencyClaim>();
  const int64_t now = clock_.now_ms();
  // Longer than any call the request can make (retries and back-off included): a holder that
  // died is taken over after it.
  const int64_t lease = now + 120'000;
  store_->submit(
      [claim, caller, key, hash, now, lease](store::Tx& tx) -> core::Result<void> {
        auto c = tx.claim_idempotency_key(caller, key, hash, now, lease);
        if (!c) return tl::unexpected(c.error());
        *claim = std::move(*c);
        return {};
      },
      [this, claim, caller, key, respond, run](core::Result<void> r) {
        if (!r) return respond(error_response(r.error()));
        switch (claim->claim) {
          case store::KeyClaim::kReplay: {
            HttpResponse again{claim->status, "application/json", claim->response, {}};
            again.headers.emplace_back("Idempotent-Replayed", "true");
            return respond(std::move(again));
          }
          case store::KeyClaim::kInProgress:
            return respond(error_response(ErrorCode::kConflict,
                                          "a request with this Idempotency-Key is in progress"));
          case store::KeyClaim::kMismatch: {
            auto e = error_response(ErrorCode::kInvalidArgument,
                                    "Idempotency-Key was used with another request");
            e.status = 422;
            return respond(std::move(e));
          }
          case store::KeyClaim::kNew: break;
        }
        run(Respond([this, caller, key, respond](Respond::Make make) {
          auto answer = std::make_shared<HttpResponse>(make());
          const bool keep = answer->status < 500;
          store_->submit(
              [caller, key, answer, keep](store::Tx& tx) -> core::Result<void> {
                if (!keep) return tx.release_idempotency_key(caller, key);
                return tx.finish_idempotency_key(caller, key, answer->status, answer->body);
              },
              [respond, answer](core::Result<void>) {
                // The effect is durable either way: an answer that could not be kept is still
                // sent, and a repeat finds the key taken until its lease ends, then runs again
                // (and finds the stored payment).
                respond(std::move(*answer));
              });
        }));
      });
}

void Api::create_payment(const HttpRequest& req, const std::string& caller, Respond respond) {
  if (config_.payments == nullptr) {
    return respond(error_response(ErrorCode::kNotFound, "payments out are not configured"));
  }
  auto order = parse_create(req.body, caller);
  if (!order) return respond(error_response(order.error()));
  config_.payments->create(std::move(*order), [this, respond](
                                                  core::Result<pipeline::PaymentResult> r) {
    if (!r) return respond(error_response(r.error()));
    const bool created = r->status == pipeline::PaymentStatus::kCreated;
    ojson j = payment_json(r->details, created ? &r->launch : nullptr);
    int status = created ? 201 : 202;
    if (r->status == pipeline::PaymentStatus::kRefused) {
      status = 422;
      const auto& p = *r->details.payment;
      j["error"] = {{"code", core::to_string(ErrorCode::kProviderRefused)},
                    {"message", p.error_code + (p.error_message.empty() ? "" : ": " + p.error_message)}};
    }
    answer_durable(respond, json_response(status, dump(j)));
  });
}

void Api::get_payment(const std::vector<std::string>& seg, const std::string& caller,
                      Respond& respond) {
  if (store_ == nullptr) return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  auto d = store_->order_details(caller, seg[2]);
  if (!d) return respond(error_response(d.error()));
  if (!*d || !(*d)->payment) {
    return respond(error_response(ErrorCode::kNotFound, "no payment for this out_trade_no"));
  }
  answer_durable(respond, json_response(200, dump(payment_json(**d, nullptr))));
}

void Api::sync_payment(const std::vector<std::string>& seg, const std::string& caller,
                       Respond respond, bool close) {
  if (config_.payments == nullptr) {
    return respond(error_response(ErrorCode::kNotFound, "payments out are not configured"));
  }
  auto done = [this, respond](core::Result<pipeline::SyncResult> r) {
    if (!r) return respond(error_response(r.error()));
    ojson j = payment_json(r->details, nullptr);
    if (!r->trade_state.empty()) j["trade_state"] = r->trade_state;
    j["applied"] = r->applied;
    answer_durable(respond, json_response(200, dump(j)));
  };
  if (close) return config_.payments->close(caller, seg[2], std::move(done));
  config_.payments->sync(caller, seg[2], std::move(done));
}

void Api::create_refund(const HttpRequest& req, const std::string& caller, Respond respond) {
  if (config_.payments == nullptr) {
    return respond(error_response(ErrorCode::kNotFound, "payments out are not configured"));
  }
  auto command = parse_refund(req.body, caller);
  if (!command) return respond(error_response(command.error()));
  config_.payments->refund(std::move(*command), [this, respond](
                                                    core::Result<pipeline::RefundResult> r) {
    if (!r) return respond(error_response(r.error()));
    ojson j = refund_json(r->details, &r->order);
    if (!r->applied.empty()) j["applied"] = r->applied;
    int status = r->status == pipeline::PaymentStatus::kCreated ? 201 : 202;
    if (r->status == pipeline::PaymentStatus::kRefused) {
      status = 422;
      const auto& q = r->details.request;
      j["error"] = {{"code", core::to_string(ErrorCode::kProviderRefused)},
                    {"message", q ? q->error_code + (q->error_message.empty() ? "" : ": " + q->error_message)
                                  : std::string()}};
    }
    answer_durable(respond, json_response(status, dump(j)));
  });
}

void Api::get_refund(const std::vector<std::string>& seg, const std::string& caller,
                     Respond& respond) {
  if (store_ == nullptr) return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  auto d = store_->refund_details(caller, seg[2]);
  if (!d) return respond(error_response(d.error()));
  if (!*d) return respond(error_response(ErrorCode::kNotFound, "no such refund"));
  answer_durable(respond, json_response(200, dump(refund_json(**d, nullptr))));
}

void Api::sync_refund(const std::vector<std::string>& seg, const std::string& caller,
                      Respond respond) {
  if (config_.payments == nullptr) {
    return respond(error_response(ErrorCode::kNotFound, "payments out are not configured"));
  }
  config_.payments->refund_sync(caller, seg[2], [this, respond](
                                                    core::Result<pipeline::RefundResult> r) {
    if (!r) return respond(error_response(r.error()));
    ojson j = refund_json(r->details, &r->order);
    j["applied"] = r->applied;
    answer_durable(respond, json_response(200, dump(j)));
  });
}

}  // namespace paygate::http

// The merchant-webhook part of the /v1 API: events, their deliveries, replays, endpoints.
#include <charconv>
#include <ctime>

#include "core/clock.hpp"
#include "core/json_out.hpp"
#include "crypto/random.hpp"
#include "http/api.hpp"
#include "http/responses.hpp"
#include "providers/form.hpp"

namespace paygate::http {

using core::ErrorCode;

namespace {

std::optional<int64_t> parse_id(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// Unix seconds or RFC 3339 UTC ("2026-11-23T10:00:00Z") -> unix ms.
std::optional<int64_t> parse_instant(const std::string& s) {
  if (auto n = parse_id(s)) return *n * 1000;
  if (s == "0") return 0;
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  if (std::string_view(rest) != "Z") return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string query_of(const HttpRequest& req) {
  const auto q = req.target.find('?');
  return q == std::string::npos ? std::string() : req.target.substr(q + 1);
}

void write_event(core::JsonOut& j, const store::OutboxEvent& e) {
  j.num("id", e.id)
      .str("type", e.event_type)
      .str("out_trade_no", e.out_trade_no)
      .str("created_at", core::format_rfc3339_ms(e.created_at_ms))
      .raw("data", e.payload);
}

void write_delivery(core::JsonOut& j, const store::Delivery& d) {
  j.begin_object()
      .num("id", d.id)
      .str("endpoint", d.endpoint)
      .str("webhook_id", d.webhook_id)
      .str("status", store::to_string(d.status))
      .num("attempts", d.attempts);
  if (d.status == store::DeliveryStatus::kPending) {
    j.str("next_attempt_at", core::format_rfc3339_ms(d.due_at_ms));
  } else {
    j.null("next_attempt_at");
  }
  if (d.last_status) {
    j.num("last_status", d.last_status);
  } else {
    j.null("last_status");
  }
  j.str_or_null("last_error", d.last_error).end_object();
}

}  // namespace

bool EndpointInfo::wants(std::string_view event_type) const {
  if (events.empty()) return true;
  for (const auto& e : events) {
    if (e == event_type) return true;
  }
  return false;
}

const EndpointInfo* Api::find_endpoint(std::string_view id, std::string_view merchant) const {
  for (const auto& e : config_.endpoints) {
    if (e.id == id && e.merchant == merchant) return &e;
  }
  return nullptr;
}

void Api::list_events(const HttpRequest& req, const std::string& caller, Respond& respond) {
  if (store_ == nullptr) return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  auto params = providers::parse_form(query_of(req));
  if (!params) return respond(error_response(ErrorCode::kInvalidArgument, "bad query string"));
  store::EventFilter f;
  f.merchant = caller;
  for (const auto& [k, v] : *params) {
    if (k == "order") {
      f.out_trade_no = v;
    } else if (k == "type") {
      f.event_type = v;
    } else if (k == "status") {
      f.status = store::parse_delivery_status(v);
      if (!f.status) {
        return respond(error_response(ErrorCode::kInvalidArgument,
                                      "status is pending, delivering, delivered or dead"));
      }
    } else if (k == "before") {
      auto id = parse_id(v);
      if (!id) return respond(error_response(ErrorCode::kInvalidArgument, "before is an event id"));
      f.before_id = *id;
    } else if (k == "limit") {
      auto n = parse_id(v);
      if (!n || *n > 500) return respond(error_response(ErrorCode::kInvalidArgument, "limit is 1-500"));
      f.limit = static_cast<int>(*n);
    } else if (k == "merchant") {
      if (v != caller) return respond(error_response(ErrorCode::kForbidden, "token does not belong to merchant"));
    } else {
      return respond(error_response(ErrorCode::kInvalidArgument, "unknown filter " + k));
    }
  }
  auto list = store_->list_events(f);
  if (!list) return respond(error_response(list.error()));
  core::JsonOut j;
  j.begin_object().begin_array("events");
  for (const auto& e : *list) {
    j.begin_object();
    write_event(j, e);
    j.end_object();
  }
  j.end_array();
  if (static_cast<int>(list->size()) == f.limit) {
    j.num("next_before", list->back().id);
  } else {
    j.null("next_before");
  }
  j.end_object();
  answer_durable(respond, json_response(200, j.take()));
}

// The caller's event named by the path, or an answer already sent.
static std::optional<store::EventDetails> owned_event(store::Store* store, const std::string& id_text,
                                                     const std::string& caller, Respond& respond) {
  auto id = parse_id(id_text);
  if (!id) {
    respond(error_response(ErrorCode::kInvalidArgument, "bad event id"));
    return std::nullopt;
  }
  if (store == nullptr) {
    respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
    return std::nullopt;
  }
  auto d = store->event_details(*id);
  if (!d) {
    respond(error_response(d.error()));
    return std::nullopt;
  }
  if (!*d || (*d)->event.merchant != caller) {
    respond(error_response(ErrorCode::kNotFound, "no such event"));
    return std::nullopt;
  }
  return std::move(**d);
}

void Api::get_event(const std::vector<std::string>& seg, const std::string& caller,
                    Respond& respond) {
  auto found = owned_event(store_, seg[2], caller, respond);
  if (!found) return;
  const auto& ev = *found;
  core::JsonOut j;
  j.begin_object();
  write_event(j, ev.event);
  j.boolean("routed", ev.routed).begin_array("deliveries");
  for (const auto& del : ev.deliveries) write_delivery(j, del);
  j.end_array().begin_array("attempts");
  for (const auto& a : ev.attempts) {
    j.begin_object()
        .num("delivery", a.delivery_id)
        .str("at", core::format_rfc3339_ms(a.at_ms))
        .num("status", a.status)
        .str("outcome", a.outcome)
        .num("latency_ms", a.latency_ms)
        .str_or_null("error", a.error)
        .str("response", a.response)
        .end_object();
  }
  j.end_array().end_object();
  answer_durable(respond, json_response(200, j.take()));
}

void Api::replay_event(const std::vector<std::string>& seg, const std::string& caller,
                       Respond& respond) {
  auto d = owned_event(store_, seg[2], caller, respond);
  if (!d) return;
  const int64_t* id = &d->event.id;
  if (!d->routed) {
    return respond(error_response(ErrorCode::kConflict, "event is not routed yet; it will be sent"));
  }
  // Endpoints configured after the event was routed get a delivery too.
  std::vector<store::Delivery> missing;
  const int64_t now = clock_.now_ms();
  for (const auto& ep : config_.endpoints) {
    if (ep.merchant != caller || !ep.wants(d->event.event_type)) continue;
    store::Delivery del;
    del.outbox_id = *id;
    del.endpoint = ep.id;
    del.merchant = caller;
    del.out_trade_no = d->event.out_trade_no;
    del.event_type = d->event.event_type;
    del.webhook_id = "msg_" + crypto::random_alnum(24);
    del.due_at_ms = now;
    del.created_at_ms = now;
    del.updated_at_ms = now;
    missing.push_back(std::move(del));
  }
  auto count = std::make_shared<int>(0);
  store_->submit(
      [missing = std::move(missing), count, id = *id, now](store::Tx& tx) -> core::Result<void> {
        *count = 0;
        for (const auto& del : missing) {
          auto r = tx.insert_delivery(del);
          if (!r) return tl::unexpected(r.error());
          if (*r) ++*count;
        }
        auto n = tx.replay_deliveries(id, "", 0, now);
        if (!n) return tl::unexpected(n.error());
        *count += *n;
        return {};
      },
      [this, respond, count, id = *id](core::Result<void> r) {
        if (!r) return respond(error_response(r.error()));
        if (config_.wake_deliveries) config_.wake_deliveries();
        respond(json_response(202, "{\"event\":" + std::to_string(id) +
                                       ",\"deliveries_scheduled\":" + std::to_string(*count) + "}"));
      });
}

void Api::list_endpoints(const std::string& caller, Respond& respond) {
  if (store_ == nullptr) return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  auto states = store_->endpoint_states();
  if (!states) return respond(error_response(states.error()));
  core::JsonOut j;
  j.begin_object().begin_array("endpoints");
  for (const auto& ep : config_.endpoints) {
    if (ep.merchant != caller) continue;
    const store::EndpointState* st = nullptr;
    for (const auto& s : *states) {
      if (s.endpoint == ep.id) st = &s;
    }
    j.begin_object().str("id", ep.id).str("url", ep.url).begin_array("events");
    for (const auto& e : ep.events) j.value(e);
    j.end_array().boolean("enabled", st == nullptr || st->enabled);
    if (st != nullptr && !st->enabled) {
      j.str("disabled_reason", st->reason)
          .str("disabled_at", core::format_rfc3339_ms(st->updated_at_ms));
    }
    j.end_object();
  }
  j.end_array().end_object();
  answer_durable(respond, json_response(200, j.take()));
}

void Api::replay_endpoint(const HttpRequest& req, const std::vector<std::string>& seg,
                          const std::string& caller, Respond& respond) {
  const EndpointInfo* ep = find_endpoint(seg[2], caller);
  if (ep == nullptr) return respond(error_response(ErrorCode::kNotFound, "no such endpoint"));
  if (store_ == nullptr) return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  auto params = providers::parse_form(query_of(req));
  if (!params) return respond(error_response(ErrorCode::kInvalidArgument, "bad query string"));
  const std::string* since_text = providers::form_value(*params, "since");
  if (!since_text) {
    return respond(error_response(ErrorCode::kInvalidArgument,
                                  "since is required (unix seconds or RFC 3339)"));
  }
  auto since = parse_instant(std::string(*since_text));
  if (!since) {
    return respond(error_response(ErrorCode::kInvalidArgument,
                                  "since must be unix seconds or RFC 3339 (UTC)"));
  }
  auto count = std::make_shared<int>(0);
  const int64_t now = clock_.now_ms();
  store_->submit(
      [count, endpoint = ep->id, since = *since, now](store::Tx& tx) -> core::Result<void> {
        auto n = tx.replay_deliveries(0, endpoint, since, now);
        if (!n) return tl::unexpected(n.error());
        *count = *n;
        return {};
      },
      [this, respond, count, endpoint = ep->id](core::Result<void> r) {
        if (!r) return respond(error_response(r.error()));
        if (config_.wake_deliveries) config_.wake_deliveries();
        core::JsonOut j;
        j.begin_object().str("endpoint", endpoint).num("deliveries_scheduled", *count).end_object();
        respond(json_response(202, j.take()));
      });
}

void Api::set_endpoint_enabled(const std::vector<std::string>& seg, const std::string& caller,
                               bool enabled, Respond& respond) {
  const EndpointInfo* ep = find_endpoint(seg[2], caller);
  if (ep == nullptr) return respond(error_response(ErrorCode::kNotFound, "no such endpoint"));
  if (store_ == nullptr) return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  store::EndpointState st{ep->id, enabled, enabled ? "" : "disabled through the API",
                          clock_.now_ms()};
  store_->submit([st](store::Tx& tx) { return tx.set_endpoint_state(st); },
                 [this, respond, st](core::Result<void> r) {
                   if (!r) return respond(error_response(r.error()));
                   if (st.enabled && config_.wake_deliveries) config_.wake_deliveries();
                   core::JsonOut j;
                   j.begin_object().str("id", st.endpoint).boolean("enabled", st.enabled).end_object();
                   answer_durable(respond, json_response(200, j.take()));
                 });
}

}  // namespace paygate::http

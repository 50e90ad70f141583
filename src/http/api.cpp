#include "http/api.hpp"

#include <nlohmann/json.hpp>

#include "core/json_out.hpp"
#include "crypto/encoding.hpp"
#include "http/responses.hpp"
#include "pipeline/event_json.hpp"
#include "pipeline/orders.hpp"

namespace paygate::http {
namespace {

using core::ErrorCode;
using nlohmann::json;

}  // namespace

static int status_of(ErrorCode c) {
  switch (c) {
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kMalformed: return 400;
    case ErrorCode::kStoreUnavailable:
    case ErrorCode::kOverloaded:
    case ErrorCode::kProviderUnavailable: return 503;
    case ErrorCode::kProviderUnknown: return 504;
    case ErrorCode::kProviderRefused: return 502;
    default: return 500;
  }
}

// One error shape for the whole API; `message` is chosen for callers, never a log detail.
HttpResponse error_response(ErrorCode code, std::string_view message) {
  json j = {{"error", {{"code", core::to_string(code)}, {"message", message}}}};
  // A message may echo what the caller sent (a filter name): never let bad UTF-8 throw.
  return HttpResponse{status_of(code), "application/json",
                      j.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

HttpResponse error_response(const core::Error& e) {
  // Store and internal details stay in logs.
  if (e.code == ErrorCode::kOverloaded) return error_response(e.code, "busy, retry later");
  if (e.code == ErrorCode::kStoreUnavailable) {
    return error_response(e.code, "storage is unavailable, retry later");
  }
  if (e.code == ErrorCode::kInternal) return error_response(e.code, "internal error");
  return error_response(e.code, e.detail);
}

HttpResponse json_response(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body), {}};
}


Api::Api(ApiConfig config, store::Store* store, pipeline::CallbackPipeline& pipeline,
         pipeline::MessagePipeline& messages, const core::Clock& clock, obs::Metrics& metrics)
    : config_(std::move(config)),
      store_(store),
      pipeline_(pipeline),
      messages_(messages),
      clock_(clock),
      metrics_(metrics) {}

void Api::handle(HttpRequest req, Respond respond) {
  const auto seg = path_segments(req.target);
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  auto done = [this, respond](std::string route) {
    return Respond([this, respond, route = std::move(route)](Respond::Make make) {
      respond.later([this, route, make = std::move(make)] {
        HttpResponse r = make();
        metrics_.http_requests.inc({route, std::to_string(r.status)});
        return r;
      });
    });
  };

  if (!seg.empty() && seg[0] == "notify") {
    Respond r = done("notify");
    if (!post) return r(error_response(ErrorCode::kNotFound, "callbacks are POST"));
    return callback(req, seg, r);
  }
  if (seg.size() >= 3 && seg[0] == "return" && get) {
    Respond r = done("return");
    return browser_return(req, seg, r);
  }
  if (seg.size() == 3 && seg[0] == "wechat" && seg[1] == "mp") {
    Respond r = done("wechat_mp");
    if (!get && !post) return r(error_response(ErrorCode::kNotFound, "no such route"));
    return wechat_mp(req, seg, r);
  }
  if (seg.size() == 1 && seg[0] == "healthz" && get) {
    return done("healthz")(json_response(200, R"({"status":"ok"})"));
  }
  if (seg.size() == 1 && seg[0] == "readyz" && get) {
    Respond r = done("readyz");
    return ready(r);
  }
  if (seg.size() == 1 && seg[0] == "metrics" && get) {
    return done("metrics")(
        HttpResponse{200, "text/plain; version=0.0.4", metrics_.registry.render(), {}});
  }
  if (!seg.empty() && seg[0] == "v1") {
    Respond r = done("v1");
    // Ids, filters and cursors are text: refuse what is not UTF-8 before anything reads it.
    if (!core::is_valid_utf8(percent_decode(req.target))) {
      return r(error_response(ErrorCode::kMalformed, "request target is not valid UTF-8"));
    }
    const std::string caller = authenticate(req);
    if (caller.empty()) {
      auto resp = error_response(ErrorCode::kUnauthorized, "missing or wrong bearer token");
      resp.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r(std::move(resp));
    }
    if (seg.size() == 2 && seg[1] == "orders" && post) return create_order(req, caller, r);
    if (seg.size() == 4 && seg[1] == "orders" && get) return get_order(seg, caller, r);
    if (seg.size() == 2 && seg[1] == "anomalies" && get) return list_anomalies(caller, r);
    if (seg.size() == 2 && seg[1] == "payments" && post) {
      return idempotent(req, caller, r, [this, req, caller](Respond rr) {
        create_payment(req, caller, std::move(rr));
      });
    }
    if (seg.size() == 3 && seg[1] == "payments" && get) return get_payment(seg, caller, r);
    if (seg.size() == 2 && seg[1] == "refunds" && post) {
      return idempotent(req, caller, r, [this, req, caller](Respond rr) {
        create_refund(req, caller, std::move(rr));
      });
    }
    if (seg.size() == 3 && seg[1] == "refunds" && get) return get_refund(seg, caller, r);
    if (seg.size() == 4 && seg[1] == "refunds" && seg[3] == "sync" && post) {
      return idempotent(req, caller, r, [this, seg, caller](Respond rr) {
        sync_refund(seg, caller, std::move(rr));
      });
    }
    if (seg.size() == 4 && seg[1] == "payments" && post &&
        (seg[3] == "sync" || seg[3] == "close")) {
      const bool close = seg[3] == "close";
      return idempotent(req, caller, r, [this, seg, caller, close](Respond rr) {
        sync_payment(seg, caller, std::move(rr), close);
      });
    }
    if (seg.size() == 4 && seg[1] == "inbox" && seg[3] == "redrive" && post) {
      return redrive(seg, caller, r);
    }
    if (seg.size() == 2 && seg[1] == "events" && get) return list_events(req, caller, r);
    if (seg.size() == 3 && seg[1] == "events" && get) return get_event(seg, caller, r);
    if (seg.size() == 4 && seg[1] == "events" && seg[3] == "replay" && post) {
      return replay_event(seg, caller, r);
    }
    if (seg.size() == 2 && seg[1] == "endpoints" && get) return list_endpoints(caller, r);
    if (seg.size() == 4 && seg[1] == "endpoints" && post) {
      if (seg[3] == "replay") return replay_endpoint(req, seg, caller, r);
      if (seg[3] == "enable") return set_endpoint_enabled(seg, caller, true, r);
      if (seg[3] == "disable") return set_endpoint_enabled(seg, caller, false, r);
    }
    return r(error_response(ErrorCode::kNotFound, "no such route"));
  }
  done("other")(error_response(ErrorCode::kNotFound, "no such route"));
}

std::string Api::authenticate(const HttpRequest& req) const {
  auto h = req.headers.get("Authorization");
  if (!h || h->size() < 8 || !core::iequals(h->substr(0, 7), "Bearer ")) return {};
  const auto token = h->substr(7);
  std::string found;
  // Compare against every token so timing does not reveal which merchant matched.
  for (const auto& [merchant, secret] : config_.tokens) {
    if (crypto::constant_time_equal(secret.reveal(), token)) found = merchant;
  }
  return found;
}

const CallbackRoute* Api::find_route(std::string_view path, std::string_view merchant) const {
  for (const auto& r : config_.callbacks) {
    if (r.path == path && r.identity.merchant == merchant) return &r;
  }
  return nullptr;
}

const CallbackRoute* Api::route_of_provider(std::string_view provider,
                                            std::string_view merchant) const {
  std::string path(provider);  // "wechatpay_v3" is served at /notify/wechatpay/v3/...
  for (auto& c : path) {
    if (c == '_') c = '/';
  }
  return find_route(path, merchant);
}

void Api::callback(HttpRequest& req, const std::vector<std::string>& seg, Respond& respond) {
  // /notify/<provider path...>/<merchant>
  if (seg.size() < 3) return respond(error_response(ErrorCode::kNotFound, "no such route"));
  std::string path;
  for (std::size_t i = 1; i + 1 < seg.size(); ++i) {
    if (!path.empty()) path += '/';
    path += seg[i];
  }
  const CallbackRoute* route = find_route(path, seg.back());
  if (route == nullptr) {
    return respond(HttpResponse{404, "application/json",
                                R"({"code":"FAIL","message":"unknown merchant"})", {}});
  }
  pipeline::CallbackRequest cb;
  cb.request_id = std::string(req.headers.get("Request-ID").value_or(""));
  cb.headers = std::move(req.headers);
  cb.target = std::move(req.target);
  cb.body = std::move(req.body);
  pipeline_.handle(*route->adapter, route->identity, std::move(cb),
                   [respond](pipeline::MakeReply make) {
                     respond.later([make = std::move(make)] {
                       providers::Reply r = make();
                       return HttpResponse{r.status, r.content_type, std::move(r.body), {}};
                     });
                   });
}

namespace {

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string url_escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

HttpResponse page(int status, const std::string& text) {
  return HttpResponse{status, "text/html; charset=utf-8",
                      "<!doctype html><meta charset=\"utf-8\"><title>paygate</title><p>" +
                          html_escape(text) + "</p>\n",
                      {}};
}

}  // namespace

// GET /return/<provider path>/<merchant>?<signed parameters>: verified, display only.
void Api::browser_return(HttpRequest& req, const std::vector<std::string>& seg,
                         Respond& respond) {
  std::string path;
  for (std::size_t i = 1; i + 1 < seg.size(); ++i) {
    if (!path.empty()) path += '/';
    path += seg[i];
  }
  const CallbackRoute* route = find_route(path, seg.back());
  if (route == nullptr) return respond(page(404, "Unknown payment return address."));
  const auto q = req.target.find('?');
  auto otn = route->adapter->verify_return(
      q == std::string::npos ? std::string_view{} : std::string_view(req.target).substr(q + 1));
  if (!otn) {
    metrics_.rejections.inc({std::string(route->adapter->provider()) + "_return",
                             std::string(core::to_string(otn.error().code))});
    return respond(page(400, "This payment return could not be verified."));
  }
  std::string state = "UNKNOWN";
  if (store_ != nullptr) {
    auto d = store_->order_details(route->identity.merchant, *otn);
    if (d && *d) state = std::string(core::to_string((*d)->order.state));
  }
  if (!route->return_redirect_url.empty()) {
    const auto& url = route->return_redirect_url;
    HttpResponse r{302, "text/plain", "", {}};
    r.headers.emplace_back("Location", url + (url.find('?') == std::string::npos ? "?" : "&") +
                                           "out_trade_no=" + url_escape(*otn) +
                                           "&state=" + state);
    return answer_durable(respond, std::move(r));
  }
  // The asynchronous notification decides; this page only shows what is stored now.
  answer_durable(respond, page(200, "Order " + *otn + ": " + state));
}

void Api::wechat_mp(HttpRequest& req, const std::vector<std::string>& seg, Respond& respond) {
  const MessageRoute* route = nullptr;
  for (const auto& m : config_.messages) {
    if (m.merchant == seg[2]) route = &m;
  }
  if (route == nullptr) return respond(HttpResponse{404, "text/plain", "", {}});
  const auto q = req.target.find('?');
  auto query = providers::parse_form(q == std::string::npos ? std::string_view{}
                                                            : std::string_view(req.target).substr(q + 1));
  if (!query) return respond(HttpResponse{400, "text/plain", "", {}});
  if (req.method == "GET") {
    // URL verification: echo echostr only when the signature verifies.
    auto echo = route->endpoint->verify_url(*query);
    if (!echo) {
      metrics_.rejections.inc({"wechat_mp", std::string(core::to_string(echo.error().code))});
      return respond(HttpResponse{401, "text/plain", "", {}});
    }
    return respond(HttpResponse{200, "text/plain", std::move(*echo), {}});
  }
  pipeline::MessageRequest m;
  m.account = route->merchant;
  m.query = std::move(*query);
  m.body = std::move(req.body);
  m.request_id = std::string(req.headers.get("Request-ID").value_or(""));
  messages_.handle(*route->endpoint, std::move(m), [respond](pipeline::MakeReply make) {
    respond.later([make = std::move(make)] {
      providers::Reply r = make();
      return HttpResponse{r.status, r.content_type, std::move(r.body), {}};
    });
  });
}

void Api::create_order(HttpRequest& req, const std::string& caller, Respond& respond) {
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return respond(error_response(ErrorCode::kMalformed, "body must be a JSON object"));
  }
  pipeline::NewOrder o;
  auto str = [&](const char* k) -> std::optional<std::string> {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto merchant = str("merchant");
  auto out_trade_no = str("out_trade_no");
  auto amount = j.find("amount");
  if (!merchant || !out_trade_no || amount == j.end() || !amount->is_number_integer()) {
    return respond(error_response(ErrorCode::kInvalidArgument,
                                  "merchant, out_trade_no (strings) and amount (integer fen) "
                                  "are required"));
  }
  if (*merchant != caller) {
    return respond(error_response(ErrorCode::kForbidden, "token does not belong to merchant"));
  }
  o.merchant = *merchant;
  o.out_trade_no = *out_trade_no;
  o.amount = amount->get<int64_t>();
  if (j.contains("currency")) {
    auto c = str("currency");
    if (!c) return respond(error_response(ErrorCode::kInvalidArgument, "currency is a string"));
    o.currency = *c;
  }
  if (j.contains("description")) {
    auto d = str("description");
    if (!d) return respond(error_response(ErrorCode::kInvalidArgument, "description is a string"));
    o.description = *d;
  }
  if (j.contains("expires_at") && !j["expires_at"].is_null()) {
    if (!j["expires_at"].is_number_integer()) {
      return respond(error_response(ErrorCode::kInvalidArgument,
                                    "expires_at is an integer (unix seconds)"));
    }
    o.expires_at = j["expires_at"].get<int64_t>();
  }
  if (store_ == nullptr) {
    return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  }
  auto identity_of = [this, caller](std::string_view provider) -> const pipeline::Identity* {
    const CallbackRoute* route = route_of_provider(provider, caller);
    return route ? &route->identity : nullptr;
  };
  pipeline::register_order(
      *store_, clock_, std::move(o),
      [this, respond](core::Result<pipeline::Registered> r) {
        if (!r) return respond(error_response(r.error()));
        if (r->released > 0) metrics_.released_on_registration.inc({}, r->released);
        respond(json_response(r->created ? 201 : 200, pipeline::order_to_json(r->order)));
      },
      identity_of);
}

void Api::get_order(const std::vector<std::string>& seg, const std::string& caller,
                    Respond& respond) {
  if (seg[2] != caller) {
    return respond(error_response(ErrorCode::kForbidden, "token does not belong to merchant"));
  }
  if (store_ == nullptr) {
    return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  }
  auto d = store_->order_details(seg[2], seg[3]);
  if (!d) return respond(error_response(d.error()));
  if (!*d) return respond(error_response(ErrorCode::kNotFound, "no such order"));
  answer_durable(respond, json_response(200, pipeline::order_to_json(**d)));
}

void Api::list_anomalies(const std::string& caller, Respond& respond) {
  if (store_ == nullptr) {
    return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  }
  auto list = store_->anomalies(caller, 100);
  if (!list) return respond(error_response(list.error()));
  std::string body = "{\"anomalies\":[";
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (i) body += ',';
    body += pipeline::inbox_to_json((*list)[i]);
  }
  body += "]}";
  answer_durable(respond, json_response(200, std::move(body)));
}

void Api::redrive(const std::vector<std::string>& seg, const std::string& caller,
                  Respond& respond) {
  int64_t id = 0;
  try {
    std::size_t pos = 0;
    id = std::stoll(seg[2], &pos);
    if (pos != seg[2].size()) id = 0;
  } catch (...) {
    id = 0;
  }
  if (id <= 0) return respond(error_response(ErrorCode::kInvalidArgument, "bad inbox id"));
  if (store_ == nullptr) {
    return respond(error_response(ErrorCode::kStoreUnavailable, "store disabled"));
  }
  auto entry = store_->inbox_entry(id);
  if (!entry) return respond(error_response(entry.error()));
  if (!*entry || (*entry)->merchant != caller) {
    return respond(error_response(ErrorCode::kNotFound, "no such inbox entry"));
  }
  const CallbackRoute* route = route_of_provider((*entry)->provider, caller);
  if (route == nullptr) {
    return respond(error_response(ErrorCode::kNotFound, "provider not configured"));
  }
  pipeline_.redrive(id, route->identity, [respond, id](core::Result<pipeline::Applied> r) {
    if (!r) return respond(error_response(r.error()));
    json j = {{"inbox_id", id},
              {"outcome", r->outcome == providers::Outcome::kApplied     ? "applied"
                          : r->outcome == providers::Outcome::kDuplicate ? "noop"
                                                                         : "anomaly"}};
    if (r->outcome == providers::Outcome::kAnomaly) {
      j["anomaly"] = core::to_string(r->anomaly);
      j["detail"] = r->detail;
    }
    respond(json_response(200, j.dump(-1, ' ', false, json::error_handler_t::replace)));
  });
}

void Api::answer_durable(const Respond& respond, HttpResponse r) const {
  if (store_ == nullptr) return respond(std::move(r));
  store_->when_durable([respond, r = std::move(r)](core::Result<void> durable) mutable {
    if (!durable) return respond(error_response(durable.error()));
    respond(std::move(r));
  });
}

// Ready = the store took a durable write within the last second. Probes in between are
// answered from that, and at most one heartbeat is in flight, so a tight probe loop costs the
// writer one small write per second; a failed store is unready at once.
void Api::ready(Respond& respond) {
  if (store_ == nullptr) return respond(json_response(200, R"({"status":"ready","store":"off"})"));
  static const std::string kReady = R"({"status":"ready"})";
  static const std::string kUnavailable = R"({"status":"unavailable"})";
  if (!store_->healthy()) return respond(json_response(503, kUnavailable));
  const int64_t now = clock_.now_ms();
  if (now - ready_at_ms_.load() < 1000) return respond(json_response(200, kReady));
  if (heartbeat_in_flight_.exchange(true)) {
    // One is being written: answer from the last, if it is recent enough.
    return respond(now - ready_at_ms_.load() < 5000 ? json_response(200, kReady)
                                                    : json_response(503, kUnavailable));
  }
  pipeline::check_ready(*store_, clock_, [this, respond, now](core::Result<void> r) {
    if (r) ready_at_ms_.store(now);
    heartbeat_in_flight_.store(false);
    respond(r ? json_response(200, kReady) : json_response(503, kUnavailable));
  });
}

}  // namespace paygate::http

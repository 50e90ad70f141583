#include "providers/wechatpay_v3/api.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/json_out.hpp"
#include "crypto/random.hpp"
#include "providers/wechatpay_v3/wire.hpp"

namespace paygate::providers::wechatpay_v3 {
namespace {

using core::ErrorCode;
using core::fail;
using ojson = nlohmann::ordered_json;

std::string_view path_of(PayMethod m) {
  switch (m) {
    case PayMethod::kJsapi: return "jsapi";
    case PayMethod::kNative: return "native";
    case PayMethod::kH5: return "h5";
    case PayMethod::kApp: return "app";
    default: return "";
  }
}

core::Headers to_headers(const net::HeaderList& list) {
  core::Headers h;
  for (const auto& [k, v] : list) h.add(k, v);
  return h;
}

// The provider's error body {"code","message"}; what is not readable stays empty.
Answer error_answer(const net::HttpResponse& r, AnswerKind kind) {
  Answer a;
  a.kind = kind;
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (!r.truncated && doc.is_object()) {
    if (auto c = doc.find("code"); c != doc.end() && c->is_string()) a.code = c->get<std::string>();
    if (auto m = doc.find("message"); m != doc.end() && m->is_string()) {
      a.message = m->get<std::string>().substr(0, 256);
    }
  }
  if (a.code.empty()) a.code = "HTTP_" + std::to_string(r.status);
  if (!core::is_valid_utf8(a.code) || a.code.size() > 64) a.code = "HTTP_" + std::to_string(r.status);
  if (!core::is_valid_utf8(a.message)) a.message.clear();
  return a;
}

// Refusals that mean a trade with this number exists at WeChat Pay in a state only a query tells.
bool trade_exists(std::string_view code) {
  return code == "ORDERPAID" || code == "ORDER_CLOSED" || code == "ORDERCLOSED" ||
         code == "OUT_TRADE_NO_USED";
}

Answer unverified(const core::Error& e) {
  Answer a;
  a.kind = AnswerKind::kUnknown;
  a.code = "ANSWER_NOT_VERIFIED";
  a.message = e.detail;
  return a;
}

}  // namespace

std::string format_beijing_time(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
  return buf;
}

std::string encode_path_segment(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Client::Client(Settings settings, ApiSettings api)
    : settings_(std::move(settings)),
      api_(std::move(api)),
      signer_{settings_.mchid, api_.serial_no, api_.private_key} {}

bool Client::supports(PayMethod m) const { return !path_of(m).empty(); }

core::Result<std::string> Client::app_for(const PaymentRequest& p) const {
  if (settings_.appids.empty()) return fail(ErrorCode::kInvalidArgument, "no appid is configured");
  if (p.appid.empty()) return settings_.appids.front();
  for (const auto& a : settings_.appids) {
    if (a == p.appid) return a;
  }
  return fail(ErrorCode::kInvalidArgument, "appid is not one of this merchant's apps");
}

core::Result<void> Client::validate(const PaymentRequest& p) const {
  return create_body(p).map([](const std::string&) {});
}

core::Result<std::string> Client::create_body(const PaymentRequest& p) const {
  if (!supports(p.method)) {
    return fail(ErrorCode::kInvalidArgument, "WeChat Pay APIv3 has no such method");
  }
  auto appid = app_for(p);
  if (!appid) return tl::unexpected(appid.error());
  if (p.currency != "CNY") {
    return fail(ErrorCode::kInvalidArgument, "WeChat Pay APIv3 domestic payments are in CNY");
  }
  if (p.method == PayMethod::kJsapi && p.payer_openid.empty()) {
    return fail(ErrorCode::kInvalidArgument, "a JSAPI payment needs payer_openid");
  }
  if (p.method == PayMethod::kH5 && p.client_ip.empty()) {
    return fail(ErrorCode::kInvalidArgument, "an H5 payment needs client_ip");
  }
  ojson b;
  b["appid"] = *appid;
  b["mchid"] = settings_.mchid;
  b["description"] = p.description;
  b["out_trade_no"] = p.out_trade_no;
  if (p.expires_at) b["time_expire"] = format_beijing_time(*p.expires_at);
  if (!p.attach.empty()) b["attach"] = p.attach;
  b["notify_url"] = api_.notify_url;
  b["amount"] = {{"total", p.amount}, {"currency", p.currency}};
  if (p.method == PayMethod::kJsapi) b["payer"] = {{"openid", p.payer_openid}};
  if (p.method == PayMethod::kH5) {
    b["scene_info"] = {{"payer_client_ip", p.client_ip}, {"h5_info", {{"type", "Wap"}}}};
  }
  return b.dump();
}

core::Result<net::HttpRequest> Client::signed_request(std::string_view method,
                                                      std::string_view base_url,
                                                      std::string path_and_query,
                                                      std::string body, int64_t now_unix) const {
  const std::string ts = std::to_string(now_unix);
  const std::string nonce = crypto::random_alnum(32);
  auto auth = authorization(signer_, method, path_and_query, ts, nonce, body);
  if (!auth) return tl::unexpected(auth.error());
  net::HttpRequest r;
  r.method = std::string(method);
  r.url = std::string(base_url) + path_and_query;
  r.headers = {{"Authorization", *auth}, {"Accept", "application/json"}};
  if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

core::Result<void> Client::verify(const net::HttpResponse& r, int64_t now_unix) const {
  if (r.truncated) return fail(ErrorCode::kMalformed, "answer too large");
  return verify_signed_headers(settings_.keys, to_headers(r.headers), r.body, now_unix,
                               settings_.max_clock_skew_seconds);
}

core::Result<net::HttpRequest> Client::create_request(std::string_view base_url,
                                                      const PaymentRequest& p,
                                                      int64_t now_unix) const {
  auto body = create_body(p);
  if (!body) return tl::unexpected(body.error());
  return signed_request("POST", base_url,
                        "/v3/pay/transactions/" + std::string(path_of(p.method)),
                        std::move(*body), now_unix);
}

CreateAnswer Client::read_create(const PaymentRequest& p, const net::HttpResponse& r,
                                 int64_t now_unix) const {
  CreateAnswer out;
  if (r.status < 200 || r.status > 299) {
    static_cast<Answer&>(out) = error_answer(r, AnswerKind::kRefused);
    if (trade_exists(out.code)) out.kind = AnswerKind::kUnknown;
    return out;
  }
  // The trade may exist whatever an unverified answer says: only a query can tell.
  if (auto v = verify(r, now_unix); !v) {
    static_cast<Answer&>(out) = unverified(v.error());
    return out;
  }
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  const char* field = p.method == PayMethod::kNative ? "code_url"
                      : p.method == PayMethod::kH5   ? "h5_url"
                                                     : "prepay_id";
  auto it = doc.is_object() ? doc.find(field) : doc.end();
  if (it == doc.end() || !it->is_string() || it->get<std::string>().empty()) {
    out.kind = AnswerKind::kUnknown;
    out.code = "ANSWER_UNREADABLE";
    out.message = std::string("no ") + field;
    return out;
  }
  out.kind = AnswerKind::kOk;
  out.result.emplace_back(field, it->get<std::string>());
  return out;
}

core::Result<Fields> Client::launch(const PaymentRequest& p, const Fields& created,
                                    int64_t now_unix) const {
  auto appid = app_for(p);
  if (!appid) return tl::unexpected(appid.error());
  std::string prepay_id;
  for (const auto& [k, v] : created) {
    if (k == "prepay_id") prepay_id = v;
  }
  const std::string ts = std::to_string(now_unix);
  const std::string nonce = crypto::random_alnum(32);
  if (p.method == PayMethod::kJsapi) {
    auto j = jsapi_pay_params(api_.private_key, *appid, prepay_id, ts, nonce);
    if (!j) return tl::unexpected(j.error());
    return Fields{{"appId", j->app_id},       {"timeStamp", j->time_stamp},
                  {"nonceStr", j->nonce_str}, {"package", j->package},
                  {"signType", j->sign_type}, {"paySign", j->pay_sign}};
  }
  if (p.method == PayMethod::kApp) {
    auto a = app_pay_params(api_.private_key, *appid, settings_.mchid, prepay_id, ts, nonce);
    if (!a) return tl::unexpected(a.error());
    return Fields{{"appid", a->appid},         {"partnerid", a->partnerid},
                  {"prepayid", a->prepayid},   {"package", a->package},
                  {"noncestr", a->noncestr},   {"timestamp", a->timestamp},
                  {"sign", a->sign}};
  }
  return created;  // Native: code_url, H5: h5_url
}

core::Result<net::HttpRequest> Client::query_request(std::string_view base_url,
                                                     std::string_view out_trade_no,
                                                     int64_t now_unix) const {
  return signed_request("GET", base_url,
                        "/v3/pay/transactions/out-trade-no/" + encode_path_segment(out_trade_no) +
                            "?mchid=" + encode_path_segment(settings_.mchid),
                        "", now_unix);
}

QueryAnswer Client::read_query(std::string_view out_trade_no, const net::HttpResponse& r,
                               int64_t now_unix) const {
  QueryAnswer out;
  if (r.status < 200 || r.status > 299) {
    static_cast<Answer&>(out) = error_answer(r, AnswerKind::kRefused);
    if (r.status == 404 || out.code == "ORDER_NOT_EXIST" || out.code == "ORDERNOTEXIST") {
      out.kind = AnswerKind::kNotFound;
    }
    return out;
  }
  if (auto v = verify(r, now_unix); !v) {
    static_cast<Answer&>(out) = unverified(v.error());
    return out;
  }
  auto t = parse_transaction(r.body);
  if (!t || t->event.out_trade_no != out_trade_no) {
    out.kind = AnswerKind::kUnknown;
    out.code = "ANSWER_UNREADABLE";
    out.message = t ? "answer is about another trade" : t.error().detail;
    return out;
  }
  out.kind = AnswerKind::kOk;
  out.trade_state = t->trade_state;
  if (t->event.kind != core::EventKind::kUnsupported) out.event = std::move(t->event);
  return out;
}

core::Result<net::HttpRequest> Client::close_request(std::string_view base_url,
                                                     std::string_view out_trade_no,
                                                     int64_t now_unix) const {
  ojson b;
  b["mchid"] = settings_.mchid;
  return signed_request("POST", base_url,
                        "/v3/pay/transactions/out-trade-no/" + encode_path_segment(out_trade_no) +
                            "/close",
                        b.dump(), now_unix);
}

Answer Client::read_close(const net::HttpResponse& r, int64_t now_unix) const {
  if (r.status < 200 || r.status > 299) {
    Answer a = error_answer(r, AnswerKind::kRefused);
    if (r.status == 404 || a.code == "ORDER_NOT_EXIST" || a.code == "ORDERNOTEXIST") {
      a.kind = AnswerKind::kNotFound;
    }
    return a;
  }
  if (auto v = verify(r, now_unix); !v) return unverified(v.error());
  Answer a;
  a.kind = AnswerKind::kOk;
  return a;
}

core::Result<void> Client::validate_refund(const RefundOrder& r) const {
  if (r.currency != "CNY") {
    return fail(ErrorCode::kInvalidArgument, "WeChat Pay APIv3 domestic refunds are in CNY");
  }
  if (r.reason.size() > 80) return fail(ErrorCode::kInvalidArgument, "reason is longer than 80 bytes");
  if (r.amount <= 0 || r.amount > r.total) {
    return fail(ErrorCode::kInvalidArgument, "amount must be positive and at most the order total");
  }
  return {};
}

core::Result<net::HttpRequest> Client::refund_request(std::string_view base_url,
                                                      const RefundOrder& r,
                                                      int64_t now_unix) const {
  if (auto v = validate_refund(r); !v) return tl::unexpected(v.error());
  ojson b;
  b["out_trade_no"] = r.out_trade_no;
  b["out_refund_no"] = r.out_refund_no;
  if (!r.reason.empty()) b["reason"] = r.reason;
  b["notify_url"] = api_.notify_url;
  b["amount"] = {{"refund", r.amount}, {"total", r.total}, {"currency", r.currency}};
  return signed_request("POST", base_url, "/v3/refund/domestic/refunds", b.dump(), now_unix);
}

core::Result<net::HttpRequest> Client::refund_query_request(std::string_view base_url,
                                                            std::string_view out_refund_no,
                                                            int64_t now_unix) const {
  return signed_request("GET", base_url,
                        "/v3/refund/domestic/refunds/" + encode_path_segment(out_refund_no), "",
                        now_unix);
}

RefundAnswer Client::read_refund(std::string_view out_refund_no, const net::HttpResponse& r,
                                 int64_t now_unix) const {
  RefundAnswer out;
  if (r.status < 200 || r.status > 299) {
    static_cast<Answer&>(out) = error_answer(r, AnswerKind::kRefused);
    if (r.status == 404 || out.code == "RESOURCE_NOT_EXISTS") out.kind = AnswerKind::kNotFound;
    return out;
  }
  if (auto v = verify(r, now_unix); !v) {
    static_cast<Answer&>(out) = unverified(v.error());
    return out;
  }
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  auto text = [&](const char* k) -> std::string {
    auto it = doc.is_object() ? doc.find(k) : doc.end();
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const auto amount = doc.is_object() ? doc.find("amount") : doc.end();
  const bool amounts = amount != doc.end() && amount->is_object() &&
                       amount->contains("refund") && (*amount)["refund"].is_number_integer() &&
                       amount->contains("total") && (*amount)["total"].is_number_integer();
  out.refund_status = text("status");
  if (text("out_refund_no") != out_refund_no || text("out_trade_no").empty() ||
      out.refund_status.empty() || !amounts) {
    out.kind = AnswerKind::kUnknown;
    out.code = "ANSWER_UNREADABLE";
    out.message = "not this refund, or fields missing";
    return out;
  }
  out.kind = AnswerKind::kOk;
  core::PaymentEvent e;
  if (out.refund_status == "SUCCESS") {
    e.kind = core::EventKind::kRefundSucceeded;
  } else if (out.refund_status == "CLOSED") {
    e.kind = core::EventKind::kRefundClosed;
  } else if (out.refund_status == "ABNORMAL") {
    e.kind = core::EventKind::kRefundAbnormal;
  } else {
    return out;  // PROCESSING: not final
  }
  e.provider = "wechatpay_v3";
  e.provider_event = "REFUND_ANSWER/" + out.refund_status;
  e.mchid = settings_.mchid;  // an answer to our own signed request names no mchid
  e.out_trade_no = text("out_trade_no");
  e.transaction_id = text("transaction_id");
  e.out_refund_no = std::string(out_refund_no);
  e.refund_id = text("refund_id");
  e.success_time = text("success_time");
  e.total = (*amount)["total"].get<int64_t>();
  e.refund_amount = (*amount)["refund"].get<int64_t>();
  if (auto c = amount->find("currency"); c != amount->end() && c->is_string()) {
    e.currency = c->get<std::string>();
  }
  e.notification_id = "answer:" + e.business_key();
  out.event = std::move(e);
  return out;
}

}  // namespace paygate::providers::wechatpay_v3

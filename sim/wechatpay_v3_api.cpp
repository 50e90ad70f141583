#include "sim/wechatpay_v3_api.hpp"

#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "http/server.hpp"
#include "http/target.hpp"
#include "providers/wechatpay_v3/api.hpp"
#include "providers/wechatpay_v3/signing.hpp"
#include "sim/sandbox.hpp"
#include "sim/wechatpay_v3.hpp"

namespace paygate::sim {
namespace {

using nlohmann::json;

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string digits(std::size_t n) {
  std::string out;
  for (unsigned char b : crypto::random_bytes(n)) out += char('0' + b % 10);
  return out;
}

bool iequal_hex(std::string_view a, std::string_view b) { return core::iequals(a, b); }

// WeChat Pay's rule for out_trade_no: 6-32 of digits, letters, _ - | *.
bool valid_out_trade_no(std::string_view s) {
  if (s.size() < 6 || s.size() > 32) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '|' &&
        c != '*') {
      return false;
    }
  }
  return true;
}


struct Trade {
  std::string method;  // jsapi, native, h5, app
  json request;        // the create body as parsed: a repeat with equal content is the same call
  std::string state = "NOTPAY";
  std::string prepay_id, code_url, h5_url;
  std::string transaction_id;
  std::string openid;
  int64_t created_at = 0;
  int64_t paid_at = 0;
  std::optional<int64_t> expires_at;
};

struct SimRefund {
  std::string out_trade_no;
  json request;  // as parsed: a repeat with equal content is the same refund
  std::string refund_id;
  std::string status = "PROCESSING";
  int64_t amount = 0;
  int64_t total = 0;
  int64_t created_at = 0;
  int64_t success_at = 0;
};

struct FaultRule {
  std::string operation;  // create, query, close, any
  std::string kind;       // timeout, slow, error, bad-signature, drop-callback
  int count = 1;
  int ms = 0;
};

class Provider final : public http::HttpHandler {
 public:
  Provider(Sandbox sb, ProviderOptions o)
      : sb_(std::make_shared<const Sandbox>(std::move(sb))), o_(std::move(o)) {}
  ~Provider() override { stop(); }

  // Answers every delayed answer now; call while the server still exists.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void handle(http::HttpRequest req, http::Respond respond) override {
    const std::string path = req.target.substr(0, req.target.find('?'));
    if (path.rfind("/sim/", 0) == 0) return respond(control(req, path));
    const std::string tx = "/v3/pay/transactions/";
    const std::string refunds = "/v3/refund/domestic/refunds";
    std::string op;
    if (req.method == "POST" && path.rfind(tx, 0) == 0 && path.find('/', tx.size()) == std::string::npos) {
      op = "create";
    } else if (path.rfind(tx + "out-trade-no/", 0) == 0) {
      op = path.ends_with("/close") && req.method == "POST" ? "close"
           : req.method == "GET"                             ? "query"
                                                             : "";
    } else if (path == refunds && req.method == "POST") {
      op = "refund";
    } else if (path.rfind(refunds + "/", 0) == 0 && req.method == "GET") {
      op = "refund_query";
    }
    if (op.empty()) return respond(error(404, "NOT_FOUND", "无此接口"));
    if (auto bad = authenticate(req)) return respond(std::move(*bad));
    auto fault = take_fault(op);
    if (fault && fault->kind == "error") {
      return respond(error(500, "SYSTEM_ERROR", "系统错误"));
    }
    http::HttpResponse answer = op == "create"         ? create(req, path)
                                : op == "query"        ? query(req, path)
                                : op == "refund"       ? refund(req)
                                : op == "refund_query" ? refund_query(path)
                                                       : close(req, path);
    if (fault && fault->kind == "bad-signature") {
      for (auto& [k, v] : answer.headers) {
        if (k == "Wechatpay-Signature") v = crypto::base64_encode(crypto::random_bytes(256));
      }
    }
    if (fault && (fault->kind == "timeout" || fault->kind == "slow")) {
      const int ms = fault->ms > 0 ? fault->ms : fault->kind == "timeout" ? 30000 : 1000;
      return later(std::move(respond), std::move(answer), ms);
    }
    respond(std::move(answer));
  }

 private:
  // An answer signed as WeChat Pay signs: timestamp, nonce and body with the platform key.
  http::HttpResponse signed_answer(int status, std::string body) const {
    const std::string ts = std::to_string(now_unix());
    const std::string nonce = crypto::random_alnum(32);
    auto sig = sb_->platform_key.sign_sha256(providers::wechatpay_v3::signed_message(ts, nonce, body));
    http::HttpResponse r{status, body.empty() ? "" : "application/json", std::move(body), {}};
    r.headers = {{"Wechatpay-Timestamp", ts},
                 {"Wechatpay-Nonce", nonce},
                 {"Wechatpay-Signature", sig ? crypto::base64_encode(*sig) : ""},
                 {"Wechatpay-Serial", sb_->platform_serial},
                 {"Request-ID", crypto::hex_upper(crypto::random_bytes(16))}};
    return r;
  }

  http::HttpResponse error(int status, const std::string& code, const std::string& message) const {
    return signed_answer(status, json{{"code", code}, {"message", message}}.dump());
  }

  // WeChat Pay's check of the merchant's Authorization header.
  std::optional<http::HttpResponse> authenticate(const http::HttpRequest& req) const {
    if (req.headers.count("Authorization") != 1) {
      return error(401, "SIGN_ERROR", "Authorization 头缺失或重复");
    }
    auto auth = providers::wechatpay_v3::parse_authorization(*req.headers.get("Authorization"));
    if (!auth) return error(401, "SIGN_ERROR", "Authorization 格式错误");
    if (auth->mchid != sb_->mchid) return error(401, "SIGN_ERROR", "商户号与签名不符");
    if (!iequal_hex(auth->serial_no, sb_->merchant_serial)) {
      return error(401, "SIGN_ERROR", "商户证书序列号有误");
    }
    auto ts = providers::wechatpay_v3::parse_timestamp(auth->timestamp);
    if (!ts || std::abs(now_unix() - *ts) >= 300) {
      return error(401, "SIGN_ERROR", "请求时间戳与服务器时间相差过大");
    }
    auto sig = crypto::base64_decode(auth->signature);
    const auto message = providers::wechatpay_v3::request_message(
        req.method, req.target, auth->timestamp, auth->nonce_str, req.body);
    if (!sig || !sb_->merchant_public_key->verify_sha256(message, *sig)) {
      return error(401, "SIGN_ERROR", "签名错误");
    }
    return std::nullopt;
  }

  std::optional<FaultRule> take_fault(const std::string& op) {
    std::lock_guard lock(mu_);
    for (auto it = faults_.begin(); it != faults_.end(); ++it) {
      if (it->operation == op || it->operation == "any") {
        FaultRule f = *it;
        if (--it->count <= 0) faults_.erase(it);
        return f;
      }
    }
    return std::nullopt;
  }

  void later(http::Respond respond, http::HttpResponse answer, int ms) {
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, respond = std::move(respond), answer = std::move(answer), ms] {
      std::unique_lock wait(mu_);
      cv_.wait_for(wait, std::chrono::milliseconds(ms), [this] { return stopping_; });
      wait.unlock();
      respond(answer);
    });
  }

  http::HttpResponse create(const http::HttpRequest& req, const std::string& path) {
    const std::string method = path.substr(std::string("/v3/pay/transactions/").size());
    if (method != "jsapi" && method != "native" && method != "h5" && method != "app") {
      return error(404, "NOT_FOUND", "无此接口");
    }
    json b = json::parse(req.body, nullptr, false);
    if (!b.is_object()) return error(400, "PARAM_ERROR", "请求体不是 JSON 对象");
    auto text = [&](const char* k) -> std::string {
      auto it = b.find(k);
      return it != b.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const std::string appid = text("appid"), mchid = text("mchid"), otn = text("out_trade_no");
    const std::string description = text("description"), notify = text("notify_url");
    if (appid.empty() || mchid.empty() || otn.empty() || description.empty() || notify.empty()) {
      return error(400, "PARAM_ERROR", "缺少必填参数 appid/mchid/description/out_trade_no/notify_url");
    }
    if (mchid != sb_->mchid) return error(400, "PARAM_ERROR", "mchid 与请求头不一致");
    if (appid != sb_->appid) return error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
    if (!valid_out_trade_no(otn)) {
      return error(400, "PARAM_ERROR", "out_trade_no 须为 6-32 位数字、字母、_-|*");
    }
    if (description.size() > 127) return error(400, "PARAM_ERROR", "description 过长");
    if (!(notify.rfind("https://", 0) == 0 || notify.rfind("http://127.0.0.1:", 0) == 0)) {
      return error(400, "PARAM_ERROR", "notify_url 须为 https 地址");
    }
    auto amount = b.find("amount");
    if (amount == b.end() || !amount->is_object() || !amount->contains("total") ||
        !(*amount)["total"].is_number_integer() || (*amount)["total"].get<int64_t>() <= 0) {
      return error(400, "PARAM_ERROR", "amount.total 须为正整数");
    }
    if (amount->contains("currency") && (*amount)["currency"] != "CNY") {
      return error(400, "PARAM_ERROR", "currency 仅支持 CNY");
    }
    if (method == "jsapi" && !(b.contains("payer") && b["payer"].is_object() &&
                               b["payer"].contains("openid") && b["payer"]["openid"].is_string())) {
      return error(400, "PARAM_ERROR", "JSAPI 下单须传 payer.openid");
    }
    if (method == "h5" && !(b.contains("scene_info") && b["scene_info"].is_object() &&
                            b["scene_info"].contains("payer_client_ip") &&
                            b["scene_info"].contains("h5_info"))) {
      return error(400, "PARAM_ERROR", "H5 下单须传 scene_info.payer_client_ip 与 h5_info");
    }
    std::lock_guard lock(mu_);
    auto it = trades_.find(otn);
    if (it != trades_.end()) {
      Trade& t = it->second;
      if (t.state == "SUCCESS" || t.state == "REFUND") return error(400, "ORDERPAID", "该订单已支付");
      if (t.state == "CLOSED") return error(400, "ORDER_CLOSED", "该订单已关闭");
      if (t.request != b || t.method != method) {
        return error(400, "OUT_TRADE_NO_USED", "商户订单号重复");
      }
      return signed_answer(200, prepay_answer(t));  // the same call: the same prepay
    }
    Trade t;
    t.method = method;
    t.request = b;
    t.created_at = now_unix();
    t.prepay_id = "wx" + std::to_string(t.created_at) + crypto::hex_lower(crypto::random_bytes(9));
    t.code_url = "weixin://wxpay/bizpayurl?pr=" + crypto::random_alnum(7);
    t.h5_url = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + t.prepay_id +
               "&package=" + digits(10);
    if (method == "jsapi") t.openid = b["payer"]["openid"].get<std::string>();
    trades_.emplace(otn, t);
    return signed_answer(200, prepay_answer(t));
  }

  static std::string prepay_answer(const Trade& t) {
    if (t.method == "native") return json{{"code_url", t.code_url}}.dump();
    if (t.method == "h5") return json{{"h5_url", t.h5_url}}.dump();
    return json{{"prepay_id", t.prepay_id}}.dump();
  }

  PaymentSpec spec_of(const std::string& otn, const Trade& t) const {
    PaymentSpec p;
    p.out_trade_no = otn;
    p.amount = t.request["amount"]["total"].get<int64_t>();
    p.trade_state = t.state;
    p.transaction_id = t.transaction_id;
    p.trade_type = t.method == "h5" ? "MWEB" : t.method == "native" ? "NATIVE"
                   : t.method == "app" ? "APP" : "JSAPI";
    p.attach = t.request.value("attach", "");
    p.openid = t.openid;
    p.success_time = t.paid_at;
    return p;
  }

  // The out_trade_no of /v3/pay/transactions/out-trade-no/{otn}[/close].
  static std::string trade_of(const std::string& path) {
    std::string rest = path.substr(std::string("/v3/pay/transactions/out-trade-no/").size());
    if (rest.ends_with("/close")) rest.resize(rest.size() - 6);
    return http::percent_decode(rest);
  }

  http::HttpResponse query(const http::HttpRequest& req, const std::string& path) {
    const auto q = req.target.find('?');
    if (q == std::string::npos || req.target.substr(q + 1) != "mchid=" + sb_->mchid) {
      return error(400, "PARAM_ERROR", "mchid 缺失或与请求头不一致");
    }
    std::lock_guard lock(mu_);
    auto it = trades_.find(trade_of(path));
    if (it == trades_.end()) return error(404, "ORDER_NOT_EXIST", "订单不存在");
    return signed_answer(200, transaction_json(*sb_, spec_of(it->first, it->second)).dump());
  }

  http::HttpResponse close(const http::HttpRequest& req, const std::string& path) {
    json b = json::parse(req.body, nullptr, false);
    if (!b.is_object() || b.value("mchid", "") != sb_->mchid) {
      return error(400, "PARAM_ERROR", "mchid 缺失或与请求头不一致");
    }
    std::lock_guard lock(mu_);
    auto it = trades_.find(trade_of(path));
    if (it == trades_.end()) return error(404, "ORDER_NOT_EXIST", "订单不存在");
    Trade& t = it->second;
    if (t.state == "SUCCESS" || t.state == "REFUND") return error(400, "ORDERPAID", "该订单已支付");
    if (o_.seconds_to_close > 0 && now_unix() - t.created_at < o_.seconds_to_close) {
      return error(400, "INVALID_REQUEST", "订单创建后须满 5 分钟才可关闭");
    }
    t.state = "CLOSED";
    return signed_answer(204, "");
  }

  json refund_object(const std::string& out_refund_no, const SimRefund& r) const {
    nlohmann::ordered_json j;
    j["refund_id"] = r.refund_id;
    j["out_refund_no"] = out_refund_no;
    j["transaction_id"] = trades_.at(r.out_trade_no).transaction_id;
    j["out_trade_no"] = r.out_trade_no;
    j["channel"] = "ORIGINAL";
    j["user_received_account"] = "支付用户零钱";
    if (r.status == "SUCCESS") {
      j["success_time"] = providers::wechatpay_v3::format_beijing_time(r.success_at);
    }
    j["create_time"] = providers::wechatpay_v3::format_beijing_time(r.created_at);
    j["status"] = r.status;
    j["funds_account"] = "AVAILABLE";
    j["amount"] = {{"total", r.total},        {"refund", r.amount},
                   {"payer_total", r.total},  {"payer_refund", r.amount},
                   {"settlement_refund", r.amount}, {"settlement_total", r.total},
                   {"discount_refund", 0},    {"currency", "CNY"}};
    return j;
  }

  // WeChat Pay's refund rules: a paid trade, the order's own total, never past what is left,
  // at most 50 refunds; the same out_refund_no with the same content is the same refund.
  http::HttpResponse refund(const http::HttpRequest& req) {
    json b = json::parse(req.body, nullptr, false);
    if (!b.is_object()) return error(400, "PARAM_ERROR", "请求体不是 JSON 对象");
    const std::string otn = b.value("out_trade_no", ""), orn = b.value("out_refund_no", "");
    auto amount = b.find("amount");
    if (otn.empty() || orn.empty() || orn.size() > 64 || amount == b.end() ||
        !amount->is_object() || !(*amount)["refund"].is_number_integer() ||
        !(*amount)["total"].is_number_integer() || (*amount).value("currency", "") != "CNY") {
      return error(400, "PARAM_ERROR", "缺少 out_trade_no/out_refund_no/amount.refund/total/currency");
    }
    const int64_t want = (*amount)["refund"].get<int64_t>(), total = (*amount)["total"].get<int64_t>();
    std::lock_guard lock(mu_);
    auto t = trades_.find(otn);
    if (t == trades_.end()) return error(404, "RESOURCE_NOT_EXISTS", "订单不存在");
    if (auto r = refunds_.find(orn); r != refunds_.end()) {
      if (r->second.request != b) return error(400, "INVALID_REQUEST", "退款单号已用于其他退款");
      return signed_answer(200, refund_object(orn, r->second).dump());
    }
    if (t->second.state != "SUCCESS" && t->second.state != "REFUND") {
      return error(400, "INVALID_REQUEST", "订单未支付");
    }
    const int64_t paid = t->second.request["amount"]["total"].get<int64_t>();
    if (total != paid) return error(400, "PARAM_ERROR", "订单金额与原订单不符");
    int64_t taken = 0, count = 0;
    for (const auto& [no, r] : refunds_) {
      if (r.out_trade_no != otn) continue;
      ++count;
      if (r.status != "CLOSED") taken += r.amount;
    }
    if (count >= 50) return error(400, "INVALID_REQUEST", "退款次数超过限制");
    if (want <= 0 || want > paid - taken) {
      return error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额");
    }
    SimRefund r;
    r.out_trade_no = otn;
    r.request = b;
    r.refund_id = "5030" + digits(25);
    r.amount = want;
    r.total = paid;
    r.created_at = now_unix();
    refunds_.emplace(orn, r);
    const std::string notify = b.value("notify_url", t->second.request["notify_url"].get<std::string>());
    // Like WeChat Pay: PROCESSING now, SUCCESS (and its callback) a moment later.
    threads_.emplace_back([this, orn, notify] {
      {
        std::unique_lock wait(mu_);
        if (cv_.wait_for(wait, std::chrono::milliseconds(100), [this] { return stopping_; })) return;
        auto& done = refunds_.at(orn);
        done.status = "SUCCESS";
        done.success_at = now_unix();
        trades_.at(done.out_trade_no).state = "REFUND";
      }
      if (take_fault("refund_callback")) return;
      std::unique_lock lock(mu_);
      const auto& done = refunds_.at(orn);
      RefundSpec spec{done.out_trade_no, orn, done.total, done.amount, "SUCCESS",
                      trades_.at(done.out_trade_no).transaction_id, done.refund_id};
      lock.unlock();
      if (auto note = build_refund(*sb_, spec, false)) send_callback(*note, notify);
    });
    return signed_answer(200, refund_object(orn, r).dump());
  }

  http::HttpResponse refund_query(const std::string& path) {
    const std::string orn =
        http::percent_decode(path.substr(std::string("/v3/refund/domestic/refunds/").size()));
    std::lock_guard lock(mu_);
    auto r = refunds_.find(orn);
    if (r == refunds_.end()) return error(404, "RESOURCE_NOT_EXISTS", "退款单不存在");
    return signed_answer(200, refund_object(orn, r->second).dump());
  }

  http::HttpResponse control(const http::HttpRequest& req, const std::string& path) {
    auto plain = [](int status, const json& j) {
      return http::HttpResponse{status, "application/json", j.dump(), {}};
    };
    if (path == "/sim/faults" && req.method == "POST") {
      json b = json::parse(req.body, nullptr, false);
      FaultRule f;
      if (!b.is_object()) return plain(400, {{"error", "body must be a JSON object"}});
      f.operation = b.value("operation", "any");
      f.kind = b.value("kind", "");
      f.count = b.value("count", 1);
      f.ms = b.value("ms", 0);
      static const std::set<std::string> kinds = {"timeout", "slow", "error", "bad-signature",
                                                  "drop-callback"};
      if (!kinds.count(f.kind) || f.count < 1) return plain(400, {{"error", "unknown fault"}});
      if (f.kind == "drop-callback") {
        f.operation = f.operation == "refund" ? "refund_callback" : "pay";
      }
      std::lock_guard lock(mu_);
      faults_.push_back(f);
      return plain(200, {{"queued", f.kind}});
    }
    const std::string prefix = "/sim/trades/";
    if (path.rfind(prefix, 0) != 0) return plain(404, {{"error", "no such route"}});
    std::string otn = path.substr(prefix.size());
    const bool pay = otn.ends_with("/pay") && req.method == "POST";
    const bool notify_again = otn.ends_with("/notify") && req.method == "POST";
    if (pay) otn.resize(otn.size() - 4);
    if (notify_again) otn.resize(otn.size() - 7);
    otn = http::percent_decode(otn);
    std::unique_lock lock(mu_);
    auto it = trades_.find(otn);
    if (it == trades_.end()) return plain(404, {{"error", "no such trade"}});
    Trade& t = it->second;
    if (notify_again) {
      // The paid trade's callback once more (late, or sent again by WeChat Pay).
      if (t.state != "SUCCESS") return plain(409, {{"error", "the trade is " + t.state}});
      const PaymentSpec spec = spec_of(otn, t);
      const std::string notify = t.request["notify_url"].get<std::string>();
      lock.unlock();
      auto note = build_payment(*sb_, spec, false);
      if (!note) return plain(500, {{"error", note.error().detail}});
      send_callback(*note, notify);
      return plain(200, {{"callback", "sent"}});
    }
    if (!pay) return plain(200, transaction_json(*sb_, spec_of(otn, t)));
    if (t.state != "NOTPAY") return plain(409, {{"error", "the trade is " + t.state}});
    if (auto te = t.request.find("time_expire"); te != t.request.end()) {
      // Beijing time "YYYY-MM-DDTHH:MM:SS+08:00": compare as text with now in the same form.
      if (te->is_string() &&
          te->get<std::string>() < providers::wechatpay_v3::format_beijing_time(now_unix())) {
        return plain(409, {{"error", "the trade expired"}});
      }
    }
    t.state = "SUCCESS";
    t.paid_at = now_unix();
    t.transaction_id = "4200" + digits(24);
    if (t.openid.empty()) t.openid = "o" + crypto::random_alnum(27);
    const PaymentSpec spec = spec_of(otn, t);
    const std::string notify = t.request["notify_url"].get<std::string>();
    lock.unlock();
    const bool drop = take_fault("pay").has_value();
    auto note = build_payment(*sb_, spec, false);
    if (!note) return plain(500, {{"error", note.error().detail}});
    if (!drop) send_callback(*note, notify);
    return plain(200, {{"trade", transaction_json(*sb_, spec)},
                       {"callback", drop ? "dropped" : "sent"}});
  }

  // WeChat Pay's retry schedule can outlast the simulator: the sender is not waited for.
  void send_callback(SimNotification n, std::string notify) const {
    std::thread([sb = sb_, n = std::move(n), notify = std::move(notify), scale = o_.time_scale] {
      WechatpayV3Sender sender(*sb, notify);
      DriveOptions d;
      d.concurrency = 1;
      d.time_scale = scale;
      auto report = drive(sender, {n}, d);
      std::cerr << "sim provider: callback for " << n.out_trade_no << ": "
                << (report.acked ? "acknowledged" : "not acknowledged") << " after "
                << report.requests << " request(s)\n";
    }).detach();
  }

  std::shared_ptr<const Sandbox> sb_;
  ProviderOptions o_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, Trade> trades_;
  std::map<std::string, SimRefund> refunds_;  // by out_refund_no
  std::vector<FaultRule> faults_;
  std::vector<std::thread> threads_;
};

}  // namespace

int run_provider(const ProviderOptions& o) {
  auto sb = load_sandbox(o.dir);
  if (!sb) {
    std::cerr << "paygate sim provider: " << sb.error().detail << "\n";
    return 2;
  }
  if (!sb->merchant_public_key || sb->merchant_serial.empty()) {
    std::cerr << "paygate sim provider: the sandbox in " << sb->dir
              << " has no merchant API key (made before payments out: re-run sim init)\n";
    return 2;
  }
  const std::string listen = o.listen.empty() ? sb->provider_listen : o.listen;
  http::ServerOptions so;
  auto address = http::parse_listen(listen);
  if (!address) {
    std::cerr << "paygate sim provider: --listen must be HOST:PORT\n";
    return 2;
  }
  so.address = address->host;
  so.port = address->port;
  so.threads = 2;
  so.request_timeout = std::chrono::milliseconds(120000);
  so.drain_timeout = std::chrono::milliseconds(1000);
  Provider provider(*sb, o);
  auto server = http::HttpServer::create(so, provider);
  if (!server) {
    std::cerr << "paygate sim provider: " << server.error().detail << "\n";
    return 1;
  }
  if (!o.port_file.empty()) {
    const std::string tmp = o.port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    std::rename(tmp.c_str(), o.port_file.c_str());
  }
  std::cerr << "paygate sim provider (WeChat Pay APIv3) listening on " << so.address << ":"
            << (*server)->port() << "\n";
  (*server)->run();
  provider.stop();
  return 0;
}

}  // namespace paygate::sim

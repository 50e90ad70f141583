#include "providers/wechatpay_v3/api.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"

namespace paygate::providers::wechatpay_v3 {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1718000000;

struct Keys {
  crypto::PrivateKey merchant = *crypto::PrivateKey::generate_rsa(2048);
  crypto::PrivateKey platform = *crypto::PrivateKey::generate_rsa(2048);
};
const Keys& keys() {
  static const Keys k;
  return k;
}

Client client() {
  Settings s;
  s.mchid = "1900000109";
  s.appids = {"wxd678efh567hg6787", "wx2421b1c4370ec43b"};
  s.keys = {{"PUB_KEY_ID_0119000001092024", *crypto::PublicKey::from_pem(keys().platform.public_pem())}};
  ApiSettings a;
  a.serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
  a.private_key = keys().merchant;
  a.notify_url = "https://pay.example.com/notify/wechatpay/v3/m1";
  return Client(s, a);
}

PaymentRequest jsapi() {
  PaymentRequest p;
  p.method = PayMethod::kJsapi;
  p.out_trade_no = "order-1";
  p.amount = 100;
  p.description = "Image形象店-深圳腾大-QQ公仔";
  p.expires_at = 1718003600;
  p.payer_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
  return p;
}

// An answer as WeChat Pay signs it: Wechatpay-* headers over timestamp, nonce and body.
net::HttpResponse signed_answer(long status, std::string body, int64_t ts = kNow,
                                std::string serial = "PUB_KEY_ID_0119000001092024") {
  net::HttpResponse r;
  r.status = status;
  const std::string t = std::to_string(ts), nonce = "n0nce";
  auto sig = keys().platform.sign_sha256(signed_message(t, nonce, body));
  r.headers = {{"Wechatpay-Timestamp", t},
               {"Wechatpay-Nonce", nonce},
               {"Wechatpay-Signature", crypto::base64_encode(*sig)},
               {"Wechatpay-Serial", serial}};
  r.body = std::move(body);
  return r;
}

net::HttpResponse error_answer(long status, const std::string& code) {
  net::HttpResponse r;
  r.status = status;
  r.body = json{{"code", code}, {"message", "something"}}.dump();
  return r;
}

std::string header(const net::HttpRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

TEST(WechatPayV3Api, CreateSignsTheExactBodyAndPathAsWechatPayChecksThem) {
  auto c = client();
  auto req = c.create_request("https://api.mch.weixin.qq.com", jsapi(), kNow);
  ASSERT_TRUE(req) << req.error().detail;
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->url, "https://api.mch.weixin.qq.com/v3/pay/transactions/jsapi");
  auto body = json::parse(req->body);
  EXPECT_EQ(body["appid"], "wxd678efh567hg6787");
  EXPECT_EQ(body["mchid"], "1900000109");
  EXPECT_EQ(body["out_trade_no"], "order-1");
  EXPECT_EQ(body["time_expire"], "2024-06-10T15:13:20+08:00");
  EXPECT_EQ(body["amount"]["total"], 100);
  EXPECT_EQ(body["payer"]["openid"], "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
  EXPECT_EQ(body["notify_url"], "https://pay.example.com/notify/wechatpay/v3/m1");
  EXPECT_EQ(header(*req, "Content-Type"), "application/json");

  auto auth = parse_authorization(header(*req, "Authorization"));
  ASSERT_TRUE(auth) << auth.error().detail;
  EXPECT_EQ(auth->mchid, "1900000109");
  EXPECT_EQ(auth->serial_no, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
  EXPECT_EQ(auth->timestamp, std::to_string(kNow));
  auto pub = *crypto::PublicKey::from_pem(keys().merchant.public_pem());
  const auto message = request_message("POST", "/v3/pay/transactions/jsapi", auth->timestamp,
                                       auth->nonce_str, req->body);
  EXPECT_TRUE(pub.verify_sha256(message, *crypto::base64_decode(auth->signature)));
  // One byte more in the body and the signature no longer holds.
  EXPECT_FALSE(pub.verify_sha256(message + " ", *crypto::base64_decode(auth->signature)));
}

TEST(WechatPayV3Api, TheSameRequestGivesTheSameBodySoARepeatIsTheIdenticalCall) {
  auto c = client();
  EXPECT_EQ(*c.create_body(jsapi()), *c.create_body(jsapi()));
  auto other = jsapi();
  other.amount = 101;
  EXPECT_NE(*c.create_body(jsapi()), *c.create_body(other));
}

TEST(WechatPayV3Api, CreateRefusesWhatWechatPayWouldRefuse) {
  auto c = client();
  auto p = jsapi();
  p.payer_openid.clear();
  EXPECT_EQ(c.create_body(p).error().code, core::ErrorCode::kInvalidArgument);
  p = jsapi();
  p.appid = "wx-not-ours";
  EXPECT_EQ(c.create_body(p).error().code, core::ErrorCode::kInvalidArgument);
  p = jsapi();
  p.currency = "USD";
  EXPECT_FALSE(c.create_body(p));
  p = jsapi();
  p.method = PayMethod::kH5;  // needs the buyer's address
  EXPECT_FALSE(c.create_body(p));
  p.client_ip = "203.0.113.9";
  auto h5 = json::parse(*c.create_body(p));
  EXPECT_EQ(h5["scene_info"]["payer_client_ip"], "203.0.113.9");
  EXPECT_FALSE(h5.contains("payer"));
  p.method = PayMethod::kPrecreate;  // Alipay's
  EXPECT_FALSE(c.create_body(p));
  p = jsapi();
  p.appid = "wx2421b1c4370ec43b";
  EXPECT_EQ(json::parse(*c.create_body(p))["appid"], "wx2421b1c4370ec43b");
}

TEST(WechatPayV3Api, ASignedAnswerIsBelievedAndAnythingElseLeavesTheOutcomeUnknown) {
  auto c = client();
  auto ok = c.read_create(jsapi(), signed_answer(200, R"({"prepay_id":"wx201410272009395522657a690389285100"})"), kNow);
  EXPECT_EQ(ok.kind, AnswerKind::kOk);
  ASSERT_EQ(ok.result.size(), 1u);
  EXPECT_EQ(ok.result[0].second, "wx201410272009395522657a690389285100");

  auto forged = signed_answer(200, R"({"prepay_id":"wx1"})");
  forged.body = R"({"prepay_id":"wx2"})";
  EXPECT_EQ(c.read_create(jsapi(), forged, kNow).kind, AnswerKind::kUnknown);
  auto unsigned_answer = forged;
  unsigned_answer.headers.clear();
  EXPECT_EQ(c.read_create(jsapi(), unsigned_answer, kNow).code, "ANSWER_NOT_VERIFIED");
  EXPECT_EQ(c.read_create(jsapi(), signed_answer(200, "{}", kNow - 600), kNow).kind,
            AnswerKind::kUnknown);  // outside the replay window
  EXPECT_EQ(c.read_create(jsapi(), signed_answer(200, "{}", kNow, "PUB_KEY_ID_OTHER"), kNow).kind,
            AnswerKind::kUnknown);
  auto empty = c.read_create(jsapi(), signed_answer(200, R"({"prepay_id":""})"), kNow);
  EXPECT_EQ(empty.kind, AnswerKind::kUnknown);
  EXPECT_EQ(empty.code, "ANSWER_UNREADABLE");
}

TEST(WechatPayV3Api, ARefusalIsDefiniteUnlessTheTradeAlreadyExists) {
  auto c = client();
  auto refused = c.read_create(jsapi(), error_answer(400, "PARAM_ERROR"), kNow);
  EXPECT_EQ(refused.kind, AnswerKind::kRefused);
  EXPECT_EQ(refused.code, "PARAM_ERROR");
  EXPECT_EQ(refused.message, "something");
  EXPECT_EQ(c.read_create(jsapi(), error_answer(400, "ORDERPAID"), kNow).kind, AnswerKind::kUnknown);
  EXPECT_EQ(c.read_create(jsapi(), error_answer(403, "OUT_TRADE_NO_USED"), kNow).kind,
            AnswerKind::kUnknown);
  net::HttpResponse garbage;
  garbage.status = 401;
  garbage.body = "<html>";
  auto g = c.read_create(jsapi(), garbage, kNow);
  EXPECT_EQ(g.kind, AnswerKind::kRefused);
  EXPECT_EQ(g.code, "HTTP_401");
}

TEST(WechatPayV3Api, JsapiAndAppLaunchParametersAreSignedWithTheMerchantKey) {
  auto c = client();
  auto pub = *crypto::PublicKey::from_pem(keys().merchant.public_pem());
  auto fields = c.launch(jsapi(), {{"prepay_id", "wx2014"}}, kNow);
  ASSERT_TRUE(fields);
  std::map<std::string, std::string> f(fields->begin(), fields->end());
  EXPECT_EQ(f["appId"], "wxd678efh567hg6787");
  EXPECT_EQ(f["package"], "prepay_id=wx2014");
  EXPECT_EQ(f["signType"], "RSA");
  EXPECT_EQ(f["timeStamp"], std::to_string(kNow));
  EXPECT_TRUE(pub.verify_sha256(f["appId"] + "\n" + f["timeStamp"] + "\n" + f["nonceStr"] + "\n" +
                                    f["package"] + "\n",
                                *crypto::base64_decode(f["paySign"])));
  auto app = jsapi();
  app.method = PayMethod::kApp;
  auto a = c.launch(app, {{"prepay_id", "wx2014"}}, kNow);
  ASSERT_TRUE(a);
  std::map<std::string, std::string> af(a->begin(), a->end());
  EXPECT_EQ(af["partnerid"], "1900000109");
  EXPECT_EQ(af["package"], "Sign=WXPay");
  EXPECT_TRUE(pub.verify_sha256(af["appid"] + "\n" + af["timestamp"] + "\n" + af["noncestr"] +
                                    "\n" + af["prepayid"] + "\n",
                                *crypto::base64_decode(af["sign"])));
  auto native = jsapi();
  native.method = PayMethod::kNative;
  auto n = c.launch(native, {{"code_url", "weixin://wxpay/bizpayurl?pr=abc"}}, kNow);
  ASSERT_TRUE(n);
  EXPECT_EQ((*n)[0].second, "weixin://wxpay/bizpayurl?pr=abc");
}

std::string transaction(const std::string& state, const std::string& out_trade_no = "order-1") {
  json t = {{"appid", "wxd678efh567hg6787"}, {"mchid", "1900000109"},
            {"out_trade_no", out_trade_no},   {"trade_state", state},
            {"amount", {{"total", 100}, {"payer_total", 100}, {"currency", "CNY"}}}};
  if (state == "SUCCESS" || state == "REFUND" || state == "CLOSED") {
    t["transaction_id"] = "4200000000000000000000000001";
  }
  if (state == "SUCCESS") t["success_time"] = "2024-06-10T15:00:00+08:00";
  return t.dump();
}

TEST(WechatPayV3Api, AQueryAnswerBecomesAnEventOnlyInAFinalState) {
  auto c = client();
  auto req = c.query_request("https://api.mch.weixin.qq.com", "order/1 x", kNow);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->method, "GET");
  EXPECT_EQ(req->url,
            "https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/order%2F1%20x?mchid=1900000109");
  EXPECT_TRUE(req->body.empty());

  auto paid = c.read_query("order-1", signed_answer(200, transaction("SUCCESS")), kNow);
  EXPECT_EQ(paid.kind, AnswerKind::kOk);
  EXPECT_EQ(paid.trade_state, "SUCCESS");
  ASSERT_TRUE(paid.event);
  EXPECT_EQ(paid.event->kind, core::EventKind::kPaymentSucceeded);
  EXPECT_EQ(paid.event->total, 100);
  EXPECT_EQ(paid.event->transaction_id, "4200000000000000000000000001");
  // Asked twice, the same fact has the same id: the inbox keeps it once.
  auto again = c.read_query("order-1", signed_answer(200, transaction("SUCCESS")), kNow);
  EXPECT_EQ(again.event->notification_id, paid.event->notification_id);
  EXPECT_EQ(paid.event->business_key(), again.event->business_key());

  auto refunded = c.read_query("order-1", signed_answer(200, transaction("REFUND")), kNow);
  ASSERT_TRUE(refunded.event);
  EXPECT_EQ(refunded.event->kind, core::EventKind::kPaymentSucceeded);
  auto closed = c.read_query("order-1", signed_answer(200, transaction("CLOSED")), kNow);
  ASSERT_TRUE(closed.event);
  EXPECT_EQ(closed.event->kind, core::EventKind::kPaymentClosed);
  for (const char* waiting : {"NOTPAY", "USERPAYING", "PAYERROR", "ACCEPT"}) {
    auto w = c.read_query("order-1", signed_answer(200, transaction(waiting)), kNow);
    EXPECT_EQ(w.kind, AnswerKind::kOk) << waiting;
    EXPECT_EQ(w.trade_state, waiting);
    EXPECT_FALSE(w.event) << waiting;
  }
  EXPECT_EQ(c.read_query("order-1", error_answer(404, "ORDER_NOT_EXIST"), kNow).kind,
            AnswerKind::kNotFound);
  // Not believed: another trade's answer, a forged one, an unreadable one.
  EXPECT_EQ(c.read_query("order-1", signed_answer(200, transaction("SUCCESS", "order-2")), kNow).kind,
            AnswerKind::kUnknown);
  auto forged = signed_answer(200, transaction("NOTPAY"));
  forged.body = transaction("SUCCESS");
  auto f = c.read_query("order-1", forged, kNow);
  EXPECT_EQ(f.kind, AnswerKind::kUnknown);
  EXPECT_FALSE(f.event);
  EXPECT_EQ(c.read_query("order-1", signed_answer(200, "[1]"), kNow).kind, AnswerKind::kUnknown);
}

TEST(WechatPayV3Api, CloseIsASignedPostAndItsEmptyAnswerIsVerifiedToo) {
  auto c = client();
  auto req = c.close_request("https://api.mch.weixin.qq.com", "order-1", kNow);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->url, "https://api.mch.weixin.qq.com/v3/pay/transactions/out-trade-no/order-1/close");
  EXPECT_EQ(json::parse(req->body), (json{{"mchid", "1900000109"}}));
  EXPECT_EQ(c.read_close(signed_answer(204, ""), kNow).kind, AnswerKind::kOk);
  auto unsigned_204 = signed_answer(204, "");
  unsigned_204.headers.pop_back();
  EXPECT_EQ(c.read_close(unsigned_204, kNow).kind, AnswerKind::kUnknown);
  EXPECT_EQ(c.read_close(error_answer(400, "ORDERPAID"), kNow).code, "ORDERPAID");
}

std::string refund_object(const std::string& status, const std::string& orn = "R1") {
  json j = {{"refund_id", "50300000000000000000000000001"}, {"out_refund_no", orn},
            {"transaction_id", "4200000000000000000000000001"}, {"out_trade_no", "order-1"},
            {"status", status}, {"amount", {{"total", 100}, {"refund", 30}, {"currency", "CNY"}}}};
  if (status == "SUCCESS") j["success_time"] = "2024-06-10T16:00:00+08:00";
  return j.dump();
}

TEST(WechatPayV3Api, ARefundIsSignedWithItsNumberAndItsAnswerMapsToARefundEvent) {
  auto c = client();
  RefundOrder r{"order-1", "R1", 30, 100, "CNY", "returned"};
  auto req = c.refund_request("https://api.mch.weixin.qq.com", r, kNow);
  ASSERT_TRUE(req) << req.error().detail;
  EXPECT_EQ(req->url, "https://api.mch.weixin.qq.com/v3/refund/domestic/refunds");
  auto body = json::parse(req->body);
  EXPECT_EQ(body["out_refund_no"], "R1");
  EXPECT_EQ(body["amount"], (json{{"refund", 30}, {"total", 100}, {"currency", "CNY"}}));
  EXPECT_EQ(body["notify_url"], "https://pay.example.com/notify/wechatpay/v3/m1");
  EXPECT_TRUE(parse_authorization(header(*req, "Authorization")));
  EXPECT_FALSE(c.refund_request("x", RefundOrder{"order-1", "R1", 101, 100, "CNY", ""}, kNow));
  EXPECT_FALSE(c.refund_request("x", RefundOrder{"order-1", "R1", 1, 100, "USD", ""}, kNow));

  auto processing = c.read_refund("R1", signed_answer(200, refund_object("PROCESSING")), kNow);
  EXPECT_EQ(processing.kind, AnswerKind::kOk);
  EXPECT_EQ(processing.refund_status, "PROCESSING");
  EXPECT_FALSE(processing.event);  // not final
  auto done = c.read_refund("R1", signed_answer(200, refund_object("SUCCESS")), kNow);
  ASSERT_TRUE(done.event);
  EXPECT_EQ(done.event->kind, core::EventKind::kRefundSucceeded);
  EXPECT_EQ(done.event->refund_amount, 30);
  EXPECT_EQ(done.event->total, 100);
  EXPECT_EQ(done.event->mchid, "1900000109");
  EXPECT_EQ(done.event->out_refund_no, "R1");
  auto closed = c.read_refund("R1", signed_answer(200, refund_object("CLOSED")), kNow);
  ASSERT_TRUE(closed.event);
  EXPECT_EQ(closed.event->kind, core::EventKind::kRefundClosed);
  // Another refund's answer, a forged one, a refusal, an unknown number.
  EXPECT_EQ(c.read_refund("R1", signed_answer(200, refund_object("SUCCESS", "R2")), kNow).kind,
            AnswerKind::kUnknown);
  auto forged = signed_answer(200, refund_object("PROCESSING"));
  forged.body = refund_object("SUCCESS");
  EXPECT_FALSE(c.read_refund("R1", forged, kNow).event);
  EXPECT_EQ(c.read_refund("R1", error_answer(400, "NOT_ENOUGH"), kNow).kind, AnswerKind::kRefused);
  EXPECT_EQ(c.read_refund("R1", error_answer(404, "RESOURCE_NOT_EXISTS"), kNow).kind,
            AnswerKind::kNotFound);
  auto q = c.refund_query_request("https://h", "R 1/x", kNow);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->url, "https://h/v3/refund/domestic/refunds/R%201%2Fx");
}

}  // namespace
}  // namespace paygate::providers::wechatpay_v3

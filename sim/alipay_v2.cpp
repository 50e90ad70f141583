#include "sim/alipay_v2.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "crypto/block_cipher.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "providers/alipay/adapter.hpp"
#include "providers/wechatpay_v2/adapter.hpp"

namespace paygate::sim {
namespace {

using core::ErrorCode;
using core::fail;

std::string beijing(const char* format) {
  std::time_t t = std::time(nullptr) + 8 * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string digits(std::size_t n) {
  std::string out;
  for (unsigned char b : crypto::random_bytes(n)) out += char('0' + b % 10);
  return out;
}

Outgoing flip_if_tampered(Outgoing out, std::optional<Fault> fault) {
  if (fault == Fault::kTampered && !out.body.empty()) out.body[out.body.size() / 2] ^= 0x01;
  return out;
}

}  // namespace

namespace {

std::string yuan(int64_t fen) {
  char out[32];
  std::snprintf(out, sizeof out, "%lld.%02lld", static_cast<long long>(fen / 100),
                static_cast<long long>(fen % 100));
  return out;
}

// Alipay keeps one 28-digit trade number for the trade's life: derived from the order here.
std::string trade_no(const std::string& out_trade_no) {
  std::string out = "2024";
  for (unsigned char b : crypto::sha256(out_trade_no).substr(0, 24)) out += char('0' + b % 10);
  return out;
}

// The fields every async notification of one trade carries; `extra` adds the event's own.
core::Result<SimNotification> alipay_notification(const Sandbox& sb, const PaymentSpec& p,
                                                  const std::string& trade_status,
                                                  providers::FormParams extra) {
  if (!sb.alipay_key) return fail(ErrorCode::kInvalidArgument, "the sandbox has no Alipay key");
  const std::string total = yuan(p.amount);
  const std::string now = beijing("%Y-%m-%d %H:%M:%S");
  SimNotification n;
  n.id = crypto::hex_lower(crypto::random_bytes(16));
  n.event_type = trade_status;
  n.out_trade_no = p.out_trade_no;
  providers::FormParams f = {
      {"gmt_create", now},       {"charset", "utf-8"},
      {"seller_email", "sandbox@example.com"},
      {"subject", "paygate 沙箱订单"},
      {"buyer_id", "2088" + digits(12)},
      {"notify_id", n.id},       {"notify_type", "trade_status_sync"},
      {"trade_status", trade_status},
      {"app_id", p.appid.empty() ? sb.alipay_app_id : p.appid},
      {"seller_id", p.mchid.empty() ? sb.alipay_seller_id : p.mchid},
      {"notify_time", now},      {"version", "1.0"},
      {"out_trade_no", p.out_trade_no},
      {"total_amount", total},
      // One trade number per order, as Alipay keeps it for the trade's life.
      {"trade_no", trade_no(p.out_trade_no)},
      {"auth_app_id", sb.alipay_app_id},
      {"sign_type", "RSA2"}};
  for (auto& kv : extra) {
    if (kv.first == "gmt_payment" || kv.first == "gmt_refund" || kv.first == "gmt_close") {
      kv.second = now;
    }
    f.push_back(std::move(kv));
  }
  auto sig = sb.alipay_key->sign_sha256(providers::alipay::notify_sign_content(f));
  if (!sig) return tl::unexpected(sig.error());
  f.emplace_back("sign", crypto::base64_encode(*sig));
  n.body = providers::encode_form(f);
  return n;
}

}  // namespace

core::Result<SimNotification> build_alipay_payment(const Sandbox& sb, const PaymentSpec& p) {
  const std::string total = yuan(p.amount);
  return alipay_notification(
      sb, p, "TRADE_SUCCESS",
      {{"gmt_payment", ""},
       {"receipt_amount", total},
       {"fund_bill_list",
        std::string("[{\"amount\":\"") + total + "\",\"fundChannel\":\"ALIPAYACCOUNT\"}]"}});
}

core::Result<SimNotification> build_alipay_refund(const Sandbox& sb, const RefundSpec& r) {
  if (r.refund <= 0 || r.refund > r.total) {
    return fail(ErrorCode::kInvalidArgument, "the refunded total must be 1..order total fen");
  }
  PaymentSpec p;
  p.out_trade_no = r.out_trade_no;
  p.amount = r.total;
  // Alipay reports the trade's refunded total; a full refund closes the trade.
  return alipay_notification(sb, p, r.refund == r.total ? "TRADE_CLOSED" : "TRADE_SUCCESS",
                             {{"gmt_payment", ""},
                              {"out_biz_no", r.out_refund_no},
                              {"refund_fee", yuan(r.refund)},
                              {"gmt_refund", ""}});
}

core::Result<SimNotification> build_alipay_close(const Sandbox& sb, const PaymentSpec& p) {
  return alipay_notification(sb, p, "TRADE_CLOSED", {{"gmt_close", ""}});
}

core::Result<SimNotification> build_wechatpay_v2_payment(const Sandbox& sb, const PaymentSpec& p) {
  if (sb.apiv2_key.size() != 32) return fail(ErrorCode::kInvalidArgument, "the sandbox has no APIv2 key");
  SimNotification n;
  n.event_type = "PAY.SUCCESS";
  n.out_trade_no = p.out_trade_no;
  const std::string tx = "4200" + digits(24);
  n.id = "pay:" + tx;
  providers::FormParams f = {
      {"appid", p.appid.empty() ? sb.appid : p.appid},
      {"bank_type", "OTHERS"},    {"cash_fee", std::to_string(p.amount)},
      {"fee_type", p.currency},   {"is_subscribe", "N"},
      {"mch_id", p.mchid.empty() ? sb.mchid : p.mchid},
      {"nonce_str", crypto::random_alnum(32)},
      {"openid", "o" + crypto::random_alnum(27)},
      {"out_trade_no", p.out_trade_no}, {"result_code", "SUCCESS"},
      {"return_code", "SUCCESS"}, {"time_end", beijing("%Y%m%d%H%M%S")},
      {"total_fee", std::to_string(p.amount)}, {"trade_type", "JSAPI"},
      {"transaction_id", tx},     {"sign_type", "HMAC-SHA256"}};
  f.emplace_back("sign", providers::wechatpay_v2::sign(f, sb.apiv2_key,
                                                        providers::wechatpay_v2::SignType::kHmacSha256));
  n.body = "<xml>";
  for (const auto& [k, v] : f) n.body += "<" + k + "><![CDATA[" + v + "]]></" + k + ">";
  n.body += "</xml>";
  return n;
}

core::Result<SimNotification> build_wechatpay_v2_refund(const Sandbox& sb, const RefundSpec& r) {
  if (sb.apiv2_key.size() != 32) return fail(ErrorCode::kInvalidArgument, "the sandbox has no APIv2 key");
  const std::string status = r.status == "SUCCESS"    ? "SUCCESS"
                             : r.status == "ABNORMAL" ? "CHANGE"
                                                      : "REFUNDCLOSE";
  SimNotification n;
  n.event_type = "REFUND." + status;
  n.out_trade_no = r.out_trade_no;
  const std::string refund_id = "5000" + digits(25);
  n.id = "refund:" + refund_id + ":" + status;
  const providers::FormParams inner = {
      {"out_refund_no", r.out_refund_no}, {"out_trade_no", r.out_trade_no},
      {"refund_account", "REFUND_SOURCE_RECHARGE_FUNDS"}, {"refund_fee", std::to_string(r.refund)},
      {"refund_id", refund_id},           {"refund_recv_accout", "支付用户零钱"},
      {"refund_request_source", "API"},   {"refund_status", status},
      {"settlement_refund_fee", std::to_string(r.refund)},
      {"settlement_total_fee", std::to_string(r.total)},
      {"success_time", beijing("%Y-%m-%d %H:%M:%S")},
      {"total_fee", std::to_string(r.total)}, {"transaction_id", "4200" + digits(24)}};
  std::string xml = "<root>";
  for (const auto& [k, v] : inner) xml += "<" + k + "><![CDATA[" + v + "]]></" + k + ">";
  xml += "</root>";
  auto ct = crypto::aes256ecb_encrypt(crypto::hex_lower(crypto::md5(sb.apiv2_key)), xml);
  if (!ct) return tl::unexpected(ct.error());
  n.body = "<xml><return_code>SUCCESS</return_code><appid><![CDATA[" + sb.appid +
           "]]></appid><mch_id><![CDATA[" + sb.mchid + "]]></mch_id><nonce_str><![CDATA[" +
           crypto::random_alnum(32) + "]]></nonce_str><req_info><![CDATA[" +
           crypto::base64_encode(*ct) + "]]></req_info></xml>";
  return n;
}

Outgoing AlipaySender::attempt(const SimNotification& n, int64_t, std::optional<Fault> fault) const {
  return flip_if_tampered(
      Outgoing{url_, {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}, n.body},
      fault);
}

const std::vector<std::chrono::seconds>& AlipaySender::schedule() const {
  using std::chrono::hours;
  using std::chrono::minutes;
  static const std::vector<std::chrono::seconds> s = {minutes(4), minutes(10), minutes(10),
                                                      hours(1),   hours(2),    hours(6),
                                                      hours(15)};
  return s;
}

bool AlipaySender::supports(Fault f) const {
  return f != Fault::kWrongSerial && f != Fault::kStale && f != Fault::kProbe;
}

Outgoing WechatpayV2Sender::attempt(const SimNotification& n, int64_t,
                                    std::optional<Fault> fault) const {
  return flip_if_tampered(Outgoing{url_, {{"Content-Type", "text/xml"}}, n.body}, fault);
}

bool WechatpayV2Sender::acknowledged(const HttpResult& r) const {
  return r.status == 200 &&
         r.body.find("<return_code><![CDATA[SUCCESS]]></return_code>") != std::string::npos;
}

const std::vector<std::chrono::seconds>& WechatpayV2Sender::schedule() const {
  using std::chrono::minutes;
  using std::chrono::seconds;
  static const std::vector<seconds> s = {seconds(15), seconds(15), seconds(30),
                                         minutes(3),  minutes(30), minutes(30),
                                         minutes(30), minutes(30), minutes(60)};
  return s;
}

bool WechatpayV2Sender::supports(Fault f) const {
  return f != Fault::kWrongSerial && f != Fault::kStale && f != Fault::kProbe;
}

}  // namespace paygate::sim

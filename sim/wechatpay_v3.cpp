#include "sim/wechatpay_v3.hpp"

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "crypto/aead.hpp"
#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "providers/wechatpay_v3/api.hpp"
#include "sim/http_client.hpp"

namespace paygate::sim {
namespace {

using core::ErrorCode;
using nlohmann::json;

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// WeChat writes times in Beijing time with an explicit offset.
std::string beijing_time(int64_t unix) { return providers::wechatpay_v3::format_beijing_time(unix); }

std::string digits(std::size_t n) {
  std::string out;
  for (unsigned char b : crypto::random_bytes(n)) out += char('0' + b % 10);
  return out;
}

core::Result<SimNotification> envelope(const Sandbox& sb, const std::string& event_type,
                                       const std::string& summary, const std::string& type,
                                       const std::string& resource, const std::string& otn,
                                       bool public_key_mode) {
  const std::string nonce = crypto::random_alnum(12);
  auto ct = crypto::aes256gcm_encrypt(sb.apiv3_key, nonce, type, resource);
  if (!ct) return tl::unexpected(ct.error());
  SimNotification n;
  n.id = crypto::random_uuid();
  n.event_type = event_type;
  n.out_trade_no = otn;
  n.public_key_mode = public_key_mode;
  // Key order as WeChat sends it; ordered_json keeps it.
  nlohmann::ordered_json body;
  body["id"] = n.id;
  body["create_time"] = beijing_time(now_unix());
  body["resource_type"] = "encrypt-resource";
  body["event_type"] = event_type;
  body["summary"] = summary;
  body["resource"] = {{"original_type", type},
                      {"algorithm", "AEAD_AES_256_GCM"},
                      {"ciphertext", crypto::base64_encode(*ct)},
                      {"associated_data", type},
                      {"nonce", nonce}};
  n.body = body.dump();
  return n;
}

}  // namespace

nlohmann::ordered_json transaction_json(const Sandbox& sb, const PaymentSpec& p) {
  const bool paid = p.trade_state == "SUCCESS" || p.trade_state == "REFUND";
  nlohmann::ordered_json r;
  r["mchid"] = p.mchid.empty() ? sb.mchid : p.mchid;
  r["appid"] = p.appid.empty() ? sb.appid : p.appid;
  r["out_trade_no"] = p.out_trade_no;
  if (paid || p.trade_state == "CLOSED" || !p.transaction_id.empty()) {
    r["transaction_id"] = p.transaction_id.empty() ? "4200" + digits(24) : p.transaction_id;
  }
  r["trade_type"] = p.trade_type.empty() ? "JSAPI" : p.trade_type;
  r["trade_state"] = p.trade_state;
  r["trade_state_desc"] = paid ? "支付成功" : p.trade_state == "CLOSED" ? "已关闭" : "未支付";
  if (paid) r["bank_type"] = "OTHERS";
  r["attach"] = p.attach;
  if (paid) r["success_time"] = beijing_time(p.success_time ? p.success_time : now_unix());
  if (paid) r["payer"] = {{"openid", p.openid.empty() ? "o" + crypto::random_alnum(27) : p.openid}};
  r["amount"] = {{"total", p.amount}, {"currency", p.currency}};
  if (paid) {
    r["amount"]["payer_total"] = p.amount;
    r["amount"]["payer_currency"] = p.currency;
  }
  return r;
}

core::Result<SimNotification> build_payment(const Sandbox& sb, const PaymentSpec& p,
                                            bool public_key_mode) {
  return envelope(sb, "TRANSACTION.SUCCESS", "支付成功", "transaction",
                  transaction_json(sb, p).dump(), p.out_trade_no, public_key_mode);
}

core::Result<SimNotification> build_refund(const Sandbox& sb, const RefundSpec& s,
                                           bool public_key_mode) {
  nlohmann::ordered_json r;
  r["mchid"] = sb.mchid;
  r["out_trade_no"] = s.out_trade_no;
  r["transaction_id"] = s.transaction_id.empty() ? "4200" + digits(24) : s.transaction_id;
  r["out_refund_no"] = s.out_refund_no;
  r["refund_id"] = s.refund_id.empty() ? "5030" + digits(25) : s.refund_id;
  r["refund_status"] = s.status;
  r["user_received_account"] = "支付用户零钱";
  r["amount"] = {{"total", s.total}, {"refund", s.refund}, {"payer_total", s.total},
                 {"payer_refund", s.refund}};
  if (s.status == "SUCCESS") r["success_time"] = beijing_time(now_unix());
  const std::string event = "REFUND." + s.status;
  const std::string summary = s.status == "SUCCESS"    ? "退款成功"
                              : s.status == "ABNORMAL" ? "退款异常"
                                                       : "退款关闭";
  return envelope(sb, event, summary, "refund", r.dump(), s.out_trade_no, public_key_mode);
}

std::vector<std::pair<std::string, std::string>> sign_headers(const Sandbox& sb,
                                                              const SimNotification& n,
                                                              int64_t ts) {
  const std::string nonce = crypto::random_alnum(32);
  const std::string stamp = std::to_string(ts);
  const std::string msg = stamp + "\n" + nonce + "\n" + n.body + "\n";
  const auto& key = n.public_key_mode ? sb.public_key_mode_key : sb.platform_key;
  auto sig = key.sign_sha256(msg);
  return {{"Content-Type", "application/json"},
          {"Wechatpay-Timestamp", stamp},
          {"Wechatpay-Nonce", nonce},
          {"Wechatpay-Signature", sig ? crypto::base64_encode(*sig) : ""},
          {"Wechatpay-Serial", n.public_key_mode ? sb.public_key_id : sb.platform_serial},
          {"Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048"},
          {"Request-ID", crypto::hex_upper(crypto::random_bytes(20)) + "-0"}};
}

const std::vector<std::chrono::seconds>& retry_schedule() {
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  static const std::vector<seconds> s = {
      seconds(15), seconds(15), seconds(30), minutes(3), minutes(10), minutes(20),
      minutes(30), minutes(30), minutes(30), minutes(60), hours(3),   hours(3),
      hours(3),    hours(6),    hours(6)};
  return s;
}

Outgoing WechatpayV3Sender::attempt(const SimNotification& n, int64_t now,
                                    std::optional<Fault> fault) const {
  Outgoing out{url_, sign_headers(sandbox_, n, now), n.body};
  auto set = [&](const char* name, const std::string& v) {
    for (auto& [k, val] : out.headers) {
      if (k == name) val = v;
    }
  };
  if (fault) {
    switch (*fault) {
      case Fault::kTampered: out.body[out.body.size() / 2] ^= 0x01; break;
      case Fault::kWrongSerial:
        set("Wechatpay-Serial", crypto::hex_upper(crypto::random_bytes(20)));
        break;
      case Fault::kStale: out.headers = sign_headers(sandbox_, n, now - 600); break;
      case Fault::kProbe:
        set("Wechatpay-Signature",
            "WECHATPAY/SIGNTEST/" + crypto::base64_encode(crypto::random_bytes(64)));
        break;
      default: break;
    }
  }
  return out;
}

}  // namespace paygate::sim

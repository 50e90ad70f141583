#include "providers/wechatpay_v2/adapter.hpp"

#include <algorithm>

#include "crypto/block_cipher.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "providers/xml.hpp"

namespace paygate::providers::wechatpay_v2 {
namespace {

using core::ErrorCode;
using core::EventKind;
using core::fail;


// Amounts in fen: plain digits only.
std::optional<int64_t> fen(const std::string& s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Reply xml_reply(int status, std::string_view code, std::string_view msg) {
  return Reply{status, "application/xml",
               "<xml><return_code><![CDATA[" + std::string(code) +
                   "]]></return_code><return_msg><![CDATA[" + std::string(msg) +
                   "]]></return_msg></xml>"};
}

}  // namespace

std::string string_a(const FormParams& params) { return sorted_pairs(params, {"sign"}); }

std::string sign(const FormParams& params, std::string_view api_key, SignType type) {
  const std::string temp = string_a(params) + "&key=" + std::string(api_key);
  return crypto::hex_upper(type == SignType::kMd5 ? crypto::md5(temp)
                                                  : crypto::hmac_sha256(api_key, temp));
}

Adapter::Adapter(Settings settings)
    : settings_(std::move(settings)),
      refund_key_(crypto::hex_lower(crypto::md5(settings_.api_key.reveal()))) {}

core::Result<Notification> Adapter::accept(const InboundRequest& req, int64_t) const {
  auto params = parse_flat_xml(req.body, "xml");
  if (!params) return tl::unexpected(params.error());
  if (form_get(*params, "return_code") != "SUCCESS") {
    return fail(ErrorCode::kMalformed, "return_code is not SUCCESS");
  }
  // Refund results carry no sign: their authenticity is the req_info decryption.
  if (form_value(*params, "req_info") != nullptr && form_value(*params, "sign") == nullptr) {
    return refund(*params);
  }
  return payment(*params);
}

core::Result<Notification> Adapter::payment(const FormParams& p) const {
  const std::string* given = form_value(p, "sign");
  if (given == nullptr || given->empty()) return fail(ErrorCode::kMissingHeader, "no sign");
  const std::string type = form_get(p, "sign_type");
  SignType st;
  if (type.empty() || type == "MD5") {
    st = SignType::kMd5;
  } else if (type == "HMAC-SHA256") {
    st = SignType::kHmacSha256;
  } else {
    return fail(ErrorCode::kBadSignature, "unknown sign_type");
  }
  if (!settings_.any_sign_type && st != settings_.sign_type) {
    return fail(ErrorCode::kBadSignature, "sign_type is not the configured one");
  }
  std::string upper = *given;
  for (auto& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (!crypto::constant_time_equal(sign(p, settings_.api_key.reveal(), st), upper)) {
    return fail(ErrorCode::kBadSignature, "sign does not verify");
  }
  core::PaymentEvent ev;
  ev.provider = "wechatpay_v2";
  ev.mchid = form_get(p, "mch_id");
  ev.appid = form_get(p, "appid");
  ev.out_trade_no = form_get(p, "out_trade_no");
  ev.transaction_id = form_get(p, "transaction_id");
  ev.currency = form_get(p, "fee_type");
  if (ev.currency.empty()) ev.currency = "CNY";
  ev.success_time = form_get(p, "time_end");
  auto total = fen(form_get(p, "total_fee"));
  if (ev.out_trade_no.empty() || !total) {
    return fail(ErrorCode::kMalformed, "notification lacks out_trade_no or total_fee");
  }
  ev.total = *total;
  if (form_get(p, "result_code") == "SUCCESS") {
    ev.kind = EventKind::kPaymentSucceeded;
    ev.provider_event = "PAY.SUCCESS";
    if (ev.transaction_id.empty()) return fail(ErrorCode::kMalformed, "no transaction_id");
    ev.notification_id = "pay:" + ev.transaction_id;
  } else {
    // A failed payment: recorded, changes nothing.
    ev.kind = EventKind::kPaymentWaiting;
    ev.provider_event = "PAY." + form_get(p, "result_code");
    ev.notification_id = "pay-fail:" + ev.out_trade_no + ":" + form_get(p, "nonce_str");
  }
  return Notification{std::move(ev)};
}

core::Result<Notification> Adapter::refund(const FormParams& outer) const {
  auto ct = crypto::base64_decode(form_get(outer, "req_info"));
  if (!ct) return fail(ErrorCode::kDecryptFailed, "req_info is not base64");
  auto plain = crypto::aes256ecb_decrypt(refund_key_, *ct);
  if (!plain) return fail(ErrorCode::kDecryptFailed, "req_info does not decrypt");
  auto p = parse_flat_xml(*plain, "root");
  if (!p) return fail(ErrorCode::kDecryptFailed, "req_info is not the refund XML");
  core::PaymentEvent ev;
  ev.provider = "wechatpay_v2";
  ev.mchid = form_get(outer, "mch_id");
  ev.appid = form_get(outer, "appid");
  ev.out_trade_no = form_get(*p, "out_trade_no");
  ev.transaction_id = form_get(*p, "transaction_id");
  ev.out_refund_no = form_get(*p, "out_refund_no");
  ev.refund_id = form_get(*p, "refund_id");
  ev.success_time = form_get(*p, "success_time");
  // Only req_info is authenticated: an id outside it that disagrees with the one inside is a
  // forgery attempt (or a proxy's mix-up), never silently resolved.
  for (const char* id : {"out_trade_no", "transaction_id", "out_refund_no", "refund_id",
                         "mch_id", "appid"}) {
    const std::string* outside = form_value(outer, id);
    const std::string* inside = form_value(*p, id);
    if (outside != nullptr && inside != nullptr && *outside != *inside) {
      return fail(ErrorCode::kBadSignature, std::string(id) + " outside req_info differs");
    }
    if (outside != nullptr && inside == nullptr &&
        (std::string_view(id) != "mch_id" && std::string_view(id) != "appid")) {
      return fail(ErrorCode::kBadSignature, std::string(id) + " given outside req_info only");
    }
  }
  const std::string status = form_get(*p, "refund_status");
  ev.provider_event = "REFUND." + status;
  auto total = fen(form_get(*p, "total_fee"));
  auto refund = fen(form_get(*p, "refund_fee"));
  if (ev.out_trade_no.empty() || ev.out_refund_no.empty() || !total || !refund) {
    return fail(ErrorCode::kMalformed, "refund lacks out_trade_no, out_refund_no or amounts");
  }
  ev.total = *total;
  ev.refund_amount = *refund;
  if (status == "SUCCESS") {
    ev.kind = EventKind::kRefundSucceeded;
  } else if (status == "CHANGE") {
    ev.kind = EventKind::kRefundAbnormal;
  } else if (status == "REFUNDCLOSE") {
    ev.kind = EventKind::kRefundClosed;
  } else {
    ev.kind = EventKind::kUnsupported;  // authentic, not applied: stored as an anomaly
  }
  ev.notification_id = "refund:" + (ev.refund_id.empty() ? ev.out_refund_no : ev.refund_id) +
                       ":" + status;
  return Notification{std::move(ev)};
}

Inspection Adapter::inspect(const InboundRequest& req) const {
  Inspection r;
  auto params = parse_flat_xml(req.body, "xml");
  if (!params) {
    r.problems.push_back(params.error().detail);
    return r;
  }
  r.xml_ok = true;
  r.is_refund = form_value(*params, "req_info") != nullptr && form_value(*params, "sign") == nullptr;
  if (!r.is_refund) {
    r.sign_type = form_get(*params, "sign_type");
    r.string_a = string_a(*params);
  }
  auto result = accept(req, 0);
  if (result) {
    r.signature_valid = !r.is_refund;
    r.decrypt_ok = r.is_refund;
    r.parsed = true;
    r.event = std::move(result->event);
    return r;
  }
  const auto code = result.error().code;
  r.problems.push_back(result.error().detail);
  // The failing step tells which checks passed before it.
  const bool auth_failed = code == ErrorCode::kBadSignature || code == ErrorCode::kMissingHeader ||
                           code == ErrorCode::kDecryptFailed;
  r.signature_valid = !r.is_refund && !auth_failed && form_get(*params, "return_code") == "SUCCESS";
  r.decrypt_ok = r.is_refund && !auth_failed;
  return r;
}

Reply Adapter::reply(Outcome) const { return xml_reply(200, "SUCCESS", "OK"); }

Reply Adapter::reply(ErrorCode error) const {
  if (error == ErrorCode::kStoreUnavailable || error == ErrorCode::kInternal) {
    return xml_reply(500, "FAIL", "SYSTEMERROR");
  }
  if (error == ErrorCode::kOverloaded) return xml_reply(503, "FAIL", "SYSTEMERROR");
  if (error == ErrorCode::kBadSignature || error == ErrorCode::kDecryptFailed ||
      error == ErrorCode::kMissingHeader) {
    return xml_reply(401, "FAIL", "SIGNERROR");
  }
  return xml_reply(400, "FAIL", "PARAM_ERROR");
}

}  // namespace paygate::providers::wechatpay_v2

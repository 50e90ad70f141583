#include "providers/alipay/adapter.hpp"

#include <iconv.h>

#include <algorithm>
#include <cctype>

#include "core/json_out.hpp"
#include "core/money.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"

namespace paygate::providers::alipay {
namespace {

using core::ErrorCode;
using core::EventKind;
using core::fail;

bool is_gbk_family(std::string charset) {
  for (auto& c : charset) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return charset == "gbk" || charset == "gb2312" || charset == "gb18030";
}

// GB18030 covers GBK and GB2312. Fails on bytes that are not a complete character.
core::Result<std::string> gbk_to_utf8(std::string_view in) {
  iconv_t cd = ::iconv_open("UTF-8", "GB18030");
  if (cd == reinterpret_cast<iconv_t>(-1)) return fail(ErrorCode::kInternal, "no GB18030 converter");
  std::string out(in.size() * 2 + 4, '\0');
  char* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  const std::size_t rc = ::iconv(cd, &src, &src_left, &dst, &dst_left);
  ::iconv_close(cd);
  if (rc == static_cast<std::size_t>(-1) || src_left != 0) {
    return fail(ErrorCode::kMalformed, "not GBK");
  }
  out.resize(out.size() - dst_left);
  return out;
}

// The values as UTF-8: a notification declared charset=GBK (signed over its GBK bytes) is
// converted once verified; any other must already be UTF-8. Nothing else reaches the store or
// JSON, where it could not be represented.
core::Result<FormParams> as_utf8(const FormParams& params) {
  const bool gbk = is_gbk_family(form_get(params, "charset"));
  FormParams out;
  out.reserve(params.size());
  for (const auto& [k, v] : params) {
    if (!core::is_valid_utf8(k)) return fail(ErrorCode::kMalformed, "a field name is not UTF-8");
    if (gbk) {
      auto converted = gbk_to_utf8(v);
      if (!converted) {
        return fail(converted.error().code, "field " + k + " is not valid GBK (charset=GBK)");
      }
      out.emplace_back(k, std::move(*converted));
    } else {
      if (!core::is_valid_utf8(v)) return fail(ErrorCode::kMalformed, "field " + k + " is not valid UTF-8");
      out.emplace_back(k, v);
    }
  }
  return out;
}

}  // namespace

std::string cert_sn(const crypto::CertificateInfo& cert) {
  return crypto::hex_lower(crypto::md5(cert.issuer_rfc2253 + cert.serial_decimal));
}

std::string root_cert_sn(const std::vector<crypto::CertificateInfo>& roots) {
  std::string out;
  for (const auto& c : roots) {
    if (c.signature_algorithm_oid.rfind("1.2.840.113549.1.1", 0) != 0) continue;
    if (!out.empty()) out += '_';
    out += cert_sn(c);
  }
  return out;
}

std::string notify_sign_content(const FormParams& params) {
  return sorted_pairs(params, {"sign", "sign_type"});
}

core::Result<void> Adapter::verify(const FormParams& params) const {
  const std::string* sign = form_value(params, "sign");
  const std::string* sign_type = form_value(params, "sign_type");
  if (sign == nullptr || sign->empty()) return fail(ErrorCode::kMissingHeader, "no sign");
  if (sign_type == nullptr || *sign_type != "RSA2") {
    return fail(ErrorCode::kBadSignature, "sign_type is not RSA2");
  }
  auto raw = crypto::base64_decode(*sign);
  if (!raw) return fail(ErrorCode::kBadSignature, "sign is not base64");
  if (!settings_.alipay_key.verify_sha256(notify_sign_content(params), *raw)) {
    return fail(ErrorCode::kBadSignature, "signature does not verify");
  }
  return {};
}

namespace {

// An authenticated notification in domain terms.
core::Result<core::PaymentEvent> to_event(const FormParams& params) {
  core::PaymentEvent ev;
  ev.provider = "alipay";
  ev.notification_id = form_get(params, "notify_id");
  ev.mchid = form_get(params, "seller_id");
  ev.appid = form_get(params, "app_id");
  ev.out_trade_no = form_get(params, "out_trade_no");
  ev.transaction_id = form_get(params, "trade_no");
  const std::string status = form_get(params, "trade_status");
  ev.provider_event = status;
  if (ev.notification_id.empty() || ev.out_trade_no.empty() || ev.appid.empty()) {
    return fail(ErrorCode::kMalformed, "notification lacks notify_id, out_trade_no or app_id");
  }
  auto total = core::yuan_to_fen(form_get(params, "total_amount"));
  if (!total) return fail(ErrorCode::kMalformed, "total_amount is not a yuan amount");
  ev.total = *total;

  const std::string refund_no = form_get(params, "out_biz_no");
  const std::string refund_fee = form_get(params, "refund_fee");
  if (!refund_no.empty() && !refund_fee.empty()) {
    // A refund report: refund_fee is the trade's refunded total so far.
    auto fee = core::yuan_to_fen(refund_fee);
    if (!fee) return fail(ErrorCode::kMalformed, "refund_fee is not a yuan amount");
    ev.kind = EventKind::kRefundSucceeded;
    ev.out_refund_no = refund_no;
    ev.refund_amount = *fee;
    ev.refund_cumulative = true;
    ev.success_time = form_get(params, "gmt_refund");
  } else if (status == "TRADE_SUCCESS" || status == "TRADE_FINISHED") {
    ev.kind = EventKind::kPaymentSucceeded;
    ev.success_time = form_get(params, "gmt_payment");
    if (ev.transaction_id.empty()) return fail(ErrorCode::kMalformed, "no trade_no");
  } else if (status == "TRADE_CLOSED") {
    ev.kind = EventKind::kPaymentClosed;
  } else if (status == "WAIT_BUYER_PAY") {
    ev.kind = EventKind::kPaymentWaiting;
  } else {
    ev.kind = EventKind::kUnsupported;  // authentic, not applied: stored as an anomaly
  }
  return ev;
}

}  // namespace

core::Result<Notification> Adapter::accept(const InboundRequest& req, int64_t) const {
  // Only the body is signed; parameters added to the notify URL's query are ignored.
  auto params = parse_form(req.body);
  if (!params) return tl::unexpected(params.error());
  if (auto v = verify(*params); !v) return tl::unexpected(v.error());
  auto text = as_utf8(*params);
  if (!text) return tl::unexpected(text.error());
  auto ev = to_event(*text);
  if (!ev) return tl::unexpected(ev.error());
  return Notification{std::move(*ev)};
}

core::Result<std::string> Adapter::verify_return(std::string_view query) const {
  auto params = parse_form(query);
  if (!params) return tl::unexpected(params.error());
  if (auto v = verify(*params); !v) return tl::unexpected(v.error());
  auto text = as_utf8(*params);
  if (!text) return tl::unexpected(text.error());
  params = std::move(*text);
  if (form_get(*params, "app_id") != settings_.app_id ||
      (form_value(*params, "seller_id") != nullptr &&
       form_get(*params, "seller_id") != settings_.seller_id)) {
    return fail(ErrorCode::kAppMismatch, "return is for another app or seller");
  }
  std::string otn = form_get(*params, "out_trade_no");
  if (otn.empty()) return fail(ErrorCode::kMalformed, "no out_trade_no");
  return otn;
}

Inspection Adapter::inspect(const InboundRequest& req) const {
  Inspection r;
  auto params = parse_form(req.body);
  if (!params) {
    r.problems.push_back(params.error().detail);
    return r;
  }
  r.form_ok = true;
  r.params = std::move(*params);
  r.sign_type = form_get(r.params, "sign_type");
  r.sign_content = notify_sign_content(r.params);
  if (auto v = verify(r.params); v) {
    r.signature_valid = true;
  } else {
    r.problems.push_back(v.error().detail);
  }
  // The same text check accept makes, so the verdict here is accept's.
  auto text = as_utf8(r.params);
  if (!text) {
    r.problems.push_back(text.error().detail);
    return r;
  }
  if (auto ev = to_event(*text); ev) {
    r.mapped = true;
    r.event = std::move(*ev);
  } else {
    r.problems.push_back(ev.error().detail);
  }
  return r;
}

Reply Adapter::reply(Outcome) const { return Reply{200, "text/plain", "success"}; }

Reply Adapter::reply(ErrorCode error) const {
  const int status = error == ErrorCode::kOverloaded                                     ? 503
                     : error == ErrorCode::kStoreUnavailable || error == ErrorCode::kInternal ? 500
                     : error == ErrorCode::kBadSignature                                   ? 401
                     : error == ErrorCode::kNotFound                                       ? 404
                                                                                           : 400;
  return Reply{status, "text/plain", "failure"};
}

}  // namespace paygate::providers::alipay

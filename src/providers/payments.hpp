#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/order.hpp"
#include "net/http_client.hpp"

// Calls paygate makes to a provider, in provider-neutral terms. Each provider builds the signed
// request and reads the raw answer without I/O (like the callback adapters); net::Upstream
// sends, and the pipeline decides what an answer means for the order.
namespace paygate::providers {

// How the buyer pays: WeChat Pay JSAPI/mini-program, Native (QR code), H5 (mobile browser),
// APP; Alipay precreate (QR code), page (desktop), wap (mobile browser), app.
enum class PayMethod { kJsapi, kNative, kH5, kApp, kPrecreate, kPage, kWap };
std::string_view to_string(PayMethod m);
std::optional<PayMethod> parse_pay_method(std::string_view s);

struct PaymentRequest {
  PayMethod method = PayMethod::kNative;
  std::string out_trade_no;
  int64_t amount = 0;  // minor units (fen)
  std::string currency = "CNY";
  std::string description;
  std::optional<int64_t> expires_at;  // unix seconds
  std::string attach;                 // returned untouched in the callback
  std::string appid;                  // empty: the merchant's first configured app
  std::string payer_openid;           // JSAPI
  std::string client_ip;              // H5: the buyer's address, as WeChat Pay requires
};

// What an answer to one of our calls says happened.
enum class AnswerKind {
  kOk,        // done as asked
  kRefused,   // a definite no: nothing happened at the provider
  kUnknown,   // it may have happened: only a query can tell (never read as a failure)
  kNotFound,  // the provider has no such trade or refund
};
std::string_view to_string(AnswerKind k);

struct Answer {
  AnswerKind kind = AnswerKind::kUnknown;
  std::string code;     // the provider's code ("PARAM_ERROR", "ACQ.TRADE_NOT_EXIST"), if any
  std::string message;  // the provider's message, as sent
};

// Name/value pairs in the order the front end expects them (launch parameters, pay links).
using Fields = std::vector<std::pair<std::string, std::string>>;

struct CreateAnswer : Answer {
  Fields result;  // prepay_id, code_url, h5_url, qr_code, ...
};

struct QueryAnswer : Answer {
  std::string trade_state;  // the provider's word ("NOTPAY", "TRADE_SUCCESS", ...)
  // A final state to apply through the pipeline (paid, closed); none while still payable.
  std::optional<core::PaymentEvent> event;
};

struct RefundOrder {
  std::string out_trade_no;
  std::string out_refund_no;
  int64_t amount = 0;  // this refund, minor units
  int64_t total = 0;   // the order's total, as the provider checks it
  std::string currency = "CNY";
  std::string reason;  // shown to the buyer
};

struct RefundAnswer : Answer {
  std::string refund_status;  // the provider's word (PROCESSING, SUCCESS, CLOSED, ABNORMAL)
  // A final state to apply through the pipeline; none while PROCESSING.
  std::optional<core::PaymentEvent> event;
};

// One merchant's outbound API at one provider. Immutable after build; thread-safe.
class PaymentApi {
 public:
  virtual ~PaymentApi() = default;
  virtual std::string_view provider() const = 0;
  virtual bool supports(PayMethod m) const = 0;
  // The app a payment is made in: the request's, which must be configured, or the first.
  [[nodiscard]] virtual core::Result<std::string> app_for(const PaymentRequest& p) const = 0;

  // What the provider would refuse for sure (missing openid, unsupported currency), before
  // anything is stored or sent. kInvalidArgument with a message for the caller.
  [[nodiscard]] virtual core::Result<void> validate(const PaymentRequest& p) const = 0;
  // The same request gives the same body, so a re-sent create is the identical call.
  [[nodiscard]] virtual core::Result<net::HttpRequest> create_request(
      std::string_view base_url, const PaymentRequest& p, int64_t now_unix) const = 0;
  [[nodiscard]] virtual CreateAnswer read_create(const PaymentRequest& p,
                                                 const net::HttpResponse& r,
                                                 int64_t now_unix) const = 0;
  // What the merchant hands its front end for a created payment (signed where the method
  // needs it), from the create answer's result.
  [[nodiscard]] virtual core::Result<Fields> launch(const PaymentRequest& p, const Fields& created,
                                                    int64_t now_unix) const = 0;

  [[nodiscard]] virtual core::Result<net::HttpRequest> query_request(
      std::string_view base_url, std::string_view out_trade_no, int64_t now_unix) const = 0;
  [[nodiscard]] virtual QueryAnswer read_query(std::string_view out_trade_no,
                                               const net::HttpResponse& r,
                                               int64_t now_unix) const = 0;

  [[nodiscard]] virtual core::Result<net::HttpRequest> close_request(
      std::string_view base_url, std::string_view out_trade_no, int64_t now_unix) const = 0;
  [[nodiscard]] virtual Answer read_close(const net::HttpResponse& r, int64_t now_unix) const = 0;

  [[nodiscard]] virtual core::Result<void> validate_refund(const RefundOrder& r) const = 0;
  // The same refund gives the same body: a re-sent refund with its out_refund_no is the same
  // refund at the provider, never a second one.
  [[nodiscard]] virtual core::Result<net::HttpRequest> refund_request(
      std::string_view base_url, const RefundOrder& r, int64_t now_unix) const = 0;
  [[nodiscard]] virtual core::Result<net::HttpRequest> refund_query_request(
      std::string_view base_url, std::string_view out_refund_no, int64_t now_unix) const = 0;
  // Reads the answer to a refund or to a refund query (the same refund object).
  [[nodiscard]] virtual RefundAnswer read_refund(std::string_view out_refund_no,
                                                 const net::HttpResponse& r,
                                                 int64_t now_unix) const = 0;
};

}  // namespace paygate::providers

#pragma once
#include <string>

#include "providers/payments.hpp"
#include "providers/wechatpay_v3/adapter.hpp"
#include "providers/wechatpay_v3/signing.hpp"

// WeChat Pay APIv3 calls (PROTOCOLS.md 2.1-2.5) without I/O: signed requests, verified answers.
namespace paygate::providers::wechatpay_v3 {

inline constexpr std::string_view kApiHost = "https://api.mch.weixin.qq.com";
inline constexpr std::string_view kBackupApiHost = "https://api2.mch.weixin.qq.com";

struct ApiSettings {
  std::string serial_no;  // of the merchant API certificate
  crypto::PrivateKey private_key;  // the merchant API key
  std::string notify_url;  // where WeChat Pay sends this merchant's callbacks
};

// "2018-06-08T10:34:56+08:00": how WeChat Pay writes times (Beijing time).
std::string format_beijing_time(int64_t unix_seconds);

class Client final : public PaymentApi {
 public:
  // `settings` are the callback settings: mchid, apps and the keys answers are verified with.
  Client(Settings settings, ApiSettings api);

  std::string_view provider() const override { return "wechatpay_v3"; }
  bool supports(PayMethod m) const override;
  core::Result<std::string> app_for(const PaymentRequest& p) const override;
  core::Result<void> validate(const PaymentRequest& p) const override;
  core::Result<net::HttpRequest> create_request(std::string_view base_url, const PaymentRequest& p,
                                                int64_t now_unix) const override;
  CreateAnswer read_create(const PaymentRequest& p, const net::HttpResponse& r,
                           int64_t now_unix) const override;
  core::Result<Fields> launch(const PaymentRequest& p, const Fields& created,
                              int64_t now_unix) const override;
  core::Result<net::HttpRequest> query_request(std::string_view base_url,
                                               std::string_view out_trade_no,
                                               int64_t now_unix) const override;
  QueryAnswer read_query(std::string_view out_trade_no, const net::HttpResponse& r,
                         int64_t now_unix) const override;
  core::Result<net::HttpRequest> close_request(std::string_view base_url,
                                               std::string_view out_trade_no,
                                               int64_t now_unix) const override;
  Answer read_close(const net::HttpResponse& r, int64_t now_unix) const override;
  core::Result<void> validate_refund(const RefundOrder& r) const override;
  core::Result<net::HttpRequest> refund_request(std::string_view base_url, const RefundOrder& r,
                                                int64_t now_unix) const override;
  core::Result<net::HttpRequest> refund_query_request(std::string_view base_url,
                                                      std::string_view out_refund_no,
                                                      int64_t now_unix) const override;
  RefundAnswer read_refund(std::string_view out_refund_no, const net::HttpResponse& r,
                           int64_t now_unix) const override;

  // The body of a create call (deterministic: the same request gives the same bytes).
  core::Result<std::string> create_body(const PaymentRequest& p) const;

 private:
  core::Result<net::HttpRequest> signed_request(std::string_view method, std::string_view base_url,
                                                std::string path_and_query, std::string body,
                                                int64_t now_unix) const;
  // The Wechatpay-* signature of a 2xx answer; an error reads as kUnknown.
  core::Result<void> verify(const net::HttpResponse& r, int64_t now_unix) const;

  Settings settings_;
  ApiSettings api_;
  MerchantSigner signer_;
};

// A path segment with everything but unreserved characters percent-encoded.
std::string encode_path_segment(std::string_view s);

}  // namespace paygate::providers::wechatpay_v3

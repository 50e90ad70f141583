#pragma once
// The Alipay and WeChat Pay APIv2 sides of the simulator: notifications built and signed as
// those providers build them, and their retry schedules.
#include <chrono>
#include <string>
#include <vector>

#include "sim/driver.hpp"
#include "sim/sandbox.hpp"
#include "sim/wechatpay_v3.hpp"

namespace paygate::sim {

// TRADE_SUCCESS async notification, RSA2-signed with the sandbox's Alipay key.
[[nodiscard]] core::Result<SimNotification> build_alipay_payment(const Sandbox& sb,
                                                                 const PaymentSpec& p);
// A refund report: `r.refund` is the trade's refunded total so far (Alipay reports it so);
// TRADE_CLOSED when that is the whole order, TRADE_SUCCESS otherwise.
[[nodiscard]] core::Result<SimNotification> build_alipay_refund(const Sandbox& sb,
                                                                const RefundSpec& r);
// TRADE_CLOSED for an order that was never paid (timed out or closed by the merchant).
[[nodiscard]] core::Result<SimNotification> build_alipay_close(const Sandbox& sb,
                                                               const PaymentSpec& p);
// Payment result XML, HMAC-SHA256-signed with the sandbox's APIv2 key.
[[nodiscard]] core::Result<SimNotification> build_wechatpay_v2_payment(const Sandbox& sb,
                                                                       const PaymentSpec& p);

// Refund result: req_info = AES-256-ECB(MD5 hex of the API key) of the refund XML; no sign.
[[nodiscard]] core::Result<SimNotification> build_wechatpay_v2_refund(const Sandbox& sb,
                                                                      const RefundSpec& r);

// Alipay resends the same signed body; only the exact body `success` acknowledges.
// Retries: 4m, 10m, 10m, 1h, 2h, 6h, 15h.
class AlipaySender final : public Sender {
 public:
  explicit AlipaySender(std::string url) : url_(std::move(url)) {}
  Outgoing attempt(const SimNotification& n, int64_t now,
                   std::optional<Fault> fault) const override;
  bool acknowledged(const HttpResult& r) const override {
    return r.status == 200 && r.body == "success";
  }
  const std::vector<std::chrono::seconds>& schedule() const override;
  bool supports(Fault f) const override;

 private:
  std::string url_;
};

// WeChat Pay APIv2: the XML SUCCESS form acknowledges. Retries: 15s, 15s, 30s, 3m, 30m, 30m,
// 30m, 30m, 60m.
class WechatpayV2Sender final : public Sender {
 public:
  explicit WechatpayV2Sender(std::string url) : url_(std::move(url)) {}
  Outgoing attempt(const SimNotification& n, int64_t now,
                   std::optional<Fault> fault) const override;
  bool acknowledged(const HttpResult& r) const override;
  const std::vector<std::chrono::seconds>& schedule() const override;
  bool supports(Fault f) const override;

 private:
  std::string url_;
};

}  // namespace paygate::sim

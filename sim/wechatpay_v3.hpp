#pragma once
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/driver.hpp"
#include "sim/sandbox.hpp"

namespace paygate::sim {

struct PaymentSpec {
  std::string out_trade_no;
  int64_t amount = 0;
  std::string currency = "CNY";
  std::string appid;  // empty: the sandbox's
  std::string mchid;  // empty: the sandbox's
  std::string trade_state = "SUCCESS";  // or NOTPAY, USERPAYING, ... as WeChat may report
  // A trade the simulated WeChat Pay holds (sim provider): its own ids; empty: made up.
  std::string transaction_id;
  std::string trade_type;
  std::string attach;
  std::string openid;
  int64_t success_time = 0;  // unix seconds; 0: now
};

// The transaction object WeChat Pay sends in a payment callback and answers to a query.
nlohmann::ordered_json transaction_json(const Sandbox& sb, const PaymentSpec& p);

struct RefundSpec {
  std::string out_trade_no;
  std::string out_refund_no;
  int64_t total = 0;
  int64_t refund = 0;
  std::string status = "SUCCESS";  // SUCCESS, ABNORMAL, CLOSED
  std::string transaction_id;      // empty: made up
  std::string refund_id;           // empty: made up
};

[[nodiscard]] core::Result<SimNotification> build_payment(const Sandbox& sb, const PaymentSpec& p,
                                                          bool public_key_mode);
[[nodiscard]] core::Result<SimNotification> build_refund(const Sandbox& sb, const RefundSpec& r,
                                                         bool public_key_mode);

// Wechatpay-* headers for one attempt.
std::vector<std::pair<std::string, std::string>> sign_headers(const Sandbox& sb,
                                                              const SimNotification& n,
                                                              int64_t timestamp);

// WeChat Pay's retry delays after each failed attempt (15 retries, about 24h 4m).
const std::vector<std::chrono::seconds>& retry_schedule();

// WeChat Pay APIv3 as the sender: every attempt re-signed with a fresh timestamp and nonce;
// acknowledged by any 2xx.
class WechatpayV3Sender final : public Sender {
 public:
  WechatpayV3Sender(const Sandbox& sandbox, std::string url)
      : sandbox_(sandbox), url_(std::move(url)) {}
  Outgoing attempt(const SimNotification& n, int64_t now,
                   std::optional<Fault> fault) const override;
  bool acknowledged(const HttpResult& r) const override {
    return r.status >= 200 && r.status < 300;
  }
  const std::vector<std::chrono::seconds>& schedule() const override { return retry_schedule(); }
  bool supports(Fault) const override { return true; }

 private:
  const Sandbox& sandbox_;
  std::string url_;
};

}  // namespace paygate::sim

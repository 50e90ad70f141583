#pragma once
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/sandbox.hpp"

namespace paygate::sim {

// One notification as WeChat Pay would send it: the body is fixed, headers are re-signed on
// every attempt (a retry hours later carries a fresh timestamp).
struct SimNotification {
  std::string id;
  std::string event_type;
  std::string out_trade_no;
  std::string body;
  bool public_key_mode = false;
};

struct PaymentSpec {
  std::string out_trade_no;
  int64_t amount = 0;
  std::string currency = "CNY";
  std::string appid;  // empty: the sandbox's
  std::string mchid;  // empty: the sandbox's
};

struct RefundSpec {
  std::string out_trade_no;
  std::string out_refund_no;
  int64_t total = 0;
  int64_t refund = 0;
  std::string status = "SUCCESS";  // SUCCESS, ABNORMAL, CLOSED
};

[[nodiscard]] core::Result<SimNotification> build_payment(const Sandbox& sb, const PaymentSpec& p,
                                                          bool public_key_mode);
[[nodiscard]] core::Result<SimNotification> build_refund(const Sandbox& sb, const RefundSpec& r,
                                                         bool public_key_mode);

// Wechatpay-* headers for one attempt.
std::vector<std::pair<std::string, std::string>> sign_headers(const Sandbox& sb,
                                                              const SimNotification& n,
                                                              int64_t timestamp);

enum class Fault {
  kDuplicate,            // resend after the acknowledgement
  kConcurrentDuplicate,  // a second copy at the same moment
  kOutOfOrder,           // shuffle the sending order
  kTampered,             // an extra copy with one body byte changed (must be rejected)
  kWrongSerial,          // an extra copy naming an unknown key (must be rejected)
  kStale,                // an extra copy signed 10 minutes ago (must be rejected)
  kProbe,                // an extra WECHATPAY/SIGNTEST/ copy (must be rejected)
  kDrop,                 // the first attempt gives up before the reply (retried)
};
[[nodiscard]] core::Result<Fault> parse_fault(const std::string& name);

// WeChat Pay's retry delays after each failed attempt (15 retries, about 24h 4m).
const std::vector<std::chrono::seconds>& retry_schedule();

struct DriveOptions {
  std::string url;
  int concurrency = 8;
  double time_scale = 1.0;  // multiplies the retry delays (tests use e.g. 0.001)
  std::set<Fault> faults;
  std::chrono::milliseconds deadline{5000};  // a slower reply counts as a failure
};

struct Delivery {
  std::string id;
  std::string out_trade_no;
  std::string event_type;
  int attempts = 0;
  bool acked = false;
  long last_status = 0;
};

struct DriveReport {
  std::vector<Delivery> deliveries;
  int64_t requests = 0;
  int64_t acked = 0;
  int64_t extra_copies = 0;          // duplicates and faulty copies sent
  int64_t faulty_rejected = 0;       // faulty copies answered with a non-2xx (expected)
  int64_t faulty_accepted = 0;       // faulty copies answered 2xx (a gateway bug)
  int64_t duplicate_not_acked = 0;   // duplicates answered non-2xx
  std::string to_json() const;
};

// Sends every notification, retrying each on WeChat's schedule until it is acknowledged or
// the schedule is exhausted. Blocks until done.
DriveReport drive(const Sandbox& sb, std::vector<SimNotification> notifications,
                  const DriveOptions& options);

}  // namespace paygate::sim

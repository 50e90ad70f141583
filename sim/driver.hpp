#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "sim/http_client.hpp"

namespace paygate::sim {

// One notification as a provider holds it between attempts.
struct SimNotification {
  std::string id;
  std::string event_type;
  std::string out_trade_no;
  std::string body;
  bool public_key_mode = false;  // WeChat Pay APIv3: which key signs
};

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

// One request on the wire.
struct Outgoing {
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The provider-specific half of delivery; the driver does the scheduling.
class Sender {
 public:
  virtual ~Sender() = default;
  // The request for one attempt at unix time `now`; `fault` set for a deliberately bad copy.
  virtual Outgoing attempt(const SimNotification& n, int64_t now,
                           std::optional<Fault> fault) const = 0;
  // Whether the answer stops the provider's retries.
  virtual bool acknowledged(const HttpResult& r) const = 0;
  // The delays after each failed attempt.
  virtual const std::vector<std::chrono::seconds>& schedule() const = 0;
  // Faults this protocol can express; the others are refused before sending.
  virtual bool supports(Fault f) const = 0;
};

struct DriveOptions {
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
  int64_t faulty_rejected = 0;       // faulty copies answered without an acknowledgement
  int64_t faulty_accepted = 0;       // faulty copies acknowledged (a gateway bug)
  int64_t duplicate_not_acked = 0;   // duplicates not acknowledged
  std::string to_json() const;
};

// Sends every notification, retrying each on the sender's schedule until it is acknowledged
// or the schedule is exhausted. Blocks until done.
DriveReport drive(const Sender& sender, std::vector<SimNotification> notifications,
                  const DriveOptions& options);

}  // namespace paygate::sim

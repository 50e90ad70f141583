#pragma once
// The WeChat Official Account server side: user messages and events pushed to the account's
// server URL, signed (and in safe mode encrypted) as WeChat does.
#include <chrono>
#include <string>
#include <vector>

#include "sim/driver.hpp"
#include "sim/sandbox.hpp"

namespace paygate::sim {

struct MessageSpec {
  std::string from_user;     // openid
  bool event = false;        // a subscribe event instead of a text message
  std::string text = "hello from the sandbox";
};

// The message XML; in safe mode the body is the Encrypt envelope.
[[nodiscard]] core::Result<SimNotification> build_mp_message(const Sandbox& sb,
                                                             const MessageSpec& m, bool safe_mode);

// Each attempt signs the query with a fresh timestamp and nonce (and msg_signature in safe
// mode). `success` or an empty 200 acknowledges; WeChat makes 3 attempts, 5 s apart.
class WechatMpSender final : public Sender {
 public:
  WechatMpSender(const Sandbox& sb, std::string url, bool safe_mode)
      : sb_(sb), url_(std::move(url)), safe_mode_(safe_mode) {}
  Outgoing attempt(const SimNotification& n, int64_t now,
                   std::optional<Fault> fault) const override;
  bool acknowledged(const HttpResult& r) const override {
    return r.status == 200 && (r.body == "success" || r.body.empty());
  }
  const std::vector<std::chrono::seconds>& schedule() const override;
  // A tampered plaintext message cannot be detected (its signature does not cover the body):
  // only safe mode can express that fault.
  bool supports(Fault f) const override;

 private:
  const Sandbox& sb_;
  std::string url_;
  bool safe_mode_;
};

}  // namespace paygate::sim

#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/secret.hpp"
#include "providers/form.hpp"

namespace paygate::providers::wechat_mp {

struct Settings {
  std::string appid;
  core::Secret token;
  std::optional<core::Secret> aes_key;  // 32 bytes from the EncodingAESKey; safe mode
  int64_t max_clock_skew_seconds = 300;
};

// One verified user message or event.
struct Message {
  std::string dedupe_key;  // "MsgId:<id>" for messages, "<FromUserName>+<CreateTime>" for events
  bool is_event = false;
  std::string msg_type;
  std::string event;
  std::string to_user;
  std::string from_user;
  int64_t create_time = 0;
  std::string xml;         // the (decrypted) message as received
  FormParams fields;
};

// Every check on its own, for `paygate verify wechat-mp`.
struct Inspection {
  bool signature_valid = false;
  bool timestamp_in_window = false;
  bool safe_mode = false;
  bool msg_signature_valid = false;  // safe mode
  bool decrypted = false;            // safe mode
  bool parsed = false;
  std::optional<Message> message;
  std::vector<std::string> problems;
  bool accepted() const {
    return signature_valid && timestamp_in_window && parsed &&
           (!safe_mode || (msg_signature_valid && decrypted));
  }
};

// WeChat Official Account server callbacks. No I/O.
class Endpoint {
 public:
  explicit Endpoint(Settings settings) : settings_(std::move(settings)) {}

  // GET URL verification: the echostr to answer when `signature` verifies.
  [[nodiscard]] core::Result<std::string> verify_url(const FormParams& query) const;

  // POST: `signature` (timestamp within the window), then in safe mode (encrypt_type=aes)
  // msg_signature over Encrypt and decryption with the trailing appid checked; then parsing.
  [[nodiscard]] core::Result<Message> accept(const FormParams& query, std::string_view body,
                                             int64_t now_unix) const;

  Inspection inspect(const FormParams& query, std::string_view body, int64_t now_unix) const;

  const Settings& settings() const { return settings_; }

 private:
  [[nodiscard]] core::Result<void> check_signature(const FormParams& query) const;
  Settings settings_;
};

}  // namespace paygate::providers::wechat_mp

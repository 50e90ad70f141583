#pragma once
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/secret.hpp"
#include "providers/form.hpp"

namespace paygate::providers::wechat_mp {

// The account's message encryption mode as set in the Official Account console. Safe: every
// message must be encrypted, a plaintext one is refused (no downgrade by a forger who strips
// the encryption). Compatible: both are accepted (the console sends both during a switch).
// Plain: encrypted messages are refused.
enum class Mode { kSafe, kCompatible, kPlain };

struct Settings {
  std::string appid;
  core::Secret token;
  std::optional<core::Secret> aes_key;  // 32 bytes from the EncodingAESKey; safe mode
  Mode mode = Mode::kPlain;
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
  std::string replay_key;  // timestamp and nonce of the signed query
  bool encrypted = false;  // safe mode: msg_signature covers the body as well
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

  // The replay cache. In plaintext the signature covers only (timestamp, nonce), not the
  // body, so a captured query could carry any body: once a (timestamp, nonce) has been stored
  // with one message, the same message again is a repeat (answered without the store) and any
  // other plaintext message is a forgery (refused; an encrypted one is authenticated by its
  // msg_signature). Entries leave twice the skew window after they were stored. Thread-safe.
  enum class Seen { kNew, kRepeat, kOtherMessage };
  Seen seen(const Message& m, int64_t now_unix) const;
  void remember(const Message& m, int64_t now_unix) const;

  const Settings& settings() const { return settings_; }

 private:
  [[nodiscard]] core::Result<void> check_signature(const FormParams& query) const;
  void expire_locked(int64_t now_unix) const;
  Settings settings_;
  static constexpr std::size_t kMaxRemembered = 200000;
  mutable std::mutex replay_mu_;
  mutable std::unordered_map<std::string, std::string> remembered_;  // replay key -> dedupe key
  mutable std::deque<std::pair<int64_t, std::string>> remembered_order_;  // by time remembered
};

}  // namespace paygate::providers::wechat_mp

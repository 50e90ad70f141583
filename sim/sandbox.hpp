#pragma once
#include <optional>
#include <string>

#include "core/error.hpp"
#include "crypto/rsa.hpp"

namespace paygate::sim {

// The simulated WeChat Pay side of one sandbox merchant, as stored in <dir>/sim.json.
struct Sandbox {
  std::string dir;
  std::string merchant;     // paygate merchant id
  std::string mchid;
  std::string appid;
  std::string apiv3_key;
  std::string api_token;
  std::string notify_url;   // paygate's callback URL for this merchant
  std::string api_url;      // paygate's base URL
  std::string platform_serial;
  crypto::PrivateKey platform_key;
  std::string public_key_id;
  crypto::PrivateKey public_key_mode_key;
  // WeChat Pay APIv2 (same mchid/appid): the 32-character API key.
  std::string apiv2_key;
  // Alipay: the app, the seller and Alipay's signing key (its public half is in the config).
  std::string alipay_app_id;
  std::string alipay_seller_id;
  std::optional<crypto::PrivateKey> alipay_key;
  // WeChat Official Account (appid as above): Token and EncodingAESKey of the server config.
  std::string mp_token;
  std::string mp_encoding_aes_key;
  // Payments out: the merchant's API key (paygate signs with it; the simulated WeChat Pay
  // verifies with its public half) and where the simulated WeChat Pay API listens.
  std::string merchant_serial;
  std::optional<crypto::PublicKey> merchant_public_key;
  std::string provider_listen;  // host:port of `paygate sim provider`
};

struct InitOptions {
  std::string dir;
  std::string merchant = "sandbox";
  std::string listen = "127.0.0.1:8080";
  std::string provider_listen = "127.0.0.1:8090";
  bool force = false;
};

// Generates keys, certificate, APIv3 key and token; writes sim.json, the keys and a matching
// paygate.toml (store inside `dir`). Refuses to overwrite unless `force`.
[[nodiscard]] core::Result<Sandbox> init_sandbox(const InitOptions& options);
[[nodiscard]] core::Result<Sandbox> load_sandbox(const std::string& dir);

}  // namespace paygate::sim

#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/secret.hpp"
#include "http/server.hpp"
#include "providers/alipay/adapter.hpp"
#include "providers/wechat_mp/endpoint.hpp"
#include "providers/wechatpay_v2/adapter.hpp"
#include "net/upstream.hpp"
#include "providers/wechatpay_v3/adapter.hpp"
#include "providers/wechatpay_v3/api.hpp"
#include "webhooks/worker.hpp"

namespace paygate::app {

// Calls to a provider's API for one merchant (payments out).
struct WechatpayV3Out {
  providers::wechatpay_v3::ApiSettings api;
  net::UpstreamOptions upstream;
};

struct MerchantSettings {
  std::string id;
  core::Secret api_token;
  std::optional<providers::wechatpay_v3::Settings> wechatpay_v3;
  std::optional<WechatpayV3Out> wechatpay_v3_out;  // with merchant_private_key_*
  std::optional<providers::wechatpay_v2::Settings> wechatpay_v2;
  std::optional<providers::alipay::Settings> alipay;
  std::optional<providers::wechat_mp::Settings> wechat_mp;
  std::vector<webhooks::Endpoint> webhooks;
};

struct WebhookSettings {
  // Endpoints resolving to loopback/private/link-local addresses are refused unless true.
  bool allow_private_addresses = false;
  bool allow_insecure_http = false;  // http:// endpoints (events and signatures in clear text)
  webhooks::WorkerOptions worker;
};

struct Settings {
  http::ServerOptions server;
  std::string sqlite_path;
  int store_max_queued = 20000;  // [store] max_queued: units waiting for the writer, at most
  int retention_days = 0;        // [store] retention_days: settled rows kept this long; 0 = all
  std::string log_level = "info";
  std::vector<MerchantSettings> merchants;
  WebhookSettings webhooks;
};

// Loads and validates the TOML config once. Errors name the offending setting
// (e.g. "merchant[0].wechatpay_v3.apiv3_key_file: ..."); secrets never appear in them.
// Relative file paths are resolved against the config file's folder.
// Secret files (keys, tokens) readable or writable by group or others are refused unless
// `allow_readable_secrets`.
[[nodiscard]] core::Result<Settings> load_settings(const std::string& path,
                                                   bool allow_readable_secrets = false);

}  // namespace paygate::app

#include "app/settings.hpp"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "crypto/x509.hpp"
#include "http/target.hpp"
#include "providers/wechat_mp/crypto.hpp"
#include "webhooks/signature.hpp"
#include "net/http_client.hpp"

namespace paygate::app {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;

struct ConfigError {
  std::string message;
};

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw ConfigError{where + ": " + what};
}

void only_keys(const toml::table& t, const std::string& where, std::set<std::string> allowed) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str()))) bad(where + "." + std::string(k.str()), "unknown setting");
  }
}

std::string read_file(const fs::path& p, const std::string& where) {
  std::ifstream in(p, std::ios::binary);
  if (!in) bad(where, "cannot read file " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  return s;
}

class Reader {
 public:
  Reader(fs::path base, bool allow_readable_secrets)
      : base_(std::move(base)), allow_readable_secrets_(allow_readable_secrets) {}

  fs::path resolve(const std::string& p) const {
    fs::path path(p);
    return path.is_absolute() ? path : base_ / path;
  }

  std::string string(const toml::table& t, const std::string& where, const char* key,
                     std::optional<std::string> fallback = std::nullopt) const {
    auto node = t[key];
    if (!node) {
      if (fallback) return *fallback;
      bad(where + "." + key, "required");
    }
    auto v = node.value<std::string>();
    if (!v) bad(where + "." + key, "must be a string");
    return *v;
  }

  int64_t integer(const toml::table& t, const std::string& where, const char* key,
                  int64_t fallback, int64_t min, int64_t max) const {
    auto node = t[key];
    if (!node) return fallback;
    auto v = node.value<int64_t>();
    if (!v) bad(where + "." + key, "must be an integer");
    if (*v < min || *v > max) {
      bad(where + "." + key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return *v;
  }

  // A secret given as NAME_file (path) or NAME_env (environment variable name).
  core::Secret secret(const toml::table& t, const std::string& where, const std::string& name) const {
    const std::string fkey = name + "_file", ekey = name + "_env";
    const bool has_file = static_cast<bool>(t[fkey]), has_env = static_cast<bool>(t[ekey]);
    if (has_file == has_env) bad(where + "." + name, "give exactly one of " + fkey + " or " + ekey);
    if (has_file) {
      auto p = t[fkey].value<std::string>();
      if (!p) bad(where + "." + fkey, "must be a string");
      const fs::path path = resolve(*p);
      struct stat st{};
      if (!allow_readable_secrets_ && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        bad(where + "." + fkey,
            path.string() + " is readable or writable by group or others (mode " + mode +
                "); chmod 600 it, or start with --allow-readable-secrets");
      }
      return core::Secret(trim(read_file(path, where + "." + fkey)));
    }
    auto var = t[ekey].value<std::string>();
    if (!var) bad(where + "." + ekey, "must be a string");
    const char* v = std::getenv(var->c_str());
    if (v == nullptr || *v == '\0') bad(where + "." + ekey, "environment variable " + *var + " is not set");
    return core::Secret(trim(v));
  }

 private:
  fs::path base_;
  bool allow_readable_secrets_;
};

const toml::table& table_at(const toml::node_view<const toml::node>& n, const std::string& where) {
  if (!n.is_table()) bad(where, "must be a table");
  return *n.as_table();
}

std::vector<std::string> app_ids(const toml::table& t, const std::string& where) {
  auto appids = t["appids"].as_array();
  if (appids == nullptr || appids->empty()) bad(where + ".appids", "must be a non-empty array");
  std::vector<std::string> out;
  for (const auto& a : *appids) {
    auto v = a.value<std::string>();
    if (!v || v->empty()) bad(where + ".appids", "must hold non-empty strings");
    out.push_back(*v);
  }
  return out;
}

providers::wechatpay_v3::Settings wechatpay_v3(const Reader& r, const toml::table& t,
                                               const std::string& where) {
  only_keys(t, where, {"mchid", "appids", "apiv3_key_file", "apiv3_key_env", "keys",
                       "max_clock_skew_seconds", "merchant_private_key_file",
                       "merchant_private_key_env", "merchant_serial_no", "notify_url",
                       "api_base_url", "backup_api_base_url", "api_timeout_ms"});
  providers::wechatpay_v3::Settings s;
  s.mchid = r.string(t, where, "mchid");
  if (s.mchid.empty()) bad(where + ".mchid", "must not be empty");
  s.appids = app_ids(t, where);
  s.apiv3_key = r.secret(t, where, "apiv3_key");
  if (s.apiv3_key.size() != 32) {
    bad(where + ".apiv3_key", "must be exactly 32 bytes (got " + std::to_string(s.apiv3_key.size()) + ")");
  }
  s.max_clock_skew_seconds = r.integer(t, where, "max_clock_skew_seconds", 300, 1, 3600);
  auto keys = t["keys"].as_array();
  if (keys == nullptr || keys->empty()) bad(where + ".keys", "at least one verification key is required");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const std::string kw = where + ".keys[" + std::to_string(i) + "]";
    auto kt = (*keys)[i].as_table();
    if (kt == nullptr) bad(kw, "must be a table");
    only_keys(*kt, kw, {"serial", "certificate_file", "public_key_file"});
    std::string serial = r.string(*kt, kw, "serial");
    if (serial.empty()) bad(kw + ".serial", "must not be empty");
    const bool cert = static_cast<bool>((*kt)["certificate_file"]);
    const bool pub = static_cast<bool>((*kt)["public_key_file"]);
    if (cert == pub) bad(kw, "give exactly one of certificate_file or public_key_file");
    const char* fk = cert ? "certificate_file" : "public_key_file";
    const std::string pem = read_file(r.resolve(r.string(*kt, kw, fk)), kw + "." + fk);
    auto key = crypto::PublicKey::from_pem(pem);
    if (!key) bad(kw + "." + fk, key.error().detail);
    if (cert && serial.rfind("PUB_KEY_ID_", 0) != 0) {
      std::string upper = serial;
      for (auto& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
      if (upper != key->certificate_serial()) {
        bad(kw + ".serial", "does not match the certificate's serial " + key->certificate_serial());
      }
    }
    std::string norm = serial;
    if (serial.rfind("PUB_KEY_ID_", 0) != 0) {
      for (auto& c : norm) c = char(std::toupper(static_cast<unsigned char>(c)));
    }
    if (!seen.insert(norm).second) bad(kw + ".serial", "duplicate serial " + serial);
    s.keys.push_back({serial, *key});
  }
  return s;
}

// A URL the provider's side uses (API base, notify URL): https://, or http:// to this machine
// (the simulator, tests).
std::string api_base_url(const Reader& r, const toml::table& t, const std::string& where,
                         const char* key, std::string fallback) {
  std::string url = r.string(t, where, key, fallback);
  if (url.empty()) return url;
  while (url.ends_with("/")) url.pop_back();
  const bool https = url.starts_with("https://");
  const bool local_http = url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:") ||
                          url.starts_with("http://localhost:");
  if ((!https && !local_http) || url.find_first_of(" \r\n\t?#") != std::string::npos ||
      url.size() > 512) {
    bad(where + "." + key, "must be an https:// URL (http:// only to 127.0.0.1 or localhost)");
  }
  return url;
}

// Payments out: present when the merchant's API private key is configured.
std::optional<WechatpayV3Out> wechatpay_v3_out(const Reader& r, const toml::table& t,
                                               const std::string& where) {
  if (!t["merchant_private_key_file"] && !t["merchant_private_key_env"]) {
    for (const char* k : {"merchant_serial_no", "notify_url", "api_base_url",
                          "backup_api_base_url", "api_timeout_ms"}) {
      if (t[k]) bad(where + "." + k, "needs merchant_private_key_file or merchant_private_key_env");
    }
    return std::nullopt;
  }
  WechatpayV3Out out;
  const core::Secret pem = r.secret(t, where, "merchant_private_key");
  auto key = crypto::PrivateKey::from_pem(pem.reveal());
  if (!key) bad(where + ".merchant_private_key", "is not an RSA private key (PEM)");
  out.api.private_key = *key;
  out.api.serial_no = r.string(t, where, "merchant_serial_no");
  if (out.api.serial_no.empty() || out.api.serial_no.size() > 64 ||
      out.api.serial_no.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    bad(where + ".merchant_serial_no", "must be the hex serial of the merchant API certificate");
  }
  out.api.notify_url = api_base_url(r, t, where, "notify_url", std::string());
  if (out.api.notify_url.empty() || out.api.notify_url.size() > 256) {
    bad(where + ".notify_url", "must be an https:// URL of at most 256 bytes (WeChat Pay's rule)");
  }
  const std::string primary(providers::wechatpay_v3::kApiHost);
  out.upstream.base_url = api_base_url(r, t, where, "api_base_url", primary);
  // The production backup host only goes with the production host.
  out.upstream.backup_base_url =
      api_base_url(r, t, where, "backup_api_base_url",
                   out.upstream.base_url == primary
                       ? std::string(providers::wechatpay_v3::kBackupApiHost)
                       : std::string());
  out.upstream.timeout =
      std::chrono::milliseconds(r.integer(t, where, "api_timeout_ms", 10000, 100, 120000));
  out.upstream.connect_timeout = std::min(out.upstream.timeout, std::chrono::milliseconds(3000));
  return out;
}

providers::wechatpay_v2::Settings wechatpay_v2(const Reader& r, const toml::table& t,
                                               const std::string& where) {
  only_keys(t, where, {"mchid", "appids", "api_key_file", "api_key_env", "sign_type"});
  providers::wechatpay_v2::Settings s;
  const std::string sign_type = r.string(t, where, "sign_type", "MD5");
  if (sign_type == "HMAC-SHA256") {
    s.sign_type = providers::wechatpay_v2::SignType::kHmacSha256;
  } else if (sign_type != "MD5") {
    bad(where + ".sign_type", "must be \"MD5\" or \"HMAC-SHA256\"");
  }
  s.mchid = r.string(t, where, "mchid");
  if (s.mchid.empty()) bad(where + ".mchid", "must not be empty");
  s.appids = app_ids(t, where);
  s.api_key = r.secret(t, where, "api_key");
  if (s.api_key.size() != 32) {
    bad(where + ".api_key", "must be exactly 32 bytes (got " + std::to_string(s.api_key.size()) + ")");
  }
  return s;
}

providers::wechat_mp::Settings wechat_mp(const Reader& r, const toml::table& t,
                                         const std::string& where) {
  only_keys(t, where, {"appid", "token_file", "token_env", "encoding_aes_key_file",
                       "encoding_aes_key_env", "max_clock_skew_seconds", "mode"});
  providers::wechat_mp::Settings s;
  s.appid = r.string(t, where, "appid");
  if (s.appid.empty()) bad(where + ".appid", "must not be empty");
  s.token = r.secret(t, where, "token");
  if (s.token.size() < 3 || s.token.size() > 32) bad(where + ".token", "must be 3 to 32 characters");
  if (t["encoding_aes_key_file"] || t["encoding_aes_key_env"]) {
    const auto encoding = r.secret(t, where, "encoding_aes_key");
    auto key = providers::wechat_mp::aes_key(encoding.reveal());
    if (!key) bad(where + ".encoding_aes_key", "must be the 43-character EncodingAESKey");
    s.aes_key = core::Secret(*key);
  }
  // Safe when an EncodingAESKey is given, so that a plaintext message is never a downgrade.
  const std::string mode = r.string(t, where, "mode", s.aes_key ? "safe" : "plain");
  if (mode == "safe") {
    s.mode = providers::wechat_mp::Mode::kSafe;
  } else if (mode == "compatible") {
    s.mode = providers::wechat_mp::Mode::kCompatible;
  } else if (mode == "plain") {
    s.mode = providers::wechat_mp::Mode::kPlain;
  } else {
    bad(where + ".mode", "must be \"safe\", \"compatible\" or \"plain\"");
  }
  if (s.mode != providers::wechat_mp::Mode::kPlain && !s.aes_key) {
    bad(where + ".mode", mode + " mode needs encoding_aes_key_file or encoding_aes_key_env");
  }
  s.max_clock_skew_seconds = r.integer(t, where, "max_clock_skew_seconds", 300, 1, 3600);
  return s;
}

// Public-key mode: alipay_public_key_file. Certificate mode: alipay_cert_file whose chain must
// verify to the certificates in alipay_root_cert_file (extra certificates in alipay_cert_file
// are intermediates).
providers::alipay::Settings alipay(const Reader& r, const toml::table& t,
                                   const std::string& where) {
  only_keys(t, where, {"app_id", "seller_id", "alipay_public_key_file", "alipay_cert_file",
                       "alipay_root_cert_file", "return_redirect_url"});
  providers::alipay::Settings s;
  s.app_id = r.string(t, where, "app_id");
  s.seller_id = r.string(t, where, "seller_id");
  if (s.app_id.empty()) bad(where + ".app_id", "must not be empty");
  if (s.seller_id.empty()) bad(where + ".seller_id", "must not be empty");
  const bool key_mode = static_cast<bool>(t["alipay_public_key_file"]);
  const bool cert_mode = static_cast<bool>(t["alipay_cert_file"]);
  if (key_mode == cert_mode) {
    bad(where, "give exactly one of alipay_public_key_file or alipay_cert_file");
  }
  const char* fk = key_mode ? "alipay_public_key_file" : "alipay_cert_file";
  const std::string pem = read_file(r.resolve(r.string(t, where, fk)), where + "." + fk);
  if (cert_mode) {
    const std::string roots = read_file(r.resolve(r.string(t, where, "alipay_root_cert_file")),
                                        where + ".alipay_root_cert_file");
    if (auto chain = crypto::verify_chain(pem, roots, std::time(nullptr)); !chain) {
      bad(where + ".alipay_cert_file", chain.error().detail);
    }
  } else if (t["alipay_root_cert_file"]) {
    bad(where + ".alipay_root_cert_file", "only with alipay_cert_file");
  }
  auto key = crypto::PublicKey::from_pem(pem);
  if (!key) bad(where + "." + fk, key.error().detail);
  s.alipay_key = *key;
  s.return_redirect_url = r.string(t, where, "return_redirect_url", std::string());
  if (!s.return_redirect_url.empty() && s.return_redirect_url.rfind("https://", 0) != 0 &&
      s.return_redirect_url.rfind("http://", 0) != 0) {
    bad(where + ".return_redirect_url", "must be an http(s) URL");
  }
  return s;
}

WebhookSettings webhook_settings(const Reader& r, const toml::table& t) {
  const std::string where = "webhooks";
  only_keys(t, where, {"allow_private_addresses", "allow_insecure_http", "retry_schedule_seconds",
                       "retry_window_seconds", "poll_ms", "busy_deliveries_per_second"});
  WebhookSettings w;
  if (auto a = t["allow_private_addresses"]) {
    auto v = a.value<bool>();
    if (!v) bad(where + ".allow_private_addresses", "must be true or false");
    w.allow_private_addresses = *v;
  }
  if (auto a = t["allow_insecure_http"]) {
    auto v = a.value<bool>();
    if (!v) bad(where + ".allow_insecure_http", "must be true or false");
    w.allow_insecure_http = *v;
  }
  if (auto node = t["retry_schedule_seconds"]) {
    auto arr = node.as_array();
    if (arr == nullptr || arr->empty() || arr->size() > 50) {
      bad(where + ".retry_schedule_seconds", "must be an array of 1-50 delays");
    }
    w.worker.retry.delays.clear();
    for (const auto& d : *arr) {
      auto v = d.value<int64_t>();
      if (!v || *v < 1 || *v > 7 * 86400) {
        bad(where + ".retry_schedule_seconds", "delays must be integers from 1 to 604800");
      }
      w.worker.retry.delays.push_back(std::chrono::seconds(*v));
    }
  }
  w.worker.retry.min_span = std::chrono::seconds(
      r.integer(t, where, "retry_window_seconds", 86400, 0, 30 * 86400));
  w.worker.poll = std::chrono::milliseconds(r.integer(t, where, "poll_ms", 100, 10, 60000));
  w.worker.pacing.rate =
      static_cast<double>(r.integer(t, where, "busy_deliveries_per_second", 100, 1, 1000000));
  return w;
}

// The host of an http(s) URL when it is a literal IP address that only reaches this machine
// or a private network; empty otherwise.
bool literal_internal_host(const std::string& url) {
  auto start = url.find("://");
  if (start == std::string::npos) return false;
  start += 3;
  auto end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return net::is_internal_address(reinterpret_cast<sockaddr*>(&v4));
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    return net::is_internal_address(reinterpret_cast<sockaddr*>(&v6));
  }
  return false;
}

webhooks::Endpoint webhook_endpoint(const Reader& r, const toml::table& t, const std::string& where,
                                    const std::string& merchant, bool allow_private,
                                    bool allow_http) {
  only_keys(t, where, {"id", "url", "secret_file", "secret_env", "previous_secret_file",
                       "previous_secret_env", "events", "max_in_flight", "timeout_ms"});
  webhooks::Endpoint e;
  e.merchant = merchant;
  e.id = r.string(t, where, "id");
  if (e.id.empty() || e.id.size() > 64 ||
      e.id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    bad(where + ".id", "must be 1-64 letters, digits, '.', '_' or '-'");
  }
  e.url = r.string(t, where, "url");
  if (!(e.url.starts_with("https://") || e.url.starts_with("http://")) || e.url.size() > 2048 ||
      e.url.find_first_of(" \r\n\t") != std::string::npos) {
    bad(where + ".url", "must be an http(s) URL");
  }
  if (!allow_http && !e.url.starts_with("https://")) {
    bad(where + ".url",
        "must be https:// (set webhooks.allow_insecure_http to send events in clear text)");
  }
  if (!allow_private && literal_internal_host(e.url)) {
    bad(where + ".url",
        "points at a loopback, private or link-local address (set webhooks.allow_private_addresses "
        "to allow it)");
  }
  auto add_secret = [&](const std::string& name) {
    const core::Secret text = r.secret(t, where, name);
    auto key = webhooks::parse_secret(text.reveal());
    if (!key || key->size() < 24 || key->size() > 64) {
      bad(where + "." + name, "must be whsec_ followed by base64 of 24-64 bytes");
    }
    e.secrets.push_back(*key);
  };
  add_secret("secret");
  if (t["previous_secret_file"] || t["previous_secret_env"]) add_secret("previous_secret");
  if (auto node = t["events"]) {
    auto arr = node.as_array();
    if (arr == nullptr) bad(where + ".events", "must be an array of event types");
    for (const auto& ev : *arr) {
      auto v = ev.value<std::string>();
      if (!v || v->empty()) bad(where + ".events", "must hold non-empty strings");
      e.events.push_back(*v);
    }
  }
  e.max_in_flight = static_cast<int>(r.integer(t, where, "max_in_flight", 8, 1, 256));
  e.timeout = std::chrono::milliseconds(r.integer(t, where, "timeout_ms", 15000, 100, 120000));
  return e;
}

Settings parse(const toml::table& root, const Reader& r) {
  only_keys(root, "config", {"server", "store", "merchant", "webhooks"});
  Settings s;
  if (auto node = root["webhooks"]) s.webhooks = webhook_settings(r, table_at(node, "webhooks"));
  if (auto node = root["server"]) {
    const auto& t = table_at(node, "server");
    only_keys(t, "server", {"listen", "body_limit_bytes", "header_timeout_ms", "body_timeout_ms",
                            "idle_timeout_ms", "request_timeout_ms", "max_connections",
                            "max_connections_per_address", "drain_timeout_ms", "threads",
                            "log_level"});
    const std::string listen = r.string(t, "server", "listen", "127.0.0.1:8080");
    auto address = http::parse_listen(listen);
    if (!address) bad("server.listen", "must be HOST:PORT with a port of 0-65535");
    s.server.address = address->host;
    s.server.port = address->port;
    s.server.body_limit = static_cast<std::size_t>(
        r.integer(t, "server", "body_limit_bytes", 64 * 1024, 1024, 16 * 1024 * 1024));
    s.server.header_timeout = std::chrono::milliseconds(
        r.integer(t, "server", "header_timeout_ms", 10000, 100, 600000));
    s.server.body_timeout = std::chrono::milliseconds(
        r.integer(t, "server", "body_timeout_ms", 10000, 100, 600000));
    s.server.idle_timeout = std::chrono::milliseconds(
        r.integer(t, "server", "idle_timeout_ms", 5000, 100, 600000));
    s.server.request_timeout = std::chrono::milliseconds(
        r.integer(t, "server", "request_timeout_ms", 15000, 100, 600000));
    s.server.max_connections =
        static_cast<int>(r.integer(t, "server", "max_connections", 0, 0, 1000000));
    s.server.max_connections_per_address =
        static_cast<int>(r.integer(t, "server", "max_connections_per_address", 0, 0, 1000000));
    s.server.drain_timeout = std::chrono::milliseconds(
        r.integer(t, "server", "drain_timeout_ms", 15000, 0, 600000));
    s.server.threads = static_cast<int>(r.integer(t, "server", "threads", 2, 1, 64));
    s.log_level = r.string(t, "server", "log_level", "info");
    if (s.log_level != "debug" && s.log_level != "info" && s.log_level != "warn" &&
        s.log_level != "error" && s.log_level != "off") {
      bad("server.log_level", "must be debug, info, warn, error or off");
    }
  }
  const auto& store = table_at(root["store"], "store");
  only_keys(store, "store", {"sqlite_path", "max_queued", "retention_days"});
  s.sqlite_path = r.resolve(r.string(store, "store", "sqlite_path")).string();
  s.store_max_queued = static_cast<int>(r.integer(store, "store", "max_queued", 20000, 1, 10000000));
  s.retention_days = static_cast<int>(r.integer(store, "store", "retention_days", 0, 0, 36500));

  auto merchants = root["merchant"].as_array();
  if (merchants == nullptr || merchants->empty()) bad("merchant", "at least one [[merchant]] is required");
  std::set<std::string> ids, endpoint_ids;
  // A provider's merchant or app id names one paygate merchant: two would make a callback's
  // owner ambiguous.
  std::map<std::string, std::string> provider_ids;
  auto claim = [&provider_ids](const std::string& where, const std::string& kind,
                               const std::string& id, const std::string& merchant) {
    auto [it, fresh] = provider_ids.emplace(kind + " " + id, merchant);
    if (!fresh && it->second != merchant) {
      bad(where, kind + " " + id + " is already configured for merchant " + it->second);
    }
  };
  for (std::size_t i = 0; i < merchants->size(); ++i) {
    const std::string where = "merchant[" + std::to_string(i) + "]";
    auto t = (*merchants)[i].as_table();
    if (t == nullptr) bad(where, "must be a table");
    only_keys(*t, where,
              {"id", "api_token_file", "api_token_env", "wechatpay_v3", "wechatpay_v2", "alipay",
               "wechat_mp", "webhooks"});
    MerchantSettings m;
    m.id = r.string(*t, where, "id");
    if (m.id.empty() || m.id.size() > 64 || m.id.find('/') != std::string::npos) {
      bad(where + ".id", "must be 1-64 characters without '/'");
    }
    if (!ids.insert(m.id).second) bad(where + ".id", "duplicate merchant id " + m.id);
    m.api_token = r.secret(*t, where, "api_token");
    if (m.api_token.size() < 16) bad(where + ".api_token", "must be at least 16 characters");
    if (auto w = (*t)["wechatpay_v2"]) {
      m.wechatpay_v2 = wechatpay_v2(r, table_at(w, where + ".wechatpay_v2"), where + ".wechatpay_v2");
    }
    if (auto w = (*t)["wechat_mp"]) {
      m.wechat_mp = wechat_mp(r, table_at(w, where + ".wechat_mp"), where + ".wechat_mp");
    }
    if (auto a = (*t)["alipay"]) {
      m.alipay = alipay(r, table_at(a, where + ".alipay"), where + ".alipay");
    }
    if (auto w = (*t)["wechatpay_v3"]) {
      m.wechatpay_v3 = wechatpay_v3(r, table_at(w, where + ".wechatpay_v3"), where + ".wechatpay_v3");
      m.wechatpay_v3_out =
          wechatpay_v3_out(r, table_at(w, where + ".wechatpay_v3"), where + ".wechatpay_v3");
    }
    if (m.wechatpay_v3) {
      claim(where + ".wechatpay_v3.mchid", "WeChat Pay mchid", m.wechatpay_v3->mchid, m.id);
      for (const auto& a : m.wechatpay_v3->appids) claim(where + ".wechatpay_v3.appids", "appid", a, m.id);
    }
    if (m.wechatpay_v2) {
      claim(where + ".wechatpay_v2.mchid", "WeChat Pay mchid", m.wechatpay_v2->mchid, m.id);
      for (const auto& a : m.wechatpay_v2->appids) claim(where + ".wechatpay_v2.appids", "appid", a, m.id);
    }
    if (m.alipay) {
      claim(where + ".alipay.app_id", "Alipay app_id", m.alipay->app_id, m.id);
      claim(where + ".alipay.seller_id", "Alipay seller_id", m.alipay->seller_id, m.id);
    }
    if (m.wechat_mp) claim(where + ".wechat_mp.appid", "appid", m.wechat_mp->appid, m.id);
    if (auto w = (*t)["webhooks"]) {
      auto arr = w.as_array();
      if (arr == nullptr) bad(where + ".webhooks", "must be an array of tables ([[merchant.webhooks]])");
      for (std::size_t j = 0; j < arr->size(); ++j) {
        const std::string ew = where + ".webhooks[" + std::to_string(j) + "]";
        auto et = (*arr)[j].as_table();
        if (et == nullptr) bad(ew, "must be a table");
        auto e = webhook_endpoint(r, *et, ew, m.id, s.webhooks.allow_private_addresses,
                                  s.webhooks.allow_insecure_http);
        if (!endpoint_ids.insert(e.id).second) bad(ew + ".id", "duplicate endpoint id " + e.id);
        m.webhooks.push_back(std::move(e));
      }
    }
    s.merchants.push_back(std::move(m));
  }
  return s;
}

}  // namespace

core::Result<Settings> load_settings(const std::string& path, bool allow_readable_secrets) {
  try {
    toml::table root = toml::parse_file(path);
    Reader r(fs::absolute(fs::path(path)).parent_path(), allow_readable_secrets);
    return parse(root, r);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path << ":" << e.source().begin.line << ": " << e.description();
    return core::fail(ErrorCode::kInvalidArgument, os.str());
  } catch (const ConfigError& e) {
    return core::fail(ErrorCode::kInvalidArgument, e.message);
  }
}

}  // namespace paygate::app

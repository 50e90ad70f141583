#include "sim/sandbox.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"

namespace paygate::sim {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;
using core::fail;
using nlohmann::json;

std::string digits(std::size_t n) {
  std::string out;
  for (unsigned char b : crypto::random_bytes(n)) out += char('0' + b % 10);
  if (out[0] == '0') out[0] = '1';
  return out;
}

// Written whole under a temporary name, synced, then renamed: a reader sees the old file or
// the new one, and a secret is never on disk with looser permissions than 0600.
bool write_file(const fs::path& p, const std::string& text, bool secret) {
  const fs::path tmp = p.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0) return false;
  bool ok = true;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(tmp.c_str(), p.c_str()) == 0;
  if (!ok) ::unlink(tmp.c_str());
  return ok;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

core::Result<Sandbox> init_sandbox(const InitOptions& o) {
  const fs::path dir = fs::absolute(o.dir);
  if (fs::exists(dir / "sim.json") && !o.force) {
    return fail(ErrorCode::kConflict, (dir / "sim.json").string() + " exists (use --force)");
  }
  std::error_code ec;
  fs::create_directories(dir / "keys", ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "cannot create " + dir.string());

  Sandbox s;
  s.dir = dir.string();
  s.merchant = o.merchant;
  s.mchid = "19" + digits(8);
  s.appid = "wx" + crypto::hex_lower(crypto::random_bytes(8));
  s.apiv3_key = crypto::random_alnum(32);
  s.api_token = crypto::random_alnum(40);
  s.api_url = "http://" + o.listen;
  s.notify_url = s.api_url + "/notify/wechatpay/v3/" + o.merchant;
  auto platform = crypto::PrivateKey::generate_rsa();
  auto pubmode = crypto::PrivateKey::generate_rsa();
  if (!platform || !pubmode) return fail(ErrorCode::kInternal, "key generation failed");
  s.platform_key = *platform;
  s.public_key_mode_key = *pubmode;
  s.platform_serial = crypto::hex_upper(crypto::random_bytes(20));
  s.platform_serial[0] = '5';  // a positive serial of exactly 40 hex digits
  s.public_key_id = "PUB_KEY_ID_01" + digits(18);
  s.apiv2_key = crypto::random_alnum(32);
  s.mp_token = crypto::random_alnum(32);
  // An EncodingAESKey is 43 characters of [A-Za-z0-9]: base64 of 32 bytes without "=".
  do {
    s.mp_encoding_aes_key = crypto::base64_encode(crypto::random_bytes(32)).substr(0, 43);
  } while (s.mp_encoding_aes_key.find_first_of("+/") != std::string::npos);
  s.alipay_app_id = "2021" + digits(12);
  s.alipay_seller_id = "2088" + digits(12);
  auto alipay = crypto::PrivateKey::generate_rsa();
  if (!alipay) return fail(ErrorCode::kInternal, "key generation failed");
  s.alipay_key = *alipay;
  auto merchant_key = crypto::PrivateKey::generate_rsa();
  if (!merchant_key) return fail(ErrorCode::kInternal, "key generation failed");
  s.merchant_public_key = *crypto::PublicKey::from_pem(merchant_key->public_pem());
  s.merchant_serial = crypto::hex_upper(crypto::random_bytes(20));
  s.provider_listen = o.provider_listen;
  auto cert = platform->self_signed_certificate_pem(s.platform_serial,
                                                    "paygate sandbox WeChat Pay platform");
  if (!cert) return tl::unexpected(cert.error());

  const fs::path keys = dir / "keys";
  bool ok = write_file(keys / "platform_private_key.pem", platform->to_pem(), true) &&
            write_file(keys / "platform_certificate.pem", *cert, false) &&
            write_file(keys / "pubkey_private_key.pem", pubmode->to_pem(), true) &&
            write_file(keys / "pubkey_public_key.pem", pubmode->public_pem(), false) &&
            write_file(keys / "apiv3_key", s.apiv3_key + "\n", true) &&
            write_file(keys / "api_token", s.api_token + "\n", true) &&
            write_file(keys / "apiv2_key", s.apiv2_key + "\n", true) &&
            write_file(keys / "mp_token", s.mp_token + "\n", true) &&
            write_file(keys / "mp_encoding_aes_key", s.mp_encoding_aes_key + "\n", true) &&
            write_file(keys / "alipay_private_key.pem", alipay->to_pem(), true) &&
            write_file(keys / "alipay_public_key.pem", alipay->public_pem(), false) &&
            write_file(keys / "merchant_private_key.pem", merchant_key->to_pem(), true) &&
            write_file(keys / "merchant_public_key.pem", merchant_key->public_pem(), false) &&
            write_file(keys / "webhook_secret",
                       "whsec_" + crypto::base64_encode(crypto::random_bytes(32)) + "\n", true);
  json sim = {{"merchant", s.merchant},       {"mchid", s.mchid},
              {"appid", s.appid},             {"notify_url", s.notify_url},
              {"api_url", s.api_url},         {"platform_serial", s.platform_serial},
              {"public_key_id", s.public_key_id},
              {"alipay_app_id", s.alipay_app_id},
              {"alipay_seller_id", s.alipay_seller_id},
              {"merchant_serial", s.merchant_serial},
              {"provider_listen", s.provider_listen}};
  ok = ok && write_file(dir / "sim.json", sim.dump(2) + "\n", false);
  std::ostringstream toml;
  toml << "# paygate config for the sandbox merchant made by `paygate sim init`.\n"
       << "[server]\nlisten = \"" << o.listen << "\"\n\n"
       << "[store]\nsqlite_path = \"paygate.db\"\n\n"
       << "[[merchant]]\nid = \"" << s.merchant << "\"\napi_token_file = \"keys/api_token\"\n\n"
       << "[merchant.wechatpay_v3]\nmchid = \"" << s.mchid << "\"\nappids = [\"" << s.appid
       << "\"]\napiv3_key_file = \"keys/apiv3_key\"\n\n"
       << "# Platform-certificate mode and WeChat Pay public-key mode, both trusted at once.\n"
       << "# Payments out (POST /v1/payments): signed with the merchant API key, sent to the\n"
       << "# simulated WeChat Pay API (`paygate sim provider --dir " << s.dir << "`).\n"
       << "merchant_private_key_file = \"keys/merchant_private_key.pem\"\n"
       << "merchant_serial_no = \"" << s.merchant_serial << "\"\n"
       << "notify_url = \"" << s.notify_url << "\"\n"
       << "api_base_url = \"http://" << s.provider_listen << "\"\n\n"
       << "[[merchant.wechatpay_v3.keys]]\nserial = \"" << s.platform_serial
       << "\"\ncertificate_file = \"keys/platform_certificate.pem\"\n\n"
       << "[[merchant.wechatpay_v3.keys]]\nserial = \"" << s.public_key_id
       << "\"\npublic_key_file = \"keys/pubkey_public_key.pem\"\n\n"
       << "# WeChat Pay APIv2 (legacy XML): POST /notify/wechatpay/v2/" << s.merchant << "\n"
       << "[merchant.wechatpay_v2]\nmchid = \"" << s.mchid << "\"\nappids = [\"" << s.appid
       << "\"]\napi_key_file = \"keys/apiv2_key\"\nsign_type = \"HMAC-SHA256\"\n\n"
       << "# WeChat Official Account: GET|POST /wechat/mp/" << s.merchant << "\n"
       << "[merchant.wechat_mp]\nappid = \"" << s.appid
       << "\"\ntoken_file = \"keys/mp_token\"\nencoding_aes_key_file = \"keys/mp_encoding_aes_key\"\n"
       << "mode = \"compatible\"   # the simulator sends plaintext and safe-mode messages\n\n"
       << "# Alipay: POST /notify/alipay/" << s.merchant << "\n"
       << "[merchant.alipay]\napp_id = \"" << s.alipay_app_id << "\"\nseller_id = \""
       << s.alipay_seller_id << "\"\nalipay_public_key_file = \"keys/alipay_public_key.pem\"\n\n"
       << "# Merchant webhooks: run `paygate sim receiver --secret-file keys/webhook_secret "
          "--listen 127.0.0.1:8081`\n"
       << "# and uncomment to have every event delivered to it.\n"
       << "# [[merchant.webhooks]]\n# id = \"sandbox-receiver\"\n"
       << "# url = \"http://127.0.0.1:8081/events\"\n# secret_file = \"keys/webhook_secret\"\n#\n"
       << "# [webhooks]\n# allow_private_addresses = true   # the receiver is on loopback\n"
       << "# allow_insecure_http = true       # and speaks plain http\n";
  ok = ok && write_file(dir / "paygate.toml", toml.str(), false);
  if (!ok) return fail(ErrorCode::kInvalidArgument, "cannot write sandbox files in " + s.dir);
  return s;
}

core::Result<Sandbox> load_sandbox(const std::string& d) {
  const fs::path dir = fs::absolute(d);
  json sim = json::parse(read_file(dir / "sim.json"), nullptr, false);
  if (sim.is_discarded() || !sim.is_object()) {
    return fail(ErrorCode::kInvalidArgument, (dir / "sim.json").string() + " is missing or not JSON");
  }
  Sandbox s;
  s.dir = dir.string();
  try {
    s.merchant = sim.at("merchant");
    s.mchid = sim.at("mchid");
    s.appid = sim.at("appid");
    s.notify_url = sim.at("notify_url");
    s.api_url = sim.at("api_url");
    s.platform_serial = sim.at("platform_serial");
    s.public_key_id = sim.at("public_key_id");
  } catch (const std::exception&) {
    return fail(ErrorCode::kInvalidArgument, "sim.json lacks a field");
  }
  auto trim = [](std::string v) {
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    return v;
  };
  s.apiv3_key = trim(read_file(dir / "keys" / "apiv3_key"));
  s.api_token = trim(read_file(dir / "keys" / "api_token"));
  auto pk = crypto::PrivateKey::from_pem(read_file(dir / "keys" / "platform_private_key.pem"));
  auto pm = crypto::PrivateKey::from_pem(read_file(dir / "keys" / "pubkey_private_key.pem"));
  if (!pk || !pm || s.apiv3_key.size() != 32) {
    return fail(ErrorCode::kInvalidArgument, "sandbox keys in " + s.dir + "/keys are unreadable");
  }
  s.platform_key = *pk;
  s.public_key_mode_key = *pm;
  // Sandboxes made before APIv2 and Alipay were simulated lack these; those providers are
  // then unavailable to `sim`.
  s.apiv2_key = trim(read_file(dir / "keys" / "apiv2_key"));
  s.mp_token = trim(read_file(dir / "keys" / "mp_token"));
  s.mp_encoding_aes_key = trim(read_file(dir / "keys" / "mp_encoding_aes_key"));
  s.alipay_app_id = sim.value("alipay_app_id", "");
  s.alipay_seller_id = sim.value("alipay_seller_id", "");
  if (auto ak = crypto::PrivateKey::from_pem(read_file(dir / "keys" / "alipay_private_key.pem"))) {
    s.alipay_key = *ak;
  }
  // Sandboxes made before payments out lack these; `sim provider` then refuses to start.
  s.merchant_serial = sim.value("merchant_serial", "");
  s.provider_listen = sim.value("provider_listen", "");
  if (auto mk = crypto::PublicKey::from_pem(read_file(dir / "keys" / "merchant_public_key.pem"))) {
    s.merchant_public_key = *mk;
  }
  return s;
}

}  // namespace paygate::sim

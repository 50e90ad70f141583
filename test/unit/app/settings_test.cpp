#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "app/settings.hpp"
#include "sim/sandbox.hpp"

namespace paygate::app {
namespace {

namespace fs = std::filesystem;

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("paygate-settings-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    auto sb = sim::init_sandbox({.dir = dir_.string(), .merchant = "shop", .listen = "127.0.0.1:0"});
    ASSERT_TRUE(sb);
    std::ifstream in(dir_ / "paygate.toml");
    good_.assign(std::istreambuf_iterator<char>(in), {});
    // The sandbox configures every provider; tests adding their own sections start from the
    // WeChat Pay APIv3 part alone.
    v3_only_ = good_.substr(0, good_.find("# WeChat Pay APIv2"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  core::Result<Settings> load(const std::string& text) {
    std::ofstream(dir_ / "test.toml") << text;
    return load_settings((dir_ / "test.toml").string());
  }
  std::string replaced(const std::string& from, const std::string& to) {
    auto s = good_;
    auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return pos == std::string::npos ? s : s.replace(pos, from.size(), to);
  }
  void expect_error(const std::string& text, const std::string& names) {
    auto r = load(text);
    ASSERT_FALSE(r) << "accepted a bad config naming " << names;
    EXPECT_NE(r.error().detail.find(names), std::string::npos) << r.error().detail;
  }

  fs::path dir_;
  std::string good_;
  std::string v3_only_;
};

TEST_F(SettingsTest, SandboxConfigLoads) {
  auto r = load(good_);
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->merchants.size(), 1u);
  EXPECT_TRUE(r->merchants[0].wechatpay_v2);
  EXPECT_TRUE(r->merchants[0].alipay);
  EXPECT_TRUE(r->merchants[0].wechat_mp && r->merchants[0].wechat_mp->aes_key);
  EXPECT_EQ(r->merchants[0].wechatpay_v3->keys.size(), 2u);
  EXPECT_EQ(r->merchants[0].wechatpay_v3->apiv3_key.size(), 32u);
}

TEST_F(SettingsTest, BadConfigsNameTheSetting) {
  std::ofstream(dir_ / "short_key") << "abc\n";
  fs::permissions(dir_ / "short_key", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(dir_ / "garbage.pem") << "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  expect_error(replaced("apiv3_key_file = \"keys/apiv3_key\"", "apiv3_key_file = \"short_key\""),
               "wechatpay_v3.apiv3_key");
  expect_error(replaced("apiv3_key_file = \"keys/apiv3_key\"", ""), "wechatpay_v3.apiv3_key");
  expect_error(replaced("apiv3_key_file = \"keys/apiv3_key\"", "apiv3_key_env = \"PAYGATE_UNSET_VAR\""),
               "PAYGATE_UNSET_VAR");
  expect_error(replaced("certificate_file = \"keys/platform_certificate.pem\"",
                        "certificate_file = \"garbage.pem\""),
               "keys[0].certificate_file");
  expect_error(replaced("certificate_file = \"keys/platform_certificate.pem\"",
                        "certificate_file = \"missing.pem\""),
               "keys[0].certificate_file");
  expect_error(replaced("mchid = ", "mchidx = "), "merchant[0].wechatpay_v3.mchidx");
  expect_error(replaced("listen = \"127.0.0.1:0\"", "listen = \"nowhere\""), "server.listen");
  expect_error(replaced("[store]\nsqlite_path = \"paygate.db\"", ""), "store");
  expect_error(good_ + "\n[[merchant]]\nid = \"shop\"\napi_token_file = \"keys/api_token\"\n",
               "duplicate merchant id");
  expect_error("this is = = not toml", "test.toml");
}

TEST_F(SettingsTest, CertificateSerialMustMatch) {
  expect_error(replaced("serial = \"5", "serial = \"6"), "does not match the certificate");
}

TEST_F(SettingsTest, SecretFilesOthersCanReadAreRefusedUnlessAllowed) {
  EXPECT_EQ(fs::status(dir_ / "keys" / "apiv3_key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);  // as sim init writes them
  fs::permissions(dir_ / "keys" / "apiv3_key", fs::perms::group_read, fs::perm_options::add);
  auto r = load(good_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("merchant[0].wechatpay_v3.apiv3_key_file"), std::string::npos)
      << r.error().detail;
  EXPECT_NE(r.error().detail.find("0640"), std::string::npos) << r.error().detail;
  EXPECT_NE(r.error().detail.find("chmod 600"), std::string::npos) << r.error().detail;
  std::ofstream(dir_ / "test.toml") << good_;
  EXPECT_TRUE(load_settings((dir_ / "test.toml").string(), true));  // the override
  // Public keys and certificates are public: their modes do not matter.
  fs::permissions(dir_ / "keys" / "apiv3_key", fs::perms::group_read, fs::perm_options::remove);
  fs::permissions(dir_ / "keys" / "platform_certificate.pem", fs::perms::others_read,
                  fs::perm_options::add);
  EXPECT_TRUE(load(good_));
}

TEST_F(SettingsTest, OneProviderIdBelongsToOneMerchant) {
  auto second = good_.substr(good_.find("[[merchant]]"));
  const auto id_at = second.find("id = \"shop\"");
  ASSERT_NE(id_at, std::string::npos);
  second.replace(id_at, 11, "id = \"other\"");
  expect_error(good_ + "\n" + second, "is already configured for merchant shop");
}

TEST_F(SettingsTest, ErrorsNeverContainSecrets) {
  std::ofstream(dir_ / "bad_token") << "short\n";
  fs::permissions(dir_ / "bad_token", fs::perms::owner_read | fs::perms::owner_write);
  auto r = load(replaced("api_token_file = \"keys/api_token\"", "api_token_file = \"bad_token\""));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail.find("short"), std::string::npos);
}

}  // namespace
}  // namespace paygate::app

namespace paygate::app {
namespace {

class AlipaySettingsTest : public SettingsTest {
 protected:
  void SetUp() override {
    SettingsTest::SetUp();
    const auto doc = nlohmann::json::parse(
        std::ifstream(std::string(PAYGATE_VECTORS_DIR) + "/alipay_notify.json"));
    const auto& cm = doc["shared"]["certificate_mode"];
    std::ofstream(dir_ / "alipay_cert.pem") << cm["alipay_public_cert_pem"].get<std::string>();
    std::ofstream(dir_ / "alipay_root.pem") << cm["alipay_root_cert_bundle_pem"].get<std::string>();
    std::ofstream(dir_ / "alipay_pub.pem") << doc["shared"]["alipay_public_key_pem"].get<std::string>();
  }
  std::string with(const std::string& section) { return v3_only_ + "\n[merchant.alipay]\n" + section; }
};

TEST_F(AlipaySettingsTest, PublicKeyModeLoads) {
  auto r = load(with("app_id = \"2021\"\nseller_id = \"2088\"\nalipay_public_key_file = \"alipay_pub.pem\"\n"));
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_TRUE(r->merchants[0].alipay);
  EXPECT_EQ(r->merchants[0].alipay->seller_id, "2088");
}

TEST_F(AlipaySettingsTest, BadSectionsNameTheSetting) {
  expect_error(with("seller_id = \"2088\"\nalipay_public_key_file = \"alipay_pub.pem\"\n"),
               "alipay.app_id");
  expect_error(with("app_id = \"2021\"\nalipay_public_key_file = \"alipay_pub.pem\"\n"),
               "alipay.seller_id");
  expect_error(with("app_id = \"2021\"\nseller_id = \"2088\"\n"), "merchant[0].alipay");
  expect_error(with("app_id = \"2021\"\nseller_id = \"2088\"\nalipay_public_key_file = \"alipay_pub.pem\"\n"
                    "alipay_cert_file = \"alipay_cert.pem\"\n"),
               "merchant[0].alipay");
  expect_error(with("app_id = \"2021\"\nseller_id = \"2088\"\nalipay_public_key_file = \"nope.pem\"\n"),
               "alipay.alipay_public_key_file");
  expect_error(with("app_id = \"2021\"\nseller_id = \"2088\"\nalipay_public_key_file = \"alipay_pub.pem\"\n"
                    "colour = \"red\"\n"),
               "alipay.colour");
  // The vectors' Alipay certificate names an intermediate the root bundle lacks: refused.
  expect_error(with("app_id = \"2021\"\nseller_id = \"2088\"\nalipay_cert_file = \"alipay_cert.pem\"\n"
                    "alipay_root_cert_file = \"alipay_root.pem\"\n"),
               "alipay.alipay_cert_file");
  expect_error(with("app_id = \"2021\"\nseller_id = \"2088\"\nalipay_cert_file = \"alipay_cert.pem\"\n"),
               "alipay.alipay_root_cert_file");
  expect_error(with("app_id = \"2021\"\nseller_id = \"2088\"\nalipay_public_key_file = \"alipay_pub.pem\"\n"
                    "return_redirect_url = \"javascript:alert(1)\"\n"),
               "alipay.return_redirect_url");
}

TEST_F(SettingsTest, WechatpayV2SectionIsValidated) {
  std::ofstream(dir_ / "v2_key") << "L82BD6lbmm8LzT3teCA6pOTGy34CLKe3\n";
  fs::permissions(dir_ / "v2_key", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(dir_ / "v2_short") << "short\n";
  fs::permissions(dir_ / "v2_short", fs::perms::owner_read | fs::perms::owner_write);
  const std::string ok = v3_only_ + "\n[merchant.wechatpay_v2]\nmchid = \"1057885537\"\n"
                                 "appids = [\"wx75d5c18f9abd29b4\"]\napi_key_file = \"v2_key\"\n";
  auto r = load(ok);
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_TRUE(r->merchants[0].wechatpay_v2);
  EXPECT_EQ(r->merchants[0].wechatpay_v2->api_key.size(), 32u);
  auto swap = [&](const std::string& from, const std::string& to) {
    std::string t = ok;
    return t.replace(t.find(from), from.size(), to);
  };
  expect_error(swap("api_key_file = \"v2_key\"", "api_key_file = \"v2_short\""),
               "wechatpay_v2.api_key");
  expect_error(swap("mchid = \"1057885537\"\n", ""), "wechatpay_v2.mchid");
  expect_error(swap("appids = [\"wx75d5c18f9abd29b4\"]", "appids = []"), "wechatpay_v2.appids");
  expect_error(swap("api_key_file = \"v2_key\"", "api_key_env = \"PAYGATE_UNSET_VAR\""),
               "wechatpay_v2.api_key_env");
  expect_error(ok + "sign_type = \"SHA1\"\n", "wechatpay_v2.sign_type");
  auto hmac = load(ok + "sign_type = \"HMAC-SHA256\"\n");
  ASSERT_TRUE(hmac) << hmac.error().detail;
  EXPECT_EQ(hmac->merchants[0].wechatpay_v2->sign_type,
            providers::wechatpay_v2::SignType::kHmacSha256);
  EXPECT_EQ(r->merchants[0].wechatpay_v2->sign_type, providers::wechatpay_v2::SignType::kMd5);
}

TEST_F(SettingsTest, WechatMpSectionIsValidated) {
  std::ofstream(dir_ / "mp_token") << "hXkvf4kcrrxiYUc6\n";
  fs::permissions(dir_ / "mp_token", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(dir_ / "mp_aes") << "6yEYJA9hG5rNdX0xPyhOFEYcSb9PLaT1ogyXy84quyA\n";
  fs::permissions(dir_ / "mp_aes", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(dir_ / "mp_bad_aes") << "short\n";
  fs::permissions(dir_ / "mp_bad_aes", fs::perms::owner_read | fs::perms::owner_write);
  const std::string ok = v3_only_ + "\n[merchant.wechat_mp]\nappid = \"wxf185527f93299c87\"\n"
                                 "token_file = \"mp_token\"\nencoding_aes_key_file = \"mp_aes\"\n";
  auto r = load(ok);
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_TRUE(r->merchants[0].wechat_mp);
  EXPECT_TRUE(r->merchants[0].wechat_mp->aes_key);
  auto swap = [&](const std::string& from, const std::string& to) {
    std::string t = ok;
    return t.replace(t.find(from), from.size(), to);
  };
  expect_error(swap("\"mp_aes\"", "\"mp_bad_aes\""), "wechat_mp.encoding_aes_key");
  expect_error(swap("appid = \"wxf185527f93299c87\"\n", ""), "wechat_mp.appid");
  expect_error(swap("token_file = \"mp_token\"\n", ""), "wechat_mp.token");
  // Plaintext mode only: no EncodingAESKey.
  auto plain = load(swap("encoding_aes_key_file = \"mp_aes\"\n", ""));
  ASSERT_TRUE(plain) << plain.error().detail;
  EXPECT_FALSE(plain->merchants[0].wechat_mp->aes_key);
  EXPECT_EQ(plain->merchants[0].wechat_mp->mode, providers::wechat_mp::Mode::kPlain);
  EXPECT_EQ(r->merchants[0].wechat_mp->mode, providers::wechat_mp::Mode::kSafe);  // key given
  auto compatible = load(ok + "mode = \"compatible\"\n");
  ASSERT_TRUE(compatible) << compatible.error().detail;
  EXPECT_EQ(compatible->merchants[0].wechat_mp->mode, providers::wechat_mp::Mode::kCompatible);
  expect_error(ok + "mode = \"open\"\n", "wechat_mp.mode");
  expect_error(swap("encoding_aes_key_file = \"mp_aes\"\n", "mode = \"safe\"\n"),
               "wechat_mp.mode");
  // Errors name the setting, never the secret.
  auto bad = load(swap("\"mp_aes\"", "\"mp_bad_aes\""));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().detail.find("short"), std::string::npos);
}

}  // namespace
}  // namespace paygate::app

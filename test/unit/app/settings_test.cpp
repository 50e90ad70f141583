#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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
    auto sb = sim::init_sandbox({dir_.string(), "shop", "127.0.0.1:0", false});
    ASSERT_TRUE(sb);
    std::ifstream in(dir_ / "paygate.toml");
    good_.assign(std::istreambuf_iterator<char>(in), {});
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
};

TEST_F(SettingsTest, SandboxConfigLoads) {
  auto r = load(good_);
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->merchants.size(), 1u);
  EXPECT_EQ(r->merchants[0].wechatpay_v3->keys.size(), 2u);
  EXPECT_EQ(r->merchants[0].wechatpay_v3->apiv3_key.size(), 32u);
}

TEST_F(SettingsTest, BadConfigsNameTheSetting) {
  std::ofstream(dir_ / "short_key") << "abc\n";
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

TEST_F(SettingsTest, ErrorsNeverContainSecrets) {
  std::ofstream(dir_ / "bad_token") << "short\n";
  auto r = load(replaced("api_token_file = \"keys/api_token\"", "api_token_file = \"bad_token\""));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail.find("short"), std::string::npos);
}

}  // namespace
}  // namespace paygate::app

#include <gtest/gtest.h>

#include <map>

#include "core/money.hpp"
#include "crypto/encoding.hpp"
#include "crypto/x509.hpp"
#include "providers/alipay/adapter.hpp"
#include "providers/form.hpp"
#include "support/vectors.hpp"

namespace paygate::providers::alipay {
namespace {

using nlohmann::json;

// Every async-notify vector, positive and negative, in both key modes where given.
TEST(AlipayVectors, AsyncNotifications) {
  const json doc = test::load_vectors("alipay_notify");
  const std::string app_id = doc["shared"]["app_id"];
  const std::string seller_id = doc["shared"]["seller_id"];
  int seen = 0;
  for (const auto& v : doc["vectors"]) {
    if (v["kind"] != "async_notify") continue;
    ++seen;
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& in = v["inputs"];
    const auto& exp = v["expected"];
    const std::string body = in["body"];

    auto params = parse_form(body);
    ASSERT_TRUE(params) << params.error().detail;
    std::map<std::string, std::string> decoded(params->begin(), params->end());
    std::map<std::string, std::string> want;
    for (auto& [k, val] : exp["decoded_params"].items()) want[k] = val.get<std::string>();
    EXPECT_EQ(decoded, want);
    EXPECT_EQ(notify_sign_content(*params), exp["sign_content"].get<std::string>());

    // Certificate mode verifies with the key inside the Alipay certificate.
    const std::string key_pem = in.contains("alipay_public_cert_pem")
                                    ? in["alipay_public_cert_pem"].get<std::string>()
                                    : in["alipay_public_key_pem"].get<std::string>();
    auto key = crypto::PublicKey::from_pem(key_pem);
    ASSERT_TRUE(key);
    Adapter adapter(Settings{app_id, seller_id, *key, ""});
    core::Headers h;
    h.add("Content-Type", in["content_type"].get<std::string>());
    // Extra query parameters on the notify URL do not take part.
    const InboundRequest req{"POST", "/notify/alipay/m?from=alipay&x=%", h, body};
    auto got = adapter.accept(req, 0);
    EXPECT_EQ(static_cast<bool>(got), exp["accept"].get<bool>())
        << (got ? "" : got.error().detail);
    if (exp["accept"].get<bool>()) {
      ASSERT_TRUE(got);
      const auto r = adapter.reply(Outcome::kApplied);
      EXPECT_EQ(r.body, exp["reply_body"].get<std::string>());
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(got->event.out_trade_no, want["out_trade_no"]);
      EXPECT_EQ(got->event.total, *core::yuan_to_fen(want["total_amount"]));
      EXPECT_EQ(got->event.appid, app_id);
      EXPECT_EQ(got->event.mchid, want["seller_id"]);
      const std::string status = want["trade_status"];
      if (want.count("out_biz_no")) {
        EXPECT_EQ(got->event.kind, core::EventKind::kRefundSucceeded);
        EXPECT_EQ(got->event.out_refund_no, want["out_biz_no"]);
        EXPECT_EQ(got->event.refund_amount, *core::yuan_to_fen(want["refund_fee"]));
        EXPECT_TRUE(got->event.refund_cumulative);
      } else if (status == "TRADE_SUCCESS" || status == "TRADE_FINISHED") {
        EXPECT_EQ(got->event.kind, core::EventKind::kPaymentSucceeded);
        EXPECT_EQ(got->event.transaction_id, want["trade_no"]);
      } else if (status == "TRADE_CLOSED") {
        EXPECT_EQ(got->event.kind, core::EventKind::kPaymentClosed);
      } else {
        EXPECT_EQ(got->event.kind, core::EventKind::kPaymentWaiting);
      }
    } else {
      ASSERT_FALSE(got);
      const auto r = adapter.reply(got.error().code);
      EXPECT_NE(r.body, "success");
      EXPECT_NE(r.status, 200);
    }
  }
  EXPECT_EQ(seen, 12);
}

TEST(AlipayVectors, CertificateSerialNumbers) {
  const json doc = test::load_vectors("alipay_notify");
  int seen = 0;
  for (const auto& v : doc["vectors"]) {
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& exp = v["expected"];
    if (v["kind"] == "cert_sn") {
      ++seen;
      auto certs = crypto::read_certificates(v["inputs"]["certificate_pem"].get<std::string>());
      ASSERT_TRUE(certs);
      ASSERT_EQ(certs->size(), 1u);
      EXPECT_EQ((*certs)[0].issuer_rfc2253, exp["issuer_rfc2253"].get<std::string>());
      EXPECT_EQ((*certs)[0].serial_decimal, exp["serial_decimal"].get<std::string>());
      EXPECT_EQ(cert_sn((*certs)[0]), exp["sn"].get<std::string>());
      if (exp.contains("public_key_spki_pem")) {
        auto from_cert = crypto::PublicKey::from_pem(v["inputs"]["certificate_pem"].get<std::string>());
        auto spki = crypto::PublicKey::from_pem(exp["public_key_spki_pem"].get<std::string>());
        ASSERT_TRUE(from_cert && spki);
        EXPECT_EQ(from_cert->to_pem(), spki->to_pem());
      }
    } else if (v["kind"] == "root_cert_sn") {
      ++seen;
      auto certs = crypto::read_certificates(v["inputs"]["root_bundle_pem"].get<std::string>());
      ASSERT_TRUE(certs);
      ASSERT_EQ(certs->size(), exp["certificates"].size());
      for (std::size_t i = 0; i < certs->size(); ++i) {
        const auto& c = exp["certificates"][i];
        EXPECT_EQ((*certs)[i].signature_algorithm_oid, c["signature_algorithm_oid"].get<std::string>());
        EXPECT_EQ((*certs)[i].issuer_rfc2253, c["issuer_rfc2253"].get<std::string>());
        EXPECT_EQ(cert_sn((*certs)[i]), c["sn"].get<std::string>());
      }
      EXPECT_EQ(root_cert_sn(*certs), exp["sn"].get<std::string>());
    }
  }
  EXPECT_EQ(seen, 3);
}

// The vectors' Alipay certificate names an intermediate the bundle does not hold.
TEST(AlipayCertificates, ChainToTheRootBundleIsChecked) {
  const json doc = test::load_vectors("alipay_notify");
  const auto& cm = doc["shared"]["certificate_mode"];
  const std::string cert = cm["alipay_public_cert_pem"];
  const std::string roots = cm["alipay_root_cert_bundle_pem"];
  auto r = crypto::verify_chain(cert, roots, 1800000000);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("local issuer"), std::string::npos) << r.error().detail;
  // A root verifies against itself as anchor.
  auto bundle = crypto::read_certificates(roots);
  ASSERT_TRUE(bundle);
  EXPECT_TRUE(crypto::verify_chain((*bundle)[0].pem, roots, 1800000000));
  EXPECT_FALSE(crypto::verify_chain("not a pem", roots, 1800000000));
}

TEST(AlipayForms, MalformedBodiesAreRejected) {
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "a=1&a=2", "novalue", "=x", "a=%G0"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parse_form(bad));
  }
  auto ok = parse_form("a=1+2&&b=%2B%25&c=");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*form_value(*ok, "a"), "1 2");
  EXPECT_EQ(*form_value(*ok, "b"), "+%");  // decoded once: no second pass
  EXPECT_EQ(*form_value(*ok, "c"), "");
  EXPECT_EQ(form_value(*ok, "d"), nullptr);
}

TEST(AlipayForms, NotificationWithoutSignatureOrWithOtherTypeIsRejected) {
  auto key = crypto::PrivateKey::generate_rsa();
  ASSERT_TRUE(key);
  auto pub = crypto::PublicKey::from_pem(key->public_pem());
  ASSERT_TRUE(pub);
  Adapter adapter(Settings{"app", "seller", *pub, ""});
  core::Headers h;
  for (const char* body : {"notify_id=1&out_trade_no=o&total_amount=1.00",
                           "notify_id=1&sign=AAAA&sign_type=RSA",
                           "notify_id=1&sign=%%%&sign_type=RSA2", ""}) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(adapter.accept(InboundRequest{"POST", "/", h, body}, 0));
  }
}

TEST(AlipayForms, GbkCharsetIsVerifiedOverTheBytesAsSent) {
  // Merchants on charset=GBK get their values percent-encoded as GBK bytes; the signature covers
  // those bytes, so paygate must verify them as received, without transcoding.
  auto key = crypto::PrivateKey::generate_rsa();
  ASSERT_TRUE(key);
  auto pub = crypto::PublicKey::from_pem(key->public_pem());
  ASSERT_TRUE(pub);
  Adapter adapter(Settings{"2021000000000001", "2088000000000001", *pub, ""});
  const std::string gbk_subject = "\xb2\xe2\xca\xd4\xb6\xa9\xb5\xa5";  // 测试订单 in GBK
  const std::string utf8_subject = "\xe6\xb5\x8b\xe8\xaf\x95\xe8\xae\xa2\xe5\x8d\x95";
  auto build = [&](const std::string& signed_subject, const std::string& sent_subject) {
    FormParams p = {{"notify_id", "n-gbk-1"},
                    {"notify_type", "trade_status_sync"},
                    {"notify_time", "2026-11-23 10:00:05"},
                    {"charset", "GBK"},
                    {"version", "1.0"},
                    {"app_id", "2021000000000001"},
                    {"seller_id", "2088000000000001"},
                    {"out_trade_no", "GBK-1"},
                    {"trade_no", "2026112322001400000000000001"},
                    {"trade_status", "TRADE_SUCCESS"},
                    {"total_amount", "12.30"},
                    {"gmt_payment", "2026-11-23 10:00:04"},
                    {"subject", signed_subject}};
    auto sig = key->sign_sha256(sorted_pairs(p, {"sign", "sign_type"}));
    EXPECT_TRUE(sig);
    p.back().second = sent_subject;
    p.emplace_back("sign_type", "RSA2");
    p.emplace_back("sign", crypto::base64_encode(*sig));
    return encode_form(p);
  };
  core::Headers h;
  h.add("Content-Type", "application/x-www-form-urlencoded; charset=GBK");
  const std::string body = build(gbk_subject, gbk_subject);
  EXPECT_NE(body.find("subject=%B2%E2%CA%D4%B6%A9%B5%A5"), std::string::npos) << body;
  auto n = adapter.accept(InboundRequest{"POST", "/notify/alipay/m", h, body}, 0);
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(n->event.out_trade_no, "GBK-1");
  EXPECT_EQ(n->event.total, 1230);
  // The same text re-encoded as UTF-8 is not what was signed.
  EXPECT_FALSE(adapter.accept(
      InboundRequest{"POST", "/notify/alipay/m", h, build(gbk_subject, utf8_subject)}, 0));
  // One GBK byte changed.
  std::string tampered = gbk_subject;
  tampered[1] = '\xb3';
  EXPECT_FALSE(
      adapter.accept(InboundRequest{"POST", "/notify/alipay/m", h, build(gbk_subject, tampered)}, 0));
}

// Once verified, a GBK notification's values are converted to UTF-8; bytes that are neither
// (GBK cut short, or not UTF-8 without a GBK charset) are refused with a clear error.
TEST(AlipayForms, GbkValuesBecomeUtf8AndInvalidTextIsRefused) {
  auto key = crypto::PrivateKey::generate_rsa();
  ASSERT_TRUE(key);
  auto pub = crypto::PublicKey::from_pem(key->public_pem());
  ASSERT_TRUE(pub);
  Adapter adapter(Settings{"2021000000000001", "2088000000000001", *pub, ""});
  auto signed_body = [&](const std::string& charset, const std::string& out_trade_no) {
    FormParams p = {{"notify_id", "n-text-1"},        {"charset", charset},
                    {"app_id", "2021000000000001"},  {"seller_id", "2088000000000001"},
                    {"out_trade_no", out_trade_no},  {"trade_no", "2026112322001400000000000002"},
                    {"trade_status", "TRADE_SUCCESS"}, {"total_amount", "1.00"}};
    auto sig = key->sign_sha256(sorted_pairs(p, {"sign", "sign_type"}));
    EXPECT_TRUE(sig);
    p.emplace_back("sign_type", "RSA2");
    p.emplace_back("sign", crypto::base64_encode(*sig));
    return encode_form(p);
  };
  core::Headers h;
  auto accept = [&](const std::string& body) {
    return adapter.accept(InboundRequest{"POST", "/notify/alipay/m", h, body}, 0);
  };
  auto gbk = accept(signed_body("GBK", "\xb6\xa9\xb5\xa5-1"));  // 订单-1 in GBK
  ASSERT_TRUE(gbk) << gbk.error().detail;
  EXPECT_EQ(gbk->event.out_trade_no, "\xe8\xae\xa2\xe5\x8d\x95-1");
  auto utf8 = accept(signed_body("utf-8", "\xe8\xae\xa2\xe5\x8d\x95-1"));
  ASSERT_TRUE(utf8) << utf8.error().detail;
  EXPECT_EQ(utf8->event.out_trade_no, "\xe8\xae\xa2\xe5\x8d\x95-1");
  for (const auto& [charset, value] : std::vector<std::pair<std::string, std::string>>{
           {"GBK", "\xb6\xa9\xb5"},        // a GBK character cut in half
           {"utf-8", "\xb6\xa9\xb5\xa5"},   // GBK bytes declared as UTF-8
           {"", "\xff-1"},                  // no charset: UTF-8, and this is not
           {"utf-8", "\xed\xa0\x80"}}) {    // a UTF-16 surrogate
    auto r = accept(signed_body(charset, value));
    ASSERT_FALSE(r) << charset;
    EXPECT_EQ(r.error().code, core::ErrorCode::kMalformed) << charset;
    EXPECT_NE(r.error().detail.find("out_trade_no"), std::string::npos) << r.error().detail;
    EXPECT_EQ(adapter.reply(r.error().code).status, 400);
    // `paygate verify` gives accept's verdict.
    EXPECT_FALSE(adapter.inspect(InboundRequest{"POST", "/", h, signed_body(charset, value)})
                     .accepted());
  }
  // An empty field is outside the signed content, but its name is text too (found by the
  // fuzzer: accept refused it while inspect passed it).
  const std::string extra = signed_body("utf-8", "o-1") + "&%FF%FE=";
  EXPECT_FALSE(accept(extra));
  const auto verdict = adapter.inspect(InboundRequest{"POST", "/", h, extra});
  EXPECT_TRUE(verdict.signature_valid);
  EXPECT_FALSE(verdict.accepted());
  EXPECT_TRUE(adapter.inspect(InboundRequest{"POST", "/", h, signed_body("GBK", "\xb6\xa9")})
                  .accepted());
}

TEST(Money, YuanToFenIsExact) {
  EXPECT_EQ(*core::yuan_to_fen("9159.98"), 915998);
  EXPECT_EQ(*core::yuan_to_fen("0.01"), 1);
  EXPECT_EQ(*core::yuan_to_fen("0.1"), 10);
  EXPECT_EQ(*core::yuan_to_fen("12"), 1200);
  EXPECT_EQ(*core::yuan_to_fen("999999999999.99"), 99999999999999);
  for (const char* bad : {"", ".5", "1.", "1.234", "-1.00", "+1", "1e3", " 1.00", "1,00",
                          "1.0a", "1000000000000.00", "0x10"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(core::yuan_to_fen(bad));
  }
}

}  // namespace
}  // namespace paygate::providers::alipay

#include <gtest/gtest.h>

#include "crypto/encoding.hpp"
#include "pipeline/event_json.hpp"
#include "providers/wechatpay_v3/adapter.hpp"
#include "providers/wechatpay_v3/certificates.hpp"
#include "support/vectors.hpp"

namespace paygate::providers::wechatpay_v3 {
namespace {

using nlohmann::json;

// Key source: the certificate PEM where the vector gives one, else the SPKI PEM.
Settings settings_for(const json& inputs, bool use_certificates) {
  Settings s;
  s.mchid = "1661652504";
  s.appids = {"wxcc2b3988f89fb07a"};
  s.apiv3_key = core::Secret(inputs.at("apiv3_key").get<std::string>());
  for (const auto& k : inputs.at("trusted_keys")) {
    std::string pem = k.at("public_key_pem");
    if (use_certificates && k.contains("certificate_pem")) pem = k.at("certificate_pem");
    auto key = crypto::PublicKey::from_pem(pem);
    EXPECT_TRUE(key) << "vector key does not load";
    s.keys.push_back({k.at("serial").get<std::string>(), *key});
  }
  return s;
}

core::Headers headers_of(const json& inputs) {
  core::Headers h;
  for (auto& [name, value] : inputs.at("headers").items()) h.add(name, value.get<std::string>());
  return h;
}

std::string body_of(const json& inputs) {
  return *crypto::base64_decode(inputs.at("body_utf8_base64").get<std::string>());
}

int64_t now_of(const json& inputs) {
  const auto& n = inputs.at("now_unix");
  return n.is_string() ? std::stoll(n.get<std::string>()) : n.get<int64_t>();
}

class NotifyVectors : public ::testing::TestWithParam<bool> {};

TEST_P(NotifyVectors, EveryNotificationVectorThroughTheAdapter) {
  const json doc = test::load_vectors("wechatpay_v3_notify");
  int seen = 0;
  for (const auto& v : doc.at("vectors")) {
    if (v.at("kind") != "notification") continue;
    ++seen;
    SCOPED_TRACE(v.at("id").get<std::string>());
    const auto& in = v.at("inputs");
    const auto& exp = v.at("expected");
    Adapter adapter(settings_for(in, GetParam()));
    const auto headers = headers_of(in);
    const auto body = body_of(in);
    ASSERT_EQ(body, in.at("body").get<std::string>());
    ASSERT_EQ(signed_message(*headers.get("Wechatpay-Timestamp"), *headers.get("Wechatpay-Nonce"),
                             body),
              *crypto::base64_decode(exp.at("signed_message_utf8_base64").get<std::string>()));
    InboundRequest req{"POST", "/notify", headers, body};
    const int64_t now = now_of(in);

    const auto inspection = adapter.inspect(req, now);
    EXPECT_EQ(inspection.serial_known, exp.at("serial_known").get<bool>());
    EXPECT_EQ(inspection.timestamp_within_skew, exp.at("timestamp_within_skew").get<bool>());
    EXPECT_EQ(inspection.signature_valid, exp.at("signature_valid").get<bool>());
    EXPECT_EQ(inspection.decrypt_ok, exp.at("decrypt_ok").get<bool>());
    EXPECT_EQ(inspection.accepted(), exp.at("accept").get<bool>());
    if (exp.at("decrypt_ok").get<bool>()) {
      EXPECT_EQ(json::parse(inspection.plaintext), exp.at("plaintext_json"));
    }

    auto result = adapter.accept(req, now);
    ASSERT_EQ(result.has_value(), exp.at("accept").get<bool>());
    if (result) {
      const auto& pj = exp.at("plaintext_json");
      const auto& ev = result->event;
      EXPECT_EQ(ev.notification_id, json::parse(body).at("id").get<std::string>());
      EXPECT_EQ(ev.mchid, pj.at("mchid").get<std::string>());
      EXPECT_EQ(ev.out_trade_no, pj.at("out_trade_no").get<std::string>());
      EXPECT_EQ(ev.transaction_id, pj.at("transaction_id").get<std::string>());
      EXPECT_EQ(ev.total, pj.at("amount").at("total").get<int64_t>());
      if (pj.contains("refund_status")) {
        EXPECT_EQ(ev.out_refund_no, pj.at("out_refund_no").get<std::string>());
        EXPECT_EQ(ev.refund_amount, pj.at("amount").at("refund").get<int64_t>());
      } else {
        EXPECT_EQ(ev.kind, core::EventKind::kPaymentSucceeded);
        EXPECT_EQ(ev.appid, pj.at("appid").get<std::string>());
        EXPECT_EQ(ev.currency, pj.at("amount").at("currency").get<std::string>());
        // Payer data never reaches what is stored: the event JSON written to the inbox.
        EXPECT_EQ(pipeline::event_to_json(ev).find("openid"), std::string::npos);
      }
      const auto ok = adapter.reply(Outcome::kApplied);
      EXPECT_TRUE(ok.status == 200 || ok.status == 204);
    } else {
      const auto r = adapter.reply(result.error().code);
      EXPECT_GE(r.status, 400);
      EXPECT_EQ(json::parse(r.body).at("code"), "FAIL");
    }
  }
  EXPECT_EQ(seen, 17);
}

INSTANTIATE_TEST_SUITE_P(KeySources, NotifyVectors, ::testing::Values(false, true));

TEST(NotifyVectors, CertificateDownloadDecrypts) {
  const json doc = test::load_vectors("wechatpay_v3_notify");
  int seen = 0;
  for (const auto& v : doc.at("vectors")) {
    if (v.at("kind") != "certificate_download_response") continue;
    ++seen;
    const auto& in = v.at("inputs");
    const auto& exp = v.at("expected");
    const auto headers = headers_of(in);
    const std::string body = in.at("body");
    auto key = crypto::PublicKey::from_pem(
        in.at("trusted_keys")[0].at("public_key_pem").get<std::string>());
    ASSERT_TRUE(key);
    auto sig = crypto::base64_decode(*headers.get("Wechatpay-Signature"));
    ASSERT_TRUE(sig);
    EXPECT_EQ(key->verify_sha256(signed_message(*headers.get("Wechatpay-Timestamp"),
                                                *headers.get("Wechatpay-Nonce"), body),
                                 *sig),
              exp.at("signature_valid").get<bool>());
    auto certs = decode_certificate_download(body, in.at("apiv3_key").get<std::string>());
    ASSERT_TRUE(certs) << certs.error().detail;
    ASSERT_EQ(certs->size(), 1u);
    EXPECT_EQ((*certs)[0].certificate_pem, exp.at("decrypted_certificate_pem").get<std::string>());
    EXPECT_EQ((*certs)[0].serial_no, exp.at("certificate_serial_hex_upper").get<std::string>());
    auto wrong = decode_certificate_download(body, std::string(32, 'x'));
    EXPECT_FALSE(wrong);
  }
  EXPECT_EQ(seen, 1);
}

// Local defects beyond the vectors, named by defect.
struct Fixture {
  json vec;
  core::Headers headers;
  std::string body;
  int64_t now;
  Adapter adapter;
  explicit Fixture(const json& v)
      : vec(v),
        headers(headers_of(v.at("inputs"))),
        body(body_of(v.at("inputs"))),
        now(now_of(v.at("inputs"))),
        adapter(settings_for(v.at("inputs"), false)) {}
};

json first_positive() {
  return test::load_vectors("wechatpay_v3_notify").at("vectors").at(0);
}

core::ErrorCode error_of(const Adapter& a, const core::Headers& h, const std::string& body,
                         int64_t now) {
  InboundRequest req{"POST", "/", h, body};
  auto r = a.accept(req, now);
  EXPECT_FALSE(r);
  return r ? core::ErrorCode::kInternal : r.error().code;
}

TEST(WechatPayV3Defects, MissingHeaders) {
  Fixture f(first_positive());
  for (const char* drop : {"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature",
                           "Wechatpay-Serial"}) {
    core::Headers h;
    for (const auto& [n, v] : f.headers.fields()) {
      if (n != drop) h.add(n, v);
    }
    EXPECT_EQ(error_of(f.adapter, h, f.body, f.now), core::ErrorCode::kMissingHeader) << drop;
  }
}

// A valid copy first and a second copy after (forged, or the same value in other case): a
// proxy in front may read the other one, so the request is ambiguous and refused.
TEST(WechatPayV3Defects, RepeatedSignedHeadersAreRefused) {
  Fixture f(first_positive());
  for (const char* repeat : {"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature",
                             "Wechatpay-Serial"}) {
    for (bool same_value : {false, true}) {
      core::Headers h;
      std::string second;
      for (const auto& [n, v] : f.headers.fields()) {
        h.add(n, v);
        if (n == repeat) second = same_value ? v : "1" + v;
      }
      std::string lower = repeat;
      for (auto& c : lower) c = char(std::tolower(c));
      h.add(lower, second);
      EXPECT_EQ(error_of(f.adapter, h, f.body, f.now), core::ErrorCode::kMalformed)
          << repeat << (same_value ? " (same value)" : " (other value)");
      EXPECT_EQ(f.adapter.reply(core::ErrorCode::kMalformed).status, 400);
    }
  }
}

TEST(WechatPayV3Defects, ShedWorkIsA503SoWechatRetries) {
  Fixture f(first_positive());
  EXPECT_EQ(f.adapter.reply(core::ErrorCode::kOverloaded).status, 503);
}

TEST(WechatPayV3Defects, HeaderNamesAreCaseInsensitive) {
  Fixture f(first_positive());
  core::Headers h;
  for (const auto& [n, v] : f.headers.fields()) {
    std::string lower = n;
    for (auto& c : lower) c = char(std::tolower(c));
    h.add(lower, v);
  }
  InboundRequest req{"POST", "/", h, f.body};
  EXPECT_TRUE(f.adapter.accept(req, f.now));
}

TEST(WechatPayV3Defects, LowerCaseSerialMatches) {
  Fixture f(first_positive());
  core::Headers h;
  for (const auto& [n, v] : f.headers.fields()) {
    std::string value = v;
    if (n == "Wechatpay-Serial") for (auto& c : value) c = char(std::tolower(c));
    h.add(n, value);
  }
  InboundRequest req{"POST", "/", h, f.body};
  EXPECT_TRUE(f.adapter.accept(req, f.now));
}

TEST(WechatPayV3Defects, GarbledSignatureAndTimestamp) {
  Fixture f(first_positive());
  auto with = [&](const std::string& name, const std::string& value) {
    core::Headers h;
    for (const auto& [n, v] : f.headers.fields()) h.add(n, n == name ? value : v);
    return h;
  };
  EXPECT_EQ(error_of(f.adapter, with("Wechatpay-Signature", "%%%not-base64"), f.body, f.now),
            core::ErrorCode::kBadSignature);
  EXPECT_EQ(error_of(f.adapter, with("Wechatpay-Signature", "QUJD"), f.body, f.now),
            core::ErrorCode::kBadSignature);
  EXPECT_EQ(error_of(f.adapter, with("Wechatpay-Timestamp", "12x"), f.body, f.now),
            core::ErrorCode::kMalformed);
  EXPECT_EQ(error_of(f.adapter, with("Wechatpay-Timestamp", "-5"), f.body, f.now),
            core::ErrorCode::kMalformed);
}

TEST(WechatPayV3Defects, TruncatedAndTrailingBytesBreakTheSignature) {
  Fixture f(first_positive());
  EXPECT_EQ(error_of(f.adapter, f.headers, f.body.substr(0, f.body.size() - 1), f.now),
            core::ErrorCode::kBadSignature);
  EXPECT_EQ(error_of(f.adapter, f.headers, f.body + "\n", f.now),
            core::ErrorCode::kBadSignature);
  EXPECT_EQ(error_of(f.adapter, f.headers, "", f.now), core::ErrorCode::kBadSignature);
}

TEST(WechatPayV3Defects, BoundaryOfReplayWindow) {
  Fixture f(first_positive());
  const int64_t ts = std::stoll(std::string(*f.headers.get("Wechatpay-Timestamp")));
  InboundRequest req{"POST", "/", f.headers, f.body};
  EXPECT_TRUE(f.adapter.accept(req, ts + 299));
  EXPECT_TRUE(f.adapter.accept(req, ts - 299));
  EXPECT_FALSE(f.adapter.accept(req, ts + 300));
  EXPECT_FALSE(f.adapter.accept(req, ts - 300));
}

TEST(WechatPayV3Defects, ReplyBodiesCarryNoDetail) {
  Fixture f(first_positive());
  for (auto code : {core::ErrorCode::kBadSignature, core::ErrorCode::kMalformed,
                    core::ErrorCode::kStoreUnavailable, core::ErrorCode::kDecryptFailed}) {
    auto r = f.adapter.reply(code);
    auto body = json::parse(r.body);
    EXPECT_EQ(body.at("code"), "FAIL");
    EXPECT_EQ(body.size(), 2u);
  }
  EXPECT_EQ(f.adapter.reply(core::ErrorCode::kStoreUnavailable).status, 500);
  EXPECT_EQ(f.adapter.reply(core::ErrorCode::kBadSignature).status, 401);
  EXPECT_EQ(f.adapter.reply(core::ErrorCode::kMalformed).status, 400);
}

}  // namespace
}  // namespace paygate::providers::wechatpay_v3

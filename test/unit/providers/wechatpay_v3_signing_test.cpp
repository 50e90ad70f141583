#include <gtest/gtest.h>

#include <map>

#include "crypto/encoding.hpp"
#include "providers/wechatpay_v3/signing.hpp"
#include "support/vectors.hpp"

namespace paygate::providers::wechatpay_v3 {
namespace {

using nlohmann::json;

std::string text_of(const json& obj, const std::string& field) {
  if (obj.contains(field + "_utf8_base64")) {
    return *crypto::base64_decode(obj.at(field + "_utf8_base64").get<std::string>());
  }
  return obj.at(field).get<std::string>();
}

crypto::PrivateKey private_key(const json& pem) {
  auto k = crypto::PrivateKey::from_pem(pem.get<std::string>());
  EXPECT_TRUE(k) << "vector key does not load";
  return *k;
}

crypto::PublicKey public_key(const json& pem) {
  auto k = crypto::PublicKey::from_pem(pem.get<std::string>());
  EXPECT_TRUE(k) << "vector key does not load";
  return *k;
}

std::map<std::string, std::string> params_of(const AuthorizationParams& p) {
  return {{"mchid", p.mchid}, {"nonce_str", p.nonce_str}, {"signature", p.signature},
          {"timestamp", p.timestamp}, {"serial_no", p.serial_no}};
}

void request_vector(const json& v, bool negative) {
  const auto& in = v.at("inputs");
  const auto& exp = v.at("expected");
  const std::string body = text_of(in, "body");
  const std::string method = in.at("method");
  const std::string path = in.at("url_path_and_query");
  const std::string ts = in.at("timestamp");
  const std::string nonce = in.at("nonce_str");
  EXPECT_EQ(request_message(method, path, ts, nonce, body), text_of(exp, "signed_message"));

  MerchantSigner signer{in.at("mchid"), in.at("merchant_serial_no"),
                        private_key(in.at("merchant_private_key_pem"))};
  auto header = authorization(signer, method, path, ts, nonce, body);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->rfind(exp.at("authorization_scheme").get<std::string>() + " ", 0), 0u);
  auto ours = parse_authorization(*header);
  ASSERT_TRUE(ours) << ours.error().detail;
  std::map<std::string, std::string> want;
  for (auto& [k, val] : exp.at("authorization_params").items()) want[k] = val.get<std::string>();
  EXPECT_EQ(params_of(*ours), want);  // PKCS#1 v1.5 is deterministic: the same signature
  EXPECT_EQ(ours->signature, exp.at("signature").get<std::string>());

  // The vector's own header (another parameter order) reads the same.
  auto theirs = parse_authorization(
      exp.at("request_headers_example").at("Authorization").get<std::string>());
  ASSERT_TRUE(theirs) << theirs.error().detail;
  EXPECT_EQ(params_of(*theirs), want);

  const auto pub = public_key(in.at("merchant_public_key_pem"));
  const auto sig = crypto::base64_decode(ours->signature);
  ASSERT_TRUE(sig);
  EXPECT_TRUE(pub.verify_sha256(request_message(method, path, ts, nonce, body), *sig));
  if (negative) {
    // Signed over one body, another sent: WeChat Pay's check fails, as the vector says.
    const std::string sent = in.at("body_actually_sent");
    EXPECT_EQ(pub.verify_sha256(request_message(method, path, ts, nonce, sent), *sig),
              exp.at("signature_valid_for_body_actually_sent").get<bool>());
  }
}

void response_vector(const json& v) {
  const auto& in = v.at("inputs");
  const auto& exp = v.at("expected");
  std::vector<VerificationKey> keys;
  for (const auto& k : in.at("trusted_keys")) {
    keys.push_back({k.at("serial").get<std::string>(), public_key(k.at("public_key_pem"))});
  }
  core::Headers h;
  for (auto& [name, value] : in.at("headers").items()) h.add(name, value.get<std::string>());
  const std::string body = text_of(in, "body");
  EXPECT_EQ(signed_message(*h.get("Wechatpay-Timestamp"), *h.get("Wechatpay-Nonce"), body),
            text_of(exp, "signed_message"));
  auto r = verify_signed_headers(keys, h, body, in.at("now_unix").get<int64_t>());
  EXPECT_EQ(static_cast<bool>(r), exp.at("accept").get<bool>()) << (r ? "" : r.error().detail);
  if (!exp.at("signature_valid").get<bool>()) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, core::ErrorCode::kBadSignature);
  }
}

void jsapi_vector(const json& v) {
  const auto& in = v.at("inputs");
  const auto& want = v.at("expected").at("client_params");
  auto p = jsapi_pay_params(private_key(in.at("merchant_private_key_pem")), in.at("appid").get<std::string>(),
                            in.at("prepay_id").get<std::string>(), in.at("timestamp").get<std::string>(),
                            in.at("nonce_str").get<std::string>());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->app_id, want.at("appId"));
  EXPECT_EQ(p->time_stamp, want.at("timeStamp"));
  EXPECT_EQ(p->nonce_str, want.at("nonceStr"));
  EXPECT_EQ(p->package, want.at("package"));
  EXPECT_EQ(p->sign_type, want.at("signType"));
  EXPECT_EQ(p->pay_sign, want.at("paySign"));
}

void app_vector(const json& v) {
  const auto& in = v.at("inputs");
  const auto& want = v.at("expected").at("client_params");
  auto p = app_pay_params(private_key(in.at("merchant_private_key_pem")), in.at("appid").get<std::string>(),
                          in.at("mchid").get<std::string>(), in.at("prepay_id").get<std::string>(),
                          in.at("timestamp").get<std::string>(), in.at("nonce_str").get<std::string>());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->appid, want.at("appid"));
  EXPECT_EQ(p->partnerid, want.at("partnerid"));
  EXPECT_EQ(p->prepayid, want.at("prepayid"));
  EXPECT_EQ(p->package, want.at("package"));
  EXPECT_EQ(p->noncestr, want.at("noncestr"));
  EXPECT_EQ(p->timestamp, want.at("timestamp"));
  EXPECT_EQ(p->sign, want.at("sign"));
}

void oaep_vector(const json& v) {
  const auto& in = v.at("inputs");
  const std::string want = v.at("expected").at("plaintext");
  const auto priv = private_key(in.at("decrypt_private_key_pem"));
  const auto ct = crypto::base64_decode(in.at("ciphertext_base64").get<std::string>());
  ASSERT_TRUE(ct);
  auto plain = priv.decrypt_oaep_sha1(*ct);
  ASSERT_TRUE(plain) << plain.error().detail;
  EXPECT_EQ(*plain, want);
  // Our encryption: randomised, so it differs from the vector's, and decrypts to the same text.
  auto ours = public_key(in.at("encrypt_public_key_pem")).encrypt_oaep_sha1(want);
  ASSERT_TRUE(ours);
  EXPECT_NE(*ours, *ct);
  EXPECT_EQ(*priv.decrypt_oaep_sha1(*ours), want);
  std::string flipped = *ct;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(priv.decrypt_oaep_sha1(flipped));
}

TEST(WechatPayV3RequestSigning, EveryVectorOfTheTopic) {
  const json doc = test::load_vectors("wechatpay_v3_request_sign");
  ASSERT_EQ(doc.at("vectors").size(), doc.at("count").get<std::size_t>());
  std::map<std::string, int> ran;
  for (const auto& v : doc.at("vectors")) {
    SCOPED_TRACE(v.at("id").get<std::string>());
    const std::string kind = v.at("kind");
    if (kind == "request_signature" || kind == "request_signature_negative") {
      request_vector(v, kind == "request_signature_negative");
    } else if (kind == "response_signature") {
      response_vector(v);
    } else if (kind == "jsapi_pay_sign") {
      jsapi_vector(v);
    } else if (kind == "app_pay_sign") {
      app_vector(v);
    } else if (kind == "sensitive_field_oaep") {
      oaep_vector(v);
    } else {
      ADD_FAILURE() << "a kind of vector this test does not know: " << kind;
      continue;
    }
    ++ran[kind];
  }
  int total = 0;
  for (const auto& [k, n] : ran) total += n;
  EXPECT_EQ(total, doc.at("count").get<int>());
  EXPECT_EQ(ran["request_signature"], 12);
  EXPECT_EQ(ran["response_signature"], 4);
}

TEST(WechatPayV3RequestSigning, MalformedAuthorizationHeadersAreRefused) {
  const std::string ok =
      R"(WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="A")";
  ASSERT_TRUE(parse_authorization(ok));
  for (const std::string bad : {
           std::string(""), std::string("WECHATPAY2-SHA256-RSA2048"),
           std::string("WECHATPAY2-SHA256-RSA2048 "),
           std::string(R"(Bearer mchid="1",nonce_str="n",signature="s",timestamp="1",serial_no="A")"),
           std::string(R"(WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="1")"),
           ok + R"(,mchid="2")", ok + ",", ok + R"(,extra="x")",
           std::string(R"(WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",signature="s",timestamp="1",serial_no="A")"),
           std::string(R"(WECHATPAY2-SHA256-RSA2048 mchid="1" ,nonce_str="n",signature="s",timestamp="1",serial_no="A")"),
           std::string(R"(WECHATPAY2-SHA256-RSA2048 mchid="1,nonce_str="n",signature="s",timestamp="1",serial_no="A)"),
       }) {
    EXPECT_FALSE(parse_authorization(bad)) << bad;
  }
}

TEST(WechatPayV3RequestSigning, AnAnswerWithRepeatedOrMissingSignatureHeadersIsRefused) {
  const json doc = test::load_vectors("wechatpay_v3_request_sign");
  for (const auto& v : doc.at("vectors")) {
    if (v.at("id") != "response_200_json") continue;
    const auto& in = v.at("inputs");
    std::vector<VerificationKey> keys;
    for (const auto& k : in.at("trusted_keys")) {
      keys.push_back({k.at("serial").get<std::string>(), public_key(k.at("public_key_pem"))});
    }
    const std::string body = text_of(in, "body");
    const int64_t now = in.at("now_unix");
    for (const char* name : kSignedHeaders) {
      core::Headers twice, without;
      for (auto& [n, value] : in.at("headers").items()) {
        twice.add(n, value.get<std::string>());
        if (n != name) without.add(n, value.get<std::string>());
      }
      twice.add(name, "x");
      EXPECT_EQ(verify_signed_headers(keys, twice, body, now).error().code,
                core::ErrorCode::kMalformed)
          << name;
      EXPECT_EQ(verify_signed_headers(keys, without, body, now).error().code,
                core::ErrorCode::kMissingHeader)
          << name;
    }
    core::Headers h;
    for (auto& [n, value] : in.at("headers").items()) h.add(n, value.get<std::string>());
    EXPECT_TRUE(verify_signed_headers(keys, h, body, now));
    EXPECT_EQ(verify_signed_headers(keys, h, body, now + 400).error().code,
              core::ErrorCode::kStaleTimestamp);
    EXPECT_EQ(verify_signed_headers(keys, h, body + " ", now).error().code,
              core::ErrorCode::kBadSignature);
    EXPECT_EQ(verify_signed_headers({}, h, body, now).error().code, core::ErrorCode::kUnknownKey);
  }
}

}  // namespace
}  // namespace paygate::providers::wechatpay_v3

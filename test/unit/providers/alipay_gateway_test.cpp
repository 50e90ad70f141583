#include <gtest/gtest.h>

#include <map>

#include "crypto/encoding.hpp"
#include "providers/alipay/gateway.hpp"
#include "support/vectors.hpp"

namespace paygate::providers::alipay {
namespace {

using nlohmann::json;

std::string text_of(const json& obj, const std::string& field, const std::string& twin) {
  if (obj.contains(twin)) return *crypto::base64_decode(obj.at(twin).get<std::string>());
  return obj.at(field).get<std::string>();
}

void request_vector(const json& v) {
  const auto& in = v.at("inputs");
  const auto& exp = v.at("expected");
  FormParams params;
  for (auto& [k, val] : in.at("params_before_sign").items()) params.emplace_back(k, val.get<std::string>());
  EXPECT_EQ(request_sign_content(params), text_of(exp, "sign_content", "sign_content_utf8_base64"));
  auto key = crypto::PrivateKey::from_pem(in.at("app_private_key_pem").get<std::string>());
  ASSERT_TRUE(key);
  auto signed_params = sign_request(*key, params);
  ASSERT_TRUE(signed_params) << signed_params.error().detail;
  std::map<std::string, std::string> ours, want;
  for (const auto& [k, val] : *signed_params) ours[k] = val;
  for (auto& [k, val] : exp.at("signed_params").items()) want[k] = val.get<std::string>();
  EXPECT_EQ(ours, want);  // sign included: PKCS#1 v1.5 is deterministic
  EXPECT_EQ(ours["sign"], exp.at("sign").get<std::string>());
  auto pub = crypto::PublicKey::from_pem(in.at("app_public_key_pem").get<std::string>());
  ASSERT_TRUE(pub);
  EXPECT_TRUE(pub->verify_sha256(request_sign_content(*signed_params),
                                 *crypto::base64_decode(ours["sign"])));
}

void response_vector(const json& v) {
  const auto& in = v.at("inputs");
  const auto& exp = v.at("expected");
  const std::string raw = text_of(in, "raw_response_text", "raw_response_utf8_base64");
  auto r = split_response(raw, in.at("method").get<std::string>());
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->key, exp.at("response_key").get<std::string>());
  EXPECT_EQ(r->signed_content, text_of(exp, "signed_content", "signed_content_utf8_base64"));
  auto key = crypto::PublicKey::from_pem(in.at("alipay_public_key_pem").get<std::string>());
  ASSERT_TRUE(key);
  const bool valid = exp.at("signature_valid").get<bool>();
  auto verified = verify_response(*key, *r);
  EXPECT_EQ(static_cast<bool>(verified), valid);
  if (in.contains("alipay_public_cert_pem")) {
    auto from_cert = crypto::PublicKey::from_pem(in.at("alipay_public_cert_pem").get<std::string>());
    ASSERT_TRUE(from_cert);
    EXPECT_EQ(static_cast<bool>(verify_response(*from_cert, *r)), valid);
    EXPECT_FALSE(r->cert_sn.empty());
  }
  auto fields = response_fields(r->signed_content);
  ASSERT_TRUE(fields) << fields.error().detail;
  std::map<std::string, std::string> got, want;
  for (const auto& [k, val] : *fields) got[k] = val;
  for (auto& [k, val] : exp.at("parsed_response").items()) want[k] = val.get<std::string>();
  EXPECT_EQ(got, want);
}

TEST(AlipayGateway, EveryVectorOfTheTopic) {
  const json doc = test::load_vectors("alipay_request_sign");
  ASSERT_EQ(doc.at("vectors").size(), doc.at("count").get<std::size_t>());
  std::map<std::string, int> ran;
  for (const auto& v : doc.at("vectors")) {
    SCOPED_TRACE(v.at("id").get<std::string>());
    const std::string kind = v.at("kind");
    if (kind == "request_sign") {
      request_vector(v);
    } else if (kind == "response_verify") {
      response_vector(v);
    } else {
      ADD_FAILURE() << "a kind of vector this test does not know: " << kind;
      continue;
    }
    ++ran[kind];
  }
  EXPECT_EQ(ran["request_sign"] + ran["response_verify"], doc.at("count").get<int>());
  EXPECT_EQ(ran["request_sign"], 10);
  EXPECT_EQ(ran["response_verify"], 6);
}

TEST(AlipayGateway, TheSignedNodeIsFoundByStructureNotByText) {
  // A string that looks like the key, braces and escaped quotes inside strings, another member
  // first, "\/" kept as received.
  const std::string node =
      R"({"code":"10000","msg":"x \"}\" {","qr_code":"https:\/\/q","n":[1,{"a":[]}],"z":-1.5e3})";
  const std::string raw = R"({"note":"\"alipay_trade_query_response\":{}","alipay_trade_query_response":)" +
                          node + R"(,"sign":"YWJj\/ZA==","alipay_cert_sn":"abc"})";
  auto r = split_response(raw, "alipay.trade.query");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->signed_content, node);
  EXPECT_EQ(r->sign, "YWJj/ZA==");
  EXPECT_EQ(r->cert_sn, "abc");
  auto fields = response_fields(r->signed_content);
  ASSERT_TRUE(fields);
  EXPECT_EQ((*fields)[1].second, "x \"}\" {");
  EXPECT_EQ((*fields)[2].second, "https://q");
  EXPECT_EQ((*fields)[3].second, R"([1,{"a":[]}])");

  auto err = split_response(R"({"error_response":{"code":"40002","msg":"Invalid Arguments"},"sign":"x"})",
                            "alipay.trade.query");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->key, "error_response");
}

TEST(AlipayGateway, MalformedOrAmbiguousAnswersAreRefused) {
  const std::string node = R"({"code":"10000"})";
  for (const std::string& bad : std::vector<std::string>{
           std::string(""), std::string("[]"), std::string("null"),
           R"({"alipay_trade_query_response":)" + node,                        // truncated
           R"({"alipay_trade_query_response":)" + node + "}x",                 // trailing bytes
           R"({"alipay_trade_query_response":)" + node + R"(,"alipay_trade_query_response":)" + node + "}",
           R"({"alipay_trade_query_response":"{}"})",                           // not an object
           R"({"alipay_trade_pay_response":)" + node + "}",                     // another method
           R"({"alipay_trade_query_response":{"code":"10000"},"error_response":{}})",
           R"({"alipay_trade_query_response":{"code":"1)" ,                     // open string
           R"({"alipay_trade_query_response":{"code":tru}})",
           R"({"alipay_trade_query_response":{"a":[1,2}})",
           R"({"alipay_trade_query_response":{"a" 1}})",
           R"({"alipay_trade_query_response":{"a":"\x"}})",
           R"({"alipay_trade_query_response":{"a":"\ud800"}})",
           R"({"alipay_trade_query_response":{},"sign":5})",
           std::string(R"({"alipay_trade_query_response":)") + std::string(200, '[') + std::string(200, ']') + "}",
       }) {
    EXPECT_FALSE(split_response(bad, "alipay.trade.query")) << bad;
  }
  auto unsigned_answer = split_response(R"({"alipay_trade_query_response":{"code":"10000"}})",
                                        "alipay.trade.query");
  ASSERT_TRUE(unsigned_answer);
  auto key = crypto::PrivateKey::generate_rsa();
  auto pub = crypto::PublicKey::from_pem(key->public_pem());
  EXPECT_EQ(verify_response(*pub, *unsigned_answer).error().code, core::ErrorCode::kBadSignature);
  EXPECT_FALSE(response_fields(R"({"a":"1","a":"2"})"));
}

TEST(AlipayGateway, RequestsThatCannotBeSignedSafelyAreRefused) {
  auto key = crypto::PrivateKey::generate_rsa();
  ASSERT_TRUE(key);
  const FormParams base = {{"app_id", "1"}, {"method", "alipay.trade.query"}, {"sign_type", "RSA2"}};
  EXPECT_TRUE(sign_request(*key, base));
  auto twice = base;
  twice.emplace_back("app_id", "2");
  EXPECT_FALSE(sign_request(*key, twice));
  auto presigned = base;
  presigned.emplace_back("sign", "x");
  EXPECT_FALSE(sign_request(*key, presigned));
  FormParams rsa1 = {{"app_id", "1"}, {"sign_type", "RSA"}};
  EXPECT_FALSE(sign_request(*key, rsa1));
}

}  // namespace
}  // namespace paygate::providers::alipay

#include <gtest/gtest.h>

#include <map>

#include "crypto/block_cipher.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "providers/wechatpay_v2/adapter.hpp"
#include "providers/xml.hpp"
#include "support/vectors.hpp"

namespace paygate::providers::wechatpay_v2 {
namespace {

using nlohmann::json;

FormParams params_of(const json& obj) {
  FormParams p;
  for (auto& [k, v] : obj.items()) p.emplace_back(k, v.get<std::string>());
  return p;
}

SignType type_of(const json& inputs) {
  return inputs.value("sign_type", "MD5") == "HMAC-SHA256" ? SignType::kHmacSha256
                                                          : SignType::kMd5;
}

Adapter adapter_for(const json& doc, const std::string& api_key,
                    SignType sign_type = SignType::kMd5) {
  Settings s;
  s.mchid = doc["shared"]["mch_id"];
  s.appids = {doc["shared"]["appid"].get<std::string>()};
  s.api_key = core::Secret(api_key);
  s.sign_type = sign_type;
  return Adapter(std::move(s));
}

TEST(WechatpayV2Vectors, EveryVector) {
  const json doc = test::load_vectors("wechatpay_v2_sign");
  std::map<std::string, int> seen;
  for (const auto& v : doc["vectors"]) {
    const std::string kind = v["kind"];
    ++seen[kind];
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& in = v["inputs"];
    const auto& exp = v["expected"];
    if (kind == "param_sign") {
      const auto p = params_of(in["params"]);
      EXPECT_EQ(string_a(p), exp["string_a"].get<std::string>());
      EXPECT_EQ(sign(p, in["api_key"].get<std::string>(), type_of(in)), exp["sign"].get<std::string>());
    } else if (kind == "jsapi_pay_sign_v2") {
      const auto p = params_of(in["params"]);
      EXPECT_EQ(string_a(p), exp["string_a"].get<std::string>());
      const auto t = in["params"]["signType"] == "HMAC-SHA256" ? SignType::kHmacSha256 : SignType::kMd5;
      EXPECT_EQ(sign(p, in["api_key"].get<std::string>(), t),
                exp["client_params"]["paySign"].get<std::string>());
    } else if (kind == "notify_verify") {
      const std::string body = in["http_body_xml"];
      auto parsed = parse_flat_xml(body, "xml");
      ASSERT_TRUE(parsed) << parsed.error().detail;
      std::map<std::string, std::string> got(parsed->begin(), parsed->end()), want;
      for (auto& [k, val] : exp["parsed_params"].items()) want[k] = val.get<std::string>();
      EXPECT_EQ(got, want);
      EXPECT_EQ(string_a(*parsed), exp["string_a"].get<std::string>());
      const auto t = want.count("sign_type") && want["sign_type"] == "HMAC-SHA256"
                         ? SignType::kHmacSha256
                         : SignType::kMd5;
      EXPECT_EQ(sign(*parsed, in["api_key"].get<std::string>(), t),
                exp["recomputed_sign"].get<std::string>());
      auto adapter = adapter_for(doc, in["api_key"], t);
      core::Headers h;
      auto r = adapter.accept(InboundRequest{"POST", "/", h, body}, 0);
      EXPECT_EQ(static_cast<bool>(r), exp["sign_valid"].get<bool>());
      // The same notification where the merchant configured the other sign type: refused,
      // valid signature or not (no MD5 fallback where HMAC-SHA256 is configured, and back).
      auto other = adapter_for(doc, in["api_key"],
                               t == SignType::kMd5 ? SignType::kHmacSha256 : SignType::kMd5);
      auto refused = other.accept(InboundRequest{"POST", "/", h, body}, 0);
      ASSERT_FALSE(refused);
      EXPECT_EQ(refused.error().code, core::ErrorCode::kBadSignature);
      const auto reply = r ? adapter.reply(Outcome::kApplied) : adapter.reply(r.error().code);
      EXPECT_EQ(reply.body, exp["reply_xml"].get<std::string>());
      if (r) {
        EXPECT_EQ(r->event.kind, core::EventKind::kPaymentSucceeded);
        EXPECT_EQ(r->event.total, std::stoll(want["total_fee"]));
        EXPECT_EQ(r->event.out_trade_no, want["out_trade_no"]);
        EXPECT_EQ(r->event.transaction_id, want["transaction_id"]);
      }
    } else if (kind == "refund_notify_decrypt") {
      EXPECT_EQ(crypto::hex_lower(crypto::md5(in["api_key"].get<std::string>())),
                exp["aes_key_ascii"].get<std::string>());
      const std::string body = in["http_body_xml"];
      auto adapter = adapter_for(doc, in["api_key"]);
      core::Headers h;
      auto r = adapter.accept(InboundRequest{"POST", "/", h, body}, 0);
      EXPECT_EQ(static_cast<bool>(r), exp["accept"].get<bool>());
      if (r) {
        // Ids outside req_info are not authenticated: one that disagrees is refused, one that
        // agrees changes nothing.
        const std::string at = "<req_info>";
        ASSERT_NE(body.find(at), std::string::npos);
        auto with = [&](const std::string& field, const std::string& value) {
          std::string b = body;
          b.insert(b.find(at), "<" + field + ">" + value + "</" + field + ">");
          return adapter.accept(InboundRequest{"POST", "/", h, b}, 0);
        };
        auto forged = with("out_trade_no", r->event.out_trade_no + "X");
        ASSERT_FALSE(forged);
        EXPECT_EQ(forged.error().code, core::ErrorCode::kBadSignature);
        EXPECT_FALSE(with("out_refund_no", "other-refund"));
        EXPECT_TRUE(with("out_trade_no", r->event.out_trade_no));
      }
      const auto reply = r ? adapter.reply(Outcome::kApplied) : adapter.reply(r.error().code);
      EXPECT_EQ(reply.body, exp["reply_xml"].get<std::string>());
      if (exp["decrypt_ok"].get<bool>()) {
        ASSERT_TRUE(r) << r.error().detail;
        const auto& f = exp["req_info_fields"];
        EXPECT_EQ(r->event.out_refund_no, f["out_refund_no"].get<std::string>());
        EXPECT_EQ(r->event.refund_amount, std::stoll(f["refund_fee"].get<std::string>()));
        EXPECT_EQ(r->event.total, std::stoll(f["total_fee"].get<std::string>()));
        const std::string status = f["refund_status"];
        EXPECT_EQ(r->event.kind, status == "SUCCESS" ? core::EventKind::kRefundSucceeded
                                                     : core::EventKind::kRefundAbnormal);
      }
    } else if (kind == "reply") {
      Adapter adapter = adapter_for(doc, "L82BD6lbmm8LzT3teCA6pOTGy34CLKe3");
      EXPECT_EQ(adapter.reply(Outcome::kDuplicate).body, exp["success"].get<std::string>());
      EXPECT_EQ(adapter.reply(core::ErrorCode::kBadSignature).body, exp["failure"].get<std::string>());
    } else {
      ADD_FAILURE() << "unknown vector kind " << kind;
    }
  }
  EXPECT_EQ(seen["param_sign"], 6);
  EXPECT_EQ(seen["jsapi_pay_sign_v2"], 2);
  EXPECT_EQ(seen["notify_verify"], 4);
  EXPECT_EQ(seen["refund_notify_decrypt"], 4);
  EXPECT_EQ(seen["reply"], 1);
}

TEST(WechatpayV2Xml, HostileDocumentsAreRefused) {
  const char* bad[] = {
      "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><a>&x;</a></xml>",
      "<!DOCTYPE xml [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><xml><a>&b;</a></xml>",
      "<xml><a><b>nested</b></a></xml>",
      "<xml><a>1</a><a>2</a></xml>",
      "<xml><a>1</a></xml><xml/>",
      "<other><a>1</a></other>",
      "<xml><a>1</a>",
      "<xml><!-- comment --><a>1</a></xml>",
      "not xml at all",
      "",
      "<xml>text<a>1</a></xml>",
  };
  for (const char* doc : bad) {
    SCOPED_TRACE(doc);
    EXPECT_FALSE(parse_flat_xml(doc, "xml"));
  }
  EXPECT_FALSE(parse_flat_xml("<xml>" + std::string(70000, ' ') + "</xml>", "xml"));
  auto ok = parse_flat_xml("<?xml version=\"1.0\"?>\n<xml>\n <a><![CDATA[x&y<z]]></a>\n <b>1 &amp; 2</b><c></c></xml>", "xml");
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(*form_value(*ok, "a"), "x&y<z");
  EXPECT_EQ(*form_value(*ok, "b"), "1 & 2");
  EXPECT_EQ(*form_value(*ok, "c"), "");
}

TEST(WechatpayV2Refunds, PaddingAndKeyAreStrict) {
  const std::string key(32, 'k');
  auto ct = crypto::aes256ecb_encrypt(key, "<root><a>1</a></root>");
  ASSERT_TRUE(ct);
  EXPECT_EQ(*crypto::aes256ecb_decrypt(key, *ct), "<root><a>1</a></root>");
  std::string broken = *ct;
  broken.back() ^= 0x01;  // the last block decrypts to garbage padding
  EXPECT_FALSE(crypto::aes256ecb_decrypt(key, broken));
  EXPECT_FALSE(crypto::aes256ecb_decrypt(key, ct->substr(0, ct->size() - 1)));
  EXPECT_FALSE(crypto::aes256ecb_decrypt(std::string(31, 'k'), *ct));
  EXPECT_FALSE(crypto::aes256ecb_decrypt(key, ""));
}

}  // namespace
}  // namespace paygate::providers::wechatpay_v2

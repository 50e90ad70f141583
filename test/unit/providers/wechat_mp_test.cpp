#include <gtest/gtest.h>

#include <map>

#include "crypto/encoding.hpp"
#include "providers/wechat_mp/crypto.hpp"
#include "providers/wechat_mp/endpoint.hpp"
#include "support/vectors.hpp"

namespace paygate::providers::wechat_mp {
namespace {

using nlohmann::json;

FormParams query_of(const json& q) {
  FormParams p;
  for (auto& [k, v] : q.items()) p.emplace_back(k, v.get<std::string>());
  return p;
}

std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

Endpoint endpoint_for(const json& in) {
  Settings s;
  s.appid = in.value("appid", "wxf185527f93299c87");
  s.token = core::Secret(in["token"].get<std::string>());
  if (in.contains("encoding_aes_key")) {
    auto key = aes_key(in["encoding_aes_key"].get<std::string>());
    EXPECT_TRUE(key);
    s.aes_key = core::Secret(*key);
    s.mode = Mode::kCompatible;  // the vectors hold both kinds
  }
  return Endpoint(std::move(s));
}

int64_t now_of(const json& in) { return std::stoll(in["query"]["timestamp"].get<std::string>()); }

TEST(WechatMpVectors, EveryVector) {
  const json doc = test::load_vectors("wechat_mp_crypto");
  std::map<std::string, int> seen;
  for (const auto& v : doc["vectors"]) {
    const std::string kind = v["kind"];
    ++seen[kind];
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& in = v["inputs"];
    const auto& exp = v["expected"];
    if (kind == "url_verification") {
      std::vector<std::string_view> parts;
      for (const auto& p : exp["signature_input_sorted"]) parts.push_back(p.get_ref<const std::string&>());
      EXPECT_EQ(signature(parts), exp["signature_computed"].get<std::string>());
      auto r = endpoint_for(in).verify_url(query_of(in["query"]));
      EXPECT_EQ(static_cast<bool>(r), exp["signature_valid"].get<bool>());
      if (r) {
        EXPECT_EQ(*r, exp["response_body"].get<std::string>());
      }
    } else if (kind == "plaintext_message") {
      auto r = endpoint_for(in).accept(query_of(in["query"]), in["body"].get<std::string>(),
                                       now_of(in));
      ASSERT_EQ(static_cast<bool>(r), exp["signature_valid"].get<bool>());
      std::map<std::string, std::string> got(r->fields.begin(), r->fields.end()), want;
      for (auto& [k, val] : exp["parsed_fields"].items()) want[k] = val.get<std::string>();
      EXPECT_EQ(got, want);
      EXPECT_EQ(r->dedupe_key, exp["dedupe_key"].get<std::string>());
    } else if (kind == "safe_mode_inbound") {
      EXPECT_EQ(crypto::hex_lower(*aes_key(in["encoding_aes_key"].get<std::string>())),
                exp["aes_key_hex"].get<std::string>());
      std::vector<std::string_view> parts;
      for (const auto& p : exp["msg_signature_input_sorted"]) parts.push_back(p.get_ref<const std::string&>());
      EXPECT_EQ(signature(parts), exp["msg_signature_computed"].get<std::string>());
      auto r = endpoint_for(in).accept(query_of(in["query"]), in["body"].get<std::string>(),
                                       now_of(in));
      EXPECT_EQ(static_cast<bool>(r), exp["accept"].get<bool>()) << (r ? "" : r.error().detail);
      if (exp["accept"].get<bool>() && r) {
        EXPECT_EQ(r->xml, exp["decrypted"]["message_xml"].get<std::string>());
      }
      // Decryption on its own, also where the signature was tampered with.
      const std::string encrypt =
          in["body"].get<std::string>().substr(in["body"].get<std::string>().find("<Encrypt><![CDATA[") + 18);
      const std::string enc = encrypt.substr(0, encrypt.find("]]>"));
      auto plain = decrypt_message(*aes_key(in["encoding_aes_key"].get<std::string>()), enc,
                                   in["appid"].get<std::string>());
      EXPECT_EQ(static_cast<bool>(plain), exp["decrypt_ok"].get<bool>() &&
                                              exp["appid_matches"].get<bool>());
    } else if (kind == "safe_mode_reply") {
      const auto key = *aes_key(in["encoding_aes_key"].get<std::string>());
      auto enc = encrypt_message(key, hex_to_bytes(in["random_hex"].get<std::string>()),
                                 in["reply_plaintext_xml"].get<std::string>(),
                                 in["appid"].get<std::string>());
      ASSERT_TRUE(enc);
      EXPECT_EQ(*enc, exp["encrypt"].get<std::string>());
      EXPECT_EQ(signature({in["token"].get<std::string>(), in["timestamp"].get<std::string>(),
                           in["nonce"].get<std::string>(), *enc}),
                exp["msg_signature"].get<std::string>());
      EXPECT_EQ(*decrypt_message(key, *enc, in["appid"].get<std::string>()),
                in["reply_plaintext_xml"].get<std::string>());
    } else {
      ADD_FAILURE() << "unknown kind " << kind;
    }
  }
  EXPECT_EQ(seen["url_verification"], 2);
  EXPECT_EQ(seen["plaintext_message"], 2);
  EXPECT_EQ(seen["safe_mode_inbound"], 6);
  EXPECT_EQ(seen["safe_mode_reply"], 1);
}

TEST(WechatMp, ReplayWindowAndBadInput) {
  const json doc = test::load_vectors("wechat_mp_crypto");
  for (const auto& v : doc["vectors"]) {
    if (v["id"] != "plaintext_text_message") continue;
    const auto& in = v["inputs"];
    auto ep = endpoint_for(in);
    const auto q = query_of(in["query"]);
    const std::string body = in["body"];
    EXPECT_TRUE(ep.accept(q, body, now_of(in) + 299));
    EXPECT_EQ(ep.accept(q, body, now_of(in) + 301).error().code, core::ErrorCode::kStaleTimestamp);
    EXPECT_FALSE(ep.accept(q, "<xml><MsgType>text</MsgType></xml>", now_of(in)));
    EXPECT_FALSE(ep.accept(q, "<!DOCTYPE x><xml/>", now_of(in)));
    FormParams no_sig = q;
    no_sig.erase(no_sig.begin());
    EXPECT_FALSE(ep.accept(no_sig, body, now_of(in)));
    // Safe mode asked for but not configured.
    FormParams aes = q;
    aes.emplace_back("encrypt_type", "aes");
    EXPECT_FALSE(ep.accept(aes, body, now_of(in)));
  }
  EXPECT_FALSE(aes_key("short"));
  EXPECT_FALSE(aes_key(std::string(43, '*')));
}

// Safe mode refuses a plaintext message (a forger cannot downgrade by dropping the
// encryption); plain mode refuses an encrypted one; compatible takes both.
TEST(WechatMp, ModeDecidesWhichMessagesAreAccepted) {
  const json doc = test::load_vectors("wechat_mp_crypto");
  std::string any_key;  // for the plaintext vectors, which come without one
  for (const auto& v : doc["vectors"]) {
    if (v["inputs"].contains("encoding_aes_key")) any_key = v["inputs"]["encoding_aes_key"];
  }
  ASSERT_TRUE(aes_key(any_key));
  int plain_checked = 0, safe_checked = 0;
  for (const auto& v : doc["vectors"]) {
    const auto& in = v["inputs"];
    const std::string kind = v["kind"];
    if ((kind != "plaintext_message" && kind != "safe_mode_inbound") ||
        v["id"].get<std::string>().rfind("neg_", 0) == 0) {
      continue;  // positive inbound messages only
    }
    const auto q = query_of(in["query"]);
    const bool encrypted = form_get(q, "encrypt_type") == "aes";
    Settings s;
    s.appid = in.value("appid", "wxf185527f93299c87");
    s.token = core::Secret(in["token"].get<std::string>());
    auto key = aes_key(in.value("encoding_aes_key", any_key));
    ASSERT_TRUE(key);
    s.aes_key = core::Secret(*key);
    for (Mode mode : {Mode::kSafe, Mode::kCompatible, Mode::kPlain}) {
      s.mode = mode;
      Endpoint ep(s);
      auto r = ep.accept(q, in["body"].get<std::string>(), now_of(in));
      const bool want = mode == Mode::kCompatible || (mode == Mode::kSafe) == encrypted;
      EXPECT_EQ(static_cast<bool>(r), want) << v["id"] << " mode " << static_cast<int>(mode);
    }
    (encrypted ? safe_checked : plain_checked)++;
  }
  EXPECT_GT(plain_checked, 0);
  EXPECT_GT(safe_checked, 0);
}

// A signed (timestamp, nonce) once stored is remembered for the window: its repeat is known.
TEST(WechatMp, ReplayCacheRemembersStoredRequestsForTheWindow) {
  const json doc = test::load_vectors("wechat_mp_crypto");
  for (const auto& v : doc["vectors"]) {
    if (v["id"] != "plaintext_text_message") continue;
    const auto& in = v["inputs"];
    auto ep = endpoint_for(in);
    const auto now = now_of(in);
    auto m = ep.accept(query_of(in["query"]), in["body"].get<std::string>(), now);
    ASSERT_TRUE(m);
    EXPECT_EQ(ep.seen(*m, now), Endpoint::Seen::kNew);
    ep.remember(*m, now);
    EXPECT_EQ(ep.seen(*m, now + 10), Endpoint::Seen::kRepeat);
    // The signed query with another body: the signature does not cover it in plaintext mode.
    auto forged = *m;
    forged.dedupe_key = "MsgId:999";
    EXPECT_EQ(ep.seen(forged, now + 10), Endpoint::Seen::kOtherMessage);
    EXPECT_EQ(ep.seen(*m, now + 600), Endpoint::Seen::kRepeat);  // the whole window
    EXPECT_EQ(ep.seen(*m, now + 601), Endpoint::Seen::kNew);      // stale by then anyway
  }
}

}  // namespace
}  // namespace paygate::providers::wechat_mp

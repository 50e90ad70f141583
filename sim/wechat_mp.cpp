#include "sim/wechat_mp.hpp"

#include <ctime>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "providers/form.hpp"
#include "providers/wechat_mp/crypto.hpp"

namespace paygate::sim {

namespace mp = providers::wechat_mp;

core::Result<SimNotification> build_mp_message(const Sandbox& sb, const MessageSpec& m,
                                               bool safe_mode) {
  const std::string created = std::to_string(std::time(nullptr));
  SimNotification n;
  n.out_trade_no = m.from_user;
  std::string xml = "<xml><ToUserName><![CDATA[gh_" + crypto::hex_lower(crypto::random_bytes(6)) +
                    "]]></ToUserName><FromUserName><![CDATA[" + m.from_user +
                    "]]></FromUserName><CreateTime>" + created + "</CreateTime>";
  if (m.event) {
    n.event_type = "event:subscribe";
    n.id = m.from_user + "+" + created;
    xml += "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>";
  } else {
    std::string msg_id = "2";  // 19 digits, as WeChat's 64-bit MsgIds look
    for (unsigned char b : crypto::random_bytes(18)) msg_id += char('0' + b % 10);
    n.event_type = "text";
    n.id = "MsgId:" + msg_id;
    xml += "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[" + m.text +
           "]]></Content><MsgId>" + msg_id + "</MsgId></xml>";
  }
  if (!safe_mode) {
    n.body = std::move(xml);
    return n;
  }
  auto key = mp::aes_key(sb.mp_encoding_aes_key);
  if (!key) return tl::unexpected(key.error());
  auto enc = mp::encrypt_message(*key, crypto::random_bytes(16), xml, sb.appid);
  if (!enc) return tl::unexpected(enc.error());
  n.body = "<xml><ToUserName><![CDATA[gh_sandbox]]></ToUserName><Encrypt><![CDATA[" + *enc +
           "]]></Encrypt></xml>";
  return n;
}

Outgoing WechatMpSender::attempt(const SimNotification& n, int64_t now,
                                 std::optional<Fault> fault) const {
  const std::string ts = std::to_string(fault == Fault::kStale ? now - 600 : now);
  // As WeChat's: a random number of up to ten digits, fresh for every request.
  const auto r = crypto::random_bytes(4);
  const uint32_t random = (uint32_t(uint8_t(r[0])) << 24) | (uint32_t(uint8_t(r[1])) << 16) |
                     (uint32_t(uint8_t(r[2])) << 8) | uint8_t(r[3]);
  const std::string nonce = std::to_string(random);
  providers::FormParams q = {{"signature", mp::signature({sb_.mp_token, ts, nonce})},
                             {"timestamp", ts},
                             {"nonce", nonce},
                             {"openid", n.out_trade_no}};
  Outgoing out{"", {{"Content-Type", "text/xml"}}, n.body};
  if (safe_mode_) {
    const auto start = n.body.find("<Encrypt><![CDATA[") + 18;
    const std::string encrypt = n.body.substr(start, n.body.find("]]>", start) - start);
    q.emplace_back("encrypt_type", "aes");
    q.emplace_back("msg_signature", mp::signature({sb_.mp_token, ts, nonce, encrypt}));
  }
  if (fault == Fault::kTampered) out.body[out.body.size() / 2] ^= 0x01;
  out.url = url_ + "?" + providers::encode_form(q);
  return out;
}

const std::vector<std::chrono::seconds>& WechatMpSender::schedule() const {
  static const std::vector<std::chrono::seconds> s = {std::chrono::seconds(5),
                                                      std::chrono::seconds(5)};
  return s;
}

bool WechatMpSender::supports(Fault f) const {
  if (f == Fault::kWrongSerial || f == Fault::kProbe) return false;
  if (f == Fault::kTampered) return safe_mode_;
  return true;
}

}  // namespace paygate::sim

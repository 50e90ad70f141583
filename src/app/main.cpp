#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "app/serve.hpp"
#include "app/sim_cli.hpp"
#include "sim/receiver.hpp"
#include "sim/wechatpay_v3_api.hpp"
#include "app/sign.hpp"
#include "app/verify.hpp"

int main(int argc, char** argv) {
  CLI::App app{"paygate: verified, exactly-once payment notifications"};
  app.require_subcommand(1);

  std::string config, port_file;
  bool verify_only = false;
  auto* serve = app.add_subcommand("serve", "run the gateway");
  serve->add_option("--config", config, "TOML config file")->required();
  serve->add_flag("--verify-only", verify_only, "verify callbacks but store nothing (benchmark)");
  serve->add_option("--port-file", port_file, "write the bound port here once listening");
  bool allow_readable_secrets = false;
  serve->add_flag("--allow-readable-secrets", allow_readable_secrets,
                  "start even if key or token files are readable by group or others");

  paygate::app::VerifyArgs va;
  auto* verify = app.add_subcommand("verify", "explain a captured callback offline");
  verify->require_subcommand(1);
  auto* v3 = verify->add_subcommand("wechatpay-v3", "a WeChat Pay APIv3 notification");
  v3->add_option("--headers", va.headers_file, "file of 'Name: value' lines")->required();
  v3->add_option("--body", va.body_file, "file holding the exact raw body")->required();
  v3->add_option("--key", va.keys, "SERIAL=PEMFILE (certificate or public key)")->required();
  v3->add_option("--apiv3-key-file", va.apiv3_key_file,
                 "file holding the APIv3 key (callbacks; not with --response)");
  v3->add_option("--now", va.now, "receiver clock, unix seconds (default: now)");
  v3->add_flag("--response", va.response,
               "the body is WeChat Pay's answer to a request paygate made (signature only)");

  paygate::app::SignV3Args sv3;
  paygate::app::SignFormArgs sform;
  auto* sign = app.add_subcommand("sign", "show what a provider request's signature covers");
  sign->require_subcommand(1);
  auto* s3 = sign->add_subcommand("wechatpay-v3", "the Authorization of a WeChat Pay APIv3 request");
  s3->add_option("--method", sv3.method, "HTTP method")->capture_default_str();
  s3->add_option("--url", sv3.url, "path and query as sent (or the full URL)")->required();
  s3->add_option("--body", sv3.body_file, "file holding the exact body (none for GET)");
  s3->add_option("--mchid", sv3.mchid, "merchant id")->required();
  s3->add_option("--serial-no", sv3.serial_no, "merchant API certificate serial")->required();
  s3->add_option("--key-file", sv3.key_file, "merchant API private key (PEM)")->required();
  s3->add_option("--timestamp", sv3.timestamp, "unix seconds (default: now)");
  s3->add_option("--nonce", sv3.nonce, "nonce (default: random)");
  s3->add_option("--pay-sign", sv3.pay_sign, "also the front-end parameters: jsapi or app")
      ->check(CLI::IsMember({"jsapi", "app"}));
  s3->add_option("--appid", sv3.appid, "appid (with --pay-sign)");
  s3->add_option("--prepay-id", sv3.prepay_id, "prepay_id (with --pay-sign)");
  auto* sali = sign->add_subcommand("alipay", "the sign of an Alipay gateway request");
  sali->add_option("--param", sform.params, "name=value, raw (repeatable)");
  sali->add_option("--form", sform.form_file, "file holding an urlencoded form");
  sali->add_option("--key-file", sform.key_file, "app private key (PEM)")->required();
  auto* s2 = sign->add_subcommand("wechatpay-v2", "the sign of a WeChat Pay APIv2 request");
  s2->add_option("--param", sform.params, "name=value, raw (repeatable)");
  s2->add_option("--xml", sform.form_file, "file holding the XML request");
  s2->add_option("--api-key-file", sform.key_file, "file holding the APIv2 key")->required();
  s2->add_option("--sign-type", sform.sign_type, "MD5 or HMAC-SHA256")->capture_default_str();

  paygate::app::VerifyAlipayArgs vaa;
  auto* ali = verify->add_subcommand("alipay", "an Alipay async notification (form body)");
  ali->add_option("--body", vaa.body_file, "file holding the exact form body")->required();
  ali->add_option("--key", vaa.key_file, "Alipay public key or Alipay public-key certificate PEM")
      ->required();
  ali->add_option("--response", vaa.response_method,
                  "the body is the gateway's JSON answer to this method (e.g. alipay.trade.query)");

  paygate::app::VerifyV2Args v2a;
  auto* v2 = verify->add_subcommand("wechatpay-v2", "a WeChat Pay APIv2 notification (XML body)");
  v2->add_option("--body", v2a.body_file, "file holding the exact XML body")->required();
  v2->add_option("--api-key-file", v2a.api_key_file, "file holding the APIv2 key")->required();

  paygate::app::VerifyMpArgs mpa;
  auto* mp = verify->add_subcommand("wechat-mp", "a WeChat Official Account message");
  mp->add_option("--query", mpa.query, "the request's query string")->required();
  mp->add_option("--body", mpa.body_file, "file holding the exact XML body")->required();
  mp->add_option("--token-file", mpa.token_file, "file holding the Token")->required();
  mp->add_option("--encoding-aes-key-file", mpa.encoding_aes_key_file,
                 "file holding the EncodingAESKey (safe mode)");
  mp->add_option("--appid", mpa.appid, "the account's appid (safe mode)");
  mp->add_option("--now", mpa.now, "receiver clock, unix seconds (default: now)");

  auto* sim = app.add_subcommand("sim", "the WeChat Pay side, for development and tests");
  sim->require_subcommand(1);
  std::string dir = "data", merchant = "sandbox", listen = "127.0.0.1:8080";
  std::string provider_listen = "127.0.0.1:8090";
  bool force = false;
  auto* init = sim->add_subcommand("init", "create a sandbox merchant and its paygate config");
  init->add_option("--dir", dir, "data folder")->capture_default_str();
  init->add_option("--merchant", merchant, "merchant id")->capture_default_str();
  init->add_option("--listen", listen, "address paygate will listen on")->capture_default_str();
  init->add_option("--provider-listen", provider_listen,
                   "address the simulated WeChat Pay API (sim provider) will listen on")
      ->capture_default_str();
  init->add_flag("--force", force, "overwrite an existing sandbox");

  paygate::app::SimPayArgs pa;
  auto common = [&pa](CLI::App* c) {
    c->add_option("--dir", pa.dir, "sandbox folder")->capture_default_str();
    c->add_option("--url", pa.url, "notify URL (default: the sandbox's)");
    c->add_option("--out-trade-no", pa.out_trade_no, "order number (a prefix with --count)")->required();
    c->add_option("--amount", pa.amount, "order total in fen")->required();
    c->add_flag("--public-key-mode", pa.public_key_mode, "sign with the WeChat Pay public key");
    c->add_option("--concurrency", pa.concurrency, "parallel senders")->capture_default_str();
    c->add_option("--time-scale", pa.time_scale, "multiplies retry delays")->capture_default_str();
    c->add_option("--fault", pa.faults,
                  "duplicate, concurrent-duplicate, out-of-order, tampered, wrong-serial, stale, "
                  "probe, drop");
    c->add_option("--report", pa.report_file, "write the JSON report here");
  };
  auto* pay = sim->add_subcommand("pay", "send TRANSACTION.SUCCESS callbacks");
  common(pay);
  pay->add_option("--count", pa.count, "orders to pay")->capture_default_str();
  pay->add_flag("--register", pa.register_orders, "register the orders through the API first");
  pay->add_flag("--at-provider", pa.at_provider,
                "the buyer pays a trade created through POST /v1/payments at the simulated "
                "WeChat Pay (sim provider), which then sends the callback");
  pay->add_option("--provider", pa.provider, "wechatpay-v3, wechatpay-v2 or alipay")
      ->check(CLI::IsMember({"wechatpay-v3", "wechatpay-v2", "alipay"}))
      ->capture_default_str();
  auto* message = sim->add_subcommand("message", "send WeChat Official Account messages");
  message->add_option("--dir", pa.dir, "sandbox folder")->capture_default_str();
  message->add_option("--url", pa.url, "server URL (default: the sandbox's)");
  message->add_option("--count", pa.count, "messages to send")->capture_default_str();
  message->add_flag("--event", pa.event, "subscribe events instead of text messages");
  message->add_flag("--safe-mode", pa.safe_mode, "encrypt (encrypt_type=aes)");
  message->add_option("--concurrency", pa.concurrency, "parallel senders")->capture_default_str();
  message->add_option("--time-scale", pa.time_scale, "multiplies retry delays")->capture_default_str();
  message->add_option("--fault", pa.faults,
                      "duplicate, concurrent-duplicate, out-of-order, stale, drop, "
                      "tampered (safe mode)");
  message->add_option("--report", pa.report_file, "write the JSON report here");
  auto* refund = sim->add_subcommand("refund", "send a REFUND.* callback");
  common(refund);
  refund->add_option("--out-refund-no", pa.out_refund_no, "refund number")->required();
  refund->add_option("--refund", pa.refund, "refund amount in fen")->required();
  refund->add_option("--status", pa.refund_status, "SUCCESS, ABNORMAL or CLOSED")->capture_default_str();
  refund->add_option("--provider", pa.provider,
                     "wechatpay-v3, wechatpay-v2 or alipay (for alipay --refund is the trade's "
                     "refunded total so far, as Alipay reports it)")
      ->check(CLI::IsMember({"wechatpay-v3", "wechatpay-v2", "alipay"}))
      ->capture_default_str();
  auto* close = sim->add_subcommand("close", "send an Alipay TRADE_CLOSED for an unpaid order");
  close->add_option("--dir", pa.dir, "sandbox folder")->capture_default_str();
  close->add_option("--url", pa.url, "notify URL (default: the sandbox's)");
  close->add_option("--out-trade-no", pa.out_trade_no, "order number")->required();
  close->add_option("--amount", pa.amount, "order total in fen")->required();
  close->add_option("--time-scale", pa.time_scale, "multiplies retry delays")->capture_default_str();
  close->add_option("--report", pa.report_file, "write the JSON report here");

  paygate::sim::ProviderOptions po;
  auto* provider = sim->add_subcommand(
      "provider", "the WeChat Pay APIv3 merchant API (create, query, close) on loopback");
  provider->add_option("--dir", po.dir, "sandbox folder")->capture_default_str();
  provider->add_option("--listen", po.listen, "HOST:PORT (default: the sandbox's; port 0 picks one)");
  provider->add_option("--port-file", po.port_file, "write the bound port here");
  provider->add_option("--time-scale", po.time_scale, "multiplies callback retry delays")
      ->capture_default_str();
  provider->add_option("--seconds-to-close", po.seconds_to_close,
                       "refuse to close a trade younger than this (WeChat Pay advises 300)")
      ->capture_default_str();

  paygate::sim::ReceiverOptions ro;
  std::vector<std::string> secret_files;
  auto* receiver = sim->add_subcommand(
      "receiver", "a merchant webhook endpoint that verifies signatures and logs each request");
  receiver->add_option("--listen", ro.listen, "HOST:PORT (port 0 picks one)")->capture_default_str();
  receiver->add_option("--port-file", ro.port_file, "write the bound port here");
  receiver->add_option("--secret", ro.secrets, "whsec_... secret (repeatable)");
  receiver->add_option("--secret-file", secret_files, "file holding a whsec_ secret (repeatable)");
  receiver->add_option("--out", ro.out, "append one JSON line per request here (default: stdout)");
  receiver->add_option("--fail", ro.fail_first, "fail the first N verified requests")
      ->check(CLI::NonNegativeNumber);
  receiver->add_option("--fail-status", ro.fail_status, "status for those failures")
      ->check(CLI::Range(300, 599))->capture_default_str();
  receiver->add_option("--answer", ro.answer_status, "answer every verified request with this "
                       "status (e.g. 410, 429)")->check(CLI::Range(200, 599));
  receiver->add_option("--retry-after", ro.retry_after, "Retry-After seconds on failures")
      ->check(CLI::NonNegativeNumber);
  receiver->add_option("--delay-ms", ro.delay_ms, "wait before answering")
      ->check(CLI::Range(0, 600000));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (*serve) return paygate::app::serve(config, verify_only, port_file, allow_readable_secrets);
    if (*v3) return paygate::app::verify_wechatpay_v3(va);
    if (*s3) return paygate::app::sign_wechatpay_v3(sv3);
    if (*sali) return paygate::app::sign_alipay(sform);
    if (*s2) return paygate::app::sign_wechatpay_v2(sform);
    if (*ali) return paygate::app::verify_alipay(vaa);
    if (*v2) return paygate::app::verify_wechatpay_v2(v2a);
    if (*mp) return paygate::app::verify_wechat_mp(mpa);
    if (*init) return paygate::app::sim_init(dir, merchant, listen, provider_listen, force);
    if (*provider) return paygate::sim::run_provider(po);
    if (*pay) return paygate::app::sim_pay(pa);
    if (*refund) return paygate::app::sim_refund(pa);
    if (*close) return paygate::app::sim_close(pa);
    if (*message) return paygate::app::sim_message(pa);
    if (*receiver) {
      for (const auto& f : secret_files) {
        std::ifstream in(f);
        std::string s;
        if (!in || !(in >> s)) {
          std::cerr << "paygate: --secret-file: cannot read " << f << "\n";
          return 2;
        }
        ro.secrets.push_back(s);
      }
      return paygate::sim::run_receiver(ro);
    }
  } catch (const std::exception& e) {
    std::cerr << "paygate: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

#include "app/sim_cli.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>

#include <memory>

#include "crypto/random.hpp"
#include "sim/alipay_v2.hpp"
#include "sim/http_client.hpp"
#include "sim/sandbox.hpp"
#include "sim/wechat_mp.hpp"
#include "sim/wechatpay_v3.hpp"

namespace paygate::app {
namespace {

int fail(const std::string& msg) {
  std::cerr << "paygate sim: " << msg << "\n";
  return 2;
}

std::string order_id(const SimPayArgs& a, int i) {
  if (a.count <= 1) return a.out_trade_no;
  char buf[16];
  std::snprintf(buf, sizeof buf, "-%06d", i + 1);
  return a.out_trade_no + buf;
}

int run(const sim::Sandbox& sb, const SimPayArgs& a, std::vector<sim::SimNotification> notes) {
  sim::DriveOptions o;
  const std::string path = a.provider == "alipay"         ? "/notify/alipay/"
                           : a.provider == "wechatpay-v2" ? "/notify/wechatpay/v2/"
                           : a.provider == "wechat-mp"    ? "/wechat/mp/"
                                                          : "/notify/wechatpay/v3/";
  const std::string url = !a.url.empty() ? a.url : sb.api_url + path + sb.merchant;
  o.concurrency = a.concurrency;
  o.time_scale = a.time_scale;
  for (const auto& f : a.faults) {
    auto parsed = sim::parse_fault(f);
    if (!parsed) return fail(parsed.error().detail);
    o.faults.insert(*parsed);
  }
  std::unique_ptr<sim::Sender> sender;
  if (a.provider == "alipay") {
    sender = std::make_unique<sim::AlipaySender>(url);
  } else if (a.provider == "wechatpay-v2") {
    sender = std::make_unique<sim::WechatpayV2Sender>(url);
  } else if (a.provider == "wechat-mp") {
    sender = std::make_unique<sim::WechatMpSender>(sb, url, a.safe_mode);
  } else {
    sender = std::make_unique<sim::WechatpayV3Sender>(sb, url);
  }
  for (auto f : o.faults) {
    if (!sender->supports(f)) return fail("this fault does not exist in " + a.provider);
  }
  auto report = sim::drive(*sender, std::move(notes), o);
  const std::string json = report.to_json();
  if (!a.report_file.empty()) {
    std::ofstream(a.report_file) << json << "\n";
  }
  std::cerr << "sent " << report.deliveries.size() << " notification(s) in " << report.requests
            << " request(s) to " << url << ": " << report.acked << " acknowledged";
  if (report.extra_copies) {
    std::cerr << ", " << report.extra_copies << " extra copies (" << report.faulty_rejected
              << " faulty rejected, " << report.faulty_accepted << " faulty ACCEPTED)";
  }
  std::cerr << "\n";
  if (a.report_file.empty() && a.count <= 1) std::cout << json << "\n";
  const bool all = report.acked == static_cast<int64_t>(report.deliveries.size());
  return all && report.faulty_accepted == 0 ? 0 : 1;
}

}  // namespace

int sim_init(const std::string& dir, const std::string& merchant, const std::string& listen,
             const std::string& provider_listen, bool force) {
  auto sb = sim::init_sandbox({dir, merchant, listen, provider_listen, force});
  if (!sb) return fail(sb.error().detail);
  std::cout << "sandbox merchant '" << sb->merchant << "' written to " << sb->dir << "\n"
            << "  config:      " << sb->dir << "/paygate.toml\n"
            << "  simulator:   " << sb->dir << "/sim.json (WeChat Pay side: mchid " << sb->mchid
            << ", appid " << sb->appid << ")\n"
            << "  provider:    `paygate sim provider --dir " << sb->dir
            << "` serves the WeChat Pay API on " << sb->provider_listen << "\n";
  return 0;
}

namespace {

// The buyer pays a trade created through POST /v1/payments: the simulated WeChat Pay marks it
// paid and sends the callback itself.
int pay_at_provider(const sim::Sandbox& sb, const SimPayArgs& a) {
  if (sb.provider_listen.empty()) return fail("the sandbox has no simulated provider (re-run sim init)");
  sim::HttpClient client;
  int failed = 0;
  for (int i = 0; i < a.count; ++i) {
    auto r = client.request("POST", "http://" + sb.provider_listen + "/sim/trades/" + order_id(a, i) + "/pay",
                            {}, "", std::chrono::milliseconds(10000));
    if (r.status != 200) {
      std::cerr << "paying " << order_id(a, i) << " failed: HTTP " << r.status << " " << r.body
                << r.error << "\n";
      ++failed;
      continue;
    }
    std::cout << r.body << "\n";
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

int sim_pay(const SimPayArgs& a) {
  if (a.out_trade_no.empty() || a.amount <= 0) return fail("--out-trade-no and --amount are required");
  auto sb = sim::load_sandbox(a.dir);
  if (!sb) return fail(sb.error().detail);
  if (a.at_provider) return pay_at_provider(*sb, a);
  if (a.register_orders) {
    sim::HttpClient client;
    for (int i = 0; i < a.count; ++i) {
      const std::string body = "{\"merchant\":\"" + sb->merchant + "\",\"out_trade_no\":\"" +
                               order_id(a, i) + "\",\"amount\":" + std::to_string(a.amount) +
                               ",\"currency\":\"CNY\",\"description\":\"sandbox order\"}";
      auto r = client.request("POST", sb->api_url + "/v1/orders",
                              {{"Content-Type", "application/json"},
                               {"Authorization", "Bearer " + sb->api_token}},
                              body, std::chrono::milliseconds(10000));
      if (r.status != 200 && r.status != 201) {
        return fail("registering " + order_id(a, i) + " failed: HTTP " +
                    std::to_string(r.status) + " " + r.body + r.error);
      }
    }
  }
  std::vector<sim::SimNotification> notes;
  for (int i = 0; i < a.count; ++i) {
    const sim::PaymentSpec spec{order_id(a, i), a.amount, "CNY", "", ""};
    auto n = a.provider == "alipay"         ? sim::build_alipay_payment(*sb, spec)
             : a.provider == "wechatpay-v2" ? sim::build_wechatpay_v2_payment(*sb, spec)
                                            : sim::build_payment(*sb, spec,
                                                                 a.public_key_mode || (i % 2 == 1));
    if (!n) return fail(n.error().detail);
    notes.push_back(std::move(*n));
  }
  return run(*sb, a, std::move(notes));
}

int sim_refund(const SimPayArgs& a) {
  if (a.out_trade_no.empty() || a.out_refund_no.empty() || a.amount <= 0 || a.refund <= 0) {
    return fail("--out-trade-no, --out-refund-no, --amount (order total) and --refund are required");
  }
  auto sb = sim::load_sandbox(a.dir);
  if (!sb) return fail(sb.error().detail);
  const sim::RefundSpec spec{a.out_trade_no, a.out_refund_no, a.amount, a.refund,
                             a.refund_status};
  auto n = a.provider == "wechatpay-v2" ? sim::build_wechatpay_v2_refund(*sb, spec)
            : a.provider == "alipay"     ? sim::build_alipay_refund(*sb, spec)
                                         : sim::build_refund(*sb, spec, a.public_key_mode);
  if (!n) return fail(n.error().detail);
  return run(*sb, a, {*n});
}

int sim_close(const SimPayArgs& a) {
  if (a.out_trade_no.empty() || a.amount <= 0) {
    return fail("--out-trade-no and --amount (order total) are required");
  }
  auto sb = sim::load_sandbox(a.dir);
  if (!sb) return fail(sb.error().detail);
  sim::PaymentSpec spec;
  spec.out_trade_no = a.out_trade_no;
  spec.amount = a.amount;
  auto n = sim::build_alipay_close(*sb, spec);
  if (!n) return fail(n.error().detail);
  SimPayArgs args = a;
  args.provider = "alipay";
  return run(*sb, args, {*n});
}

int sim_message(const SimPayArgs& a) {
  auto sb = sim::load_sandbox(a.dir);
  if (!sb) return fail(sb.error().detail);
  if (sb->mp_token.empty()) return fail("the sandbox has no Official Account (re-run sim init)");
  std::vector<sim::SimNotification> notes;
  for (int i = 0; i < a.count; ++i) {
    // One user per message, so events (deduped by user and second) stay distinct.
    sim::MessageSpec m{"o" + crypto::random_alnum(27), a.event, "hello from the sandbox"};
    auto n = sim::build_mp_message(*sb, m, a.safe_mode);
    if (!n) return fail(n.error().detail);
    notes.push_back(std::move(*n));
  }
  SimPayArgs args = a;
  args.provider = "wechat-mp";
  return run(*sb, args, std::move(notes));
}

}  // namespace paygate::app

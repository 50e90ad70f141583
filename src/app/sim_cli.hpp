#pragma once
#include <string>
#include <vector>

namespace paygate::app {

struct SimPayArgs {
  std::string dir = "data";
  std::string url;               // default: the sandbox's notify URL
  std::string out_trade_no;
  long long amount = 0;
  int count = 1;                 // > 1: out_trade_no is a prefix, "-000001" ... appended
  bool register_orders = false;  // POST /v1/orders first
  bool at_provider = false;      // the buyer pays the trade held by `sim provider`
  bool public_key_mode = false;
  int concurrency = 8;
  double time_scale = 1.0;
  std::vector<std::string> faults;
  std::string report_file;
  std::string provider = "wechatpay-v3";  // pay: wechatpay-v3, wechatpay-v2 or alipay
  // message only
  bool event = false;      // subscribe events instead of text messages
  bool safe_mode = false;  // encrypted (encrypt_type=aes)
  // refund only
  std::string out_refund_no;
  long long refund = 0;
  std::string refund_status = "SUCCESS";
};

int sim_init(const std::string& dir, const std::string& merchant, const std::string& listen,
             const std::string& provider_listen, bool force);
int sim_pay(const SimPayArgs& args);
int sim_refund(const SimPayArgs& args);
// Alipay TRADE_CLOSED for an unpaid order.
int sim_close(const SimPayArgs& args);
// WeChat Official Account messages to /wechat/mp/<merchant>.
int sim_message(const SimPayArgs& args);

}  // namespace paygate::app

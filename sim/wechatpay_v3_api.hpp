#pragma once
#include <cstdint>
#include <string>

namespace paygate::sim {

struct ProviderOptions {
  std::string dir = "data";  // the sandbox
  std::string listen;        // default: the sandbox's provider_listen
  std::string port_file;     // the bound port is written here
  double time_scale = 1.0;   // multiplies the callback retry delays
  int seconds_to_close = 0;  // WeChat advises closing no sooner than 5 min; 0 lets tests close
};

// The WeChat Pay APIv3 merchant API as paygate calls it, on loopback: checks every request's
// Authorization as WeChat Pay does (mchid, merchant serial, five-minute window, signature over
// method, path, timestamp, nonce and body), answers with WeChat Pay's error bodies, signs every
// answer with the platform key, and holds trades with WeChat Pay's state rules:
//   POST /v3/pay/transactions/{jsapi,native,h5,app}
//   GET  /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=
//   POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close
//   POST /v3/refund/domestic/refunds        PROCESSING, then SUCCESS and its callback
//   GET  /v3/refund/domestic/refunds/{out_refund_no}
// Control (unsigned, for the sandbox and tests):
//   POST /sim/trades/{out_trade_no}/pay     the buyer pays: SUCCESS, then the callback is sent
//                                           with WeChat Pay's retry schedule
//   POST /sim/faults  {"operation":"create|query|close|refund|refund_query|any",
//                      "kind":"timeout|error|slow|bad-signature|drop-callback","count":N,"ms":M}
//                     (drop-callback: of the next payment, or with "refund" the next refund)
//   POST /sim/trades/{out_trade_no}/notify  the paid trade's callback once more (late)
//   GET  /sim/trades/{out_trade_no}         the trade as held
// Runs until SIGTERM/SIGINT.
int run_provider(const ProviderOptions& options);

}  // namespace paygate::sim

#pragma once
#include <string>
#include <vector>

namespace paygate::sim {

struct ReceiverOptions {
  std::string listen = "127.0.0.1:0";
  std::string port_file;              // the bound port is written here
  std::vector<std::string> secrets;   // whsec_... accepted for verification
  std::string out;                    // one JSON line per request; stdout when empty
  int fail_first = 0;                 // answer `fail_status` to the first N verified requests
  int fail_status = 500;
  int answer_status = 0;              // when set, answer every verified request with it
  int retry_after = -1;               // seconds, sent with failures when >= 0
  int delay_ms = 0;                   // wait before answering
  int tolerance_seconds = 300;
};

// A merchant endpoint for development and tests: verifies Standard Webhooks signatures, logs
// every request, and fails, stalls or answers 410/429 on request. Runs until SIGTERM/SIGINT.
int run_receiver(const ReceiverOptions& options);

}  // namespace paygate::sim

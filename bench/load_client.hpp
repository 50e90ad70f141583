#pragma once
// An HTTP/1.1 load generator: N keep-alive connections on one epoll thread. Closed loop: each
// connection sends its next pre-built request as soon as the previous response is complete.
// Open loop (a rate): request i is due at start + i / rate whether or not earlier ones were
// answered, and its latency counts from when it was due, so a stall is not hidden by the
// generator waiting for it (coordinated omission).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace paygate::bench {

struct LoadResult {
  int64_t completed = 0;
  int64_t transport_errors = 0;  // connection reset/closed mid-request
  std::map<int, int64_t> statuses;
  double seconds = 0;
  double cpu_seconds = 0;  // the load generator's own CPU time (user + kernel)
  double runnable_seconds = 0;  // of its time, ready to run but waiting for a core
  std::vector<uint32_t> latencies_us;  // sorted after run_load returns

  double per_second() const { return seconds > 0 ? completed / seconds : 0; }
  // q in [0, 1]; microseconds.
  uint32_t percentile(double q) const;
};

// Sends every request exactly once (raw bytes, complete with headers) to 127.0.0.1:port.
// rate_per_second > 0: open loop at that rate (requests wait for a free connection if all are
// busy, which counts in their latency).
LoadResult run_load(uint16_t port, const std::vector<std::string>& requests, int connections,
                    double rate_per_second = 0);

}  // namespace paygate::bench

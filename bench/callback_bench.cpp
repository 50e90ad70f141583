// `make bench`: WeChat Pay APIv3 callbacks against a running gateway, durable SQLite store vs
// verify-only (store off), same callbacks, same invocation. Prints throughput, latency
// percentiles, peak RSS and the durable/verify-only ratio; exits non-zero if any callback was
// not acknowledged or the store does not hold exactly what was acknowledged.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "crypto/rsa.hpp"
#include "load_client.hpp"
#include "providers/alipay/adapter.hpp"
#include "sim/http_client.hpp"
#include "sim/sandbox.hpp"
#include "sim/wechatpay_v3.hpp"
#include "support/db.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using paygate::bench::LoadResult;
using paygate::bench::run_load;
namespace pt = paygate::testing;
using pt::scalar;

std::string raw_request(const std::string& method, const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        const std::string& body) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [k, v] : headers) r += k + ": " + v + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return r;
}

// A TRADE_SUCCESS async notification, signed as Alipay signs it (RSA2 over the sorted form).
std::string alipay_notification(const paygate::sim::Sandbox& sb, const std::string& otn, int i) {
  paygate::providers::FormParams p = {
      {"notify_id", "bench" + std::to_string(i) + "-" + paygate::crypto::random_alnum(12)},
      {"notify_type", "trade_status_sync"}, {"notify_time", "2024-06-21 16:37:16"},
      {"app_id", sb.alipay_app_id}, {"seller_id", sb.alipay_seller_id},
      {"out_trade_no", otn}, {"trade_no", "2024" + std::to_string(1000000000 + i)},
      {"trade_status", "TRADE_SUCCESS"}, {"total_amount", "1.00"},
      {"gmt_payment", "2024-06-21 16:36:56"}, {"subject", "bench order"},
      {"charset", "utf-8"}, {"version", "1.0"}, {"sign_type", "RSA2"}};
  p.emplace_back("sign", paygate::crypto::base64_encode(
                             *sb.alipay_key->sign_sha256(
                                 paygate::providers::alipay::notify_sign_content(p))));
  return paygate::providers::encode_form(p);
}

struct Run {
  std::string name;
  LoadResult load;
  long peak_rss_kib = 0;
  double mean_batch = 0;       // callbacks per durable commit
  double mean_commit_ms = 0;   // one commit, fsync included
  double wal_kib = 0;          // WAL bytes appended per callback, KiB
  double server_cpu_us = 0;    // gateway CPU time per callback
  double server_sys_us = 0;    // of which in the kernel
  double checkpoints_complete = 0, checkpoints_partial = 0;  // during the load
  double checkpoints_by_writer = 0;  // of them, copies the writer made itself (a pause)
  // With merchant webhooks beside the callbacks:
  double delivered_during = 0;  // deliveries acknowledged while the callback load ran
  double drain_seconds = 0;     // from the start of the load until every event was delivered
  std::map<std::string, double> thread_us;  // gateway CPU per callback by thread name
  // Per thread name, the share of the load's wall time its threads spent ready to run but
  // waiting for a core: what two shared cores add to every hand-off.
  std::map<std::string, double> thread_runnable;
  // From the gateway's own log: each callback's time from request to reply.
  double server_max_ms = 0;
  int64_t server_over_25ms = 0;
};

// The longest acknowledgement the gateway logged (`latency_ms` of its callback lines), and how
// many took over 25 ms.
void read_server_latencies(const fs::path& log, Run& run) {
  std::ifstream in(log);
  const std::string key = "\"latency_ms\":";
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"msg\":\"callback\"") == std::string::npos) continue;
    const auto at = line.find(key);
    if (at == std::string::npos) continue;
    const double ms = std::strtod(line.c_str() + at + key.size(), nullptr);
    run.server_max_ms = std::max(run.server_max_ms, ms);
    if (ms > 25) ++run.server_over_25ms;
  }
}

// The store's counters from the gateway's /metrics, to difference around one load.
struct StoreFigures {
  double units = 0, commits = 0, commit_seconds = 0, wal_bytes = 0;
  double checkpoints_complete = 0, checkpoints_partial = 0;
  double checkpoints_by_writer = 0;
};

double metric(const std::string& body, const std::string& key) {
  const auto at = body.find("\n" + key + " ");
  return at == std::string::npos ? 0.0 : std::stod(body.substr(at + key.size() + 2));
}

std::string scrape(uint16_t port) {
  paygate::sim::HttpClient http;
  return http
      .request("GET", "http://127.0.0.1:" + std::to_string(port) + "/metrics", {}, "",
               std::chrono::seconds(5))
      .body;
}

double delivered(uint16_t port) {
  return metric(scrape(port), "paygate_webhook_attempts_total{endpoint=\"bench\",outcome=\"2xx\"}");
}

StoreFigures store_figures(uint16_t port) {
  const std::string body = scrape(port);
  auto value = [&](const std::string& key) { return metric(body, key); };
  auto checkpoints = [&](const std::string& result, const std::string& by) {
    return value("paygate_store_checkpoints_total{result=\"" + result + "\",by=\"" + by + "\"}");
  };
  return {value("paygate_store_commit_batch_size_sum"), value("paygate_store_commit_batch_size_count"),
          value("paygate_store_commit_seconds_sum"), value("paygate_store_wal_bytes_total"),
          checkpoints("complete", "checkpointer") + checkpoints("complete", "writer"),
          checkpoints("partial", "checkpointer") + checkpoints("partial", "writer"),
          checkpoints("complete", "writer") + checkpoints("partial", "writer") +
              checkpoints("busy", "writer")};
}

class Gateway {
 public:
  Gateway(std::string bin, fs::path dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}
  ~Gateway() { stop(SIGKILL); }
  bool start(bool verify_only, const std::string& config = "paygate.toml") {
    fs::remove(dir_ / "port");
    fs::remove(dir_ / "server.log");  // one run's log: its latencies are read after it
    std::vector<std::string> args = {bin_, "serve", "--config", (dir_ / config).string(),
                                     "--port-file", (dir_ / "port").string()};
    if (verify_only) args.push_back("--verify-only");
    pid_ = pt::spawn(args, (dir_ / "server.log").string());
    return pt::wait_for_file(dir_ / "port", std::chrono::seconds(10));
  }
  uint16_t port() const { return static_cast<uint16_t>(std::stoi(pt::slurp(dir_ / "port"))); }
  pid_t pid() const { return pid_; }
  int stop(int sig) {
    if (pid_ <= 0) return 0;
    kill(pid_, sig);
    const int rc = pt::wait_exit(pid_);
    pid_ = 0;
    return rc;
  }

 private:
  std::string bin_;
  fs::path dir_;
  pid_t pid_ = 0;
};

json describe(const Run& r) {
  return {{"mode", r.name},
          {"callbacks", r.load.completed},
          {"seconds", r.load.seconds},
          {"per_second", r.load.per_second()},
          {"p50_ms", r.load.percentile(0.50) / 1000.0},
          {"p99_ms", r.load.percentile(0.99) / 1000.0},
          {"max_ms", r.load.percentile(1.0) / 1000.0},
          {"peak_rss_mib", r.peak_rss_kib / 1024.0},
          {"server_cpu_us_per_callback", r.server_cpu_us},
          {"server_kernel_us_per_callback", r.server_sys_us},
          {"mean_commit_batch", r.mean_batch},
          {"mean_commit_ms", r.mean_commit_ms},
          {"wal_kib_per_unit", r.wal_kib},
          {"deliveries_during_load", r.delivered_during},
          {"seconds_until_all_delivered", r.drain_seconds},
          {"server_max_ms", r.server_max_ms},
          {"server_acks_over_25ms", r.server_over_25ms},
          {"cpu_us_per_callback_by_thread", r.thread_us},
          {"runnable_share_by_thread", r.thread_runnable},
          {"load_generator_runnable_share",
           r.load.seconds > 0 ? r.load.runnable_seconds / r.load.seconds : 0.0},
          {"load_generator_cpu_us_per_callback",
           r.load.completed > 0 ? 1e6 * r.load.cpu_seconds / r.load.completed : 0.0}};
}

void print(const Run& r) {
  std::printf("%-12s %9lld callbacks %7.2f s %9.0f /s   p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms"
              "   peak RSS %6.1f MiB   server CPU %4.0f us/callback (%3.0f%% kernel)\n",
              r.name.c_str(), static_cast<long long>(r.load.completed), r.load.seconds,
              r.load.per_second(), r.load.percentile(0.5) / 1000.0,
              r.load.percentile(0.99) / 1000.0, r.load.percentile(1.0) / 1000.0,
              r.peak_rss_kib / 1024.0, r.server_cpu_us,
              r.server_cpu_us > 0 ? 100 * r.server_sys_us / r.server_cpu_us : 0.0);
  if (r.server_max_ms > 0) {
    std::printf("             gateway log: longest acknowledgement %.2f ms, %lld over 25 ms\n",
                r.server_max_ms, static_cast<long long>(r.server_over_25ms));
  }
  if (r.mean_batch > 0) {
    std::printf("             store: %.1f units per commit, %.2f ms per commit until durable, "
                "%.1f KiB of WAL per unit, checkpoints %.0f complete + %.0f partial (%.0f by the "
                "writer)\n",
                r.mean_batch, r.mean_commit_ms, r.wal_kib, r.checkpoints_complete,
                r.checkpoints_partial, r.checkpoints_by_writer);
  }
  std::string threads;
  for (const auto& [name, us] : r.thread_us) {
    if (us >= 1) threads += "  " + name + " " + std::to_string(static_cast<int>(us + 0.5));
  }
  if (r.load.completed > 0) {
    threads += "  (load generator " +
               std::to_string(static_cast<int>(1e6 * r.load.cpu_seconds / r.load.completed + 0.5)) +
               ")";
  }
  if (!threads.empty()) std::printf("             CPU us/callback by thread:%s\n", threads.c_str());
  std::string waits;
  for (const auto& [name, share] : r.thread_runnable) {
    if (share >= 0.0005) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "  %s %.1f%%", name.c_str(), 100 * share);
      waits += buf;
    }
  }
  if (r.load.seconds > 0) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "  (load generator %.1f%%)",
                  100 * r.load.runnable_seconds / r.load.seconds);
    waits += buf;
  }
  if (!waits.empty()) {
    std::printf("             waiting for a core, share of the load's time:%s\n", waits.c_str());
  }
  if (r.drain_seconds > 0) {
    std::printf("             webhooks: %.0f delivered during the load (%.0f/s), all %lld "
                "delivered %.2f s after the load began (%.0f/s overall)\n",
                r.delivered_during, r.delivered_during / r.load.seconds,
                static_cast<long long>(r.load.completed), r.drain_seconds,
                static_cast<double>(r.load.completed) / r.drain_seconds);
  }
}

bool all_status(const LoadResult& r, int status, int64_t count, const char* what) {
  if (r.transport_errors == 0 && r.statuses.size() == 1 && r.statuses.begin()->first == status &&
      r.completed == count) {
    return true;
  }
  std::cerr << "bench: " << what << ": expected " << count << " x " << status << ", got";
  for (const auto& [s, n] : r.statuses) std::cerr << " " << n << " x " << s;
  std::cerr << " and " << r.transport_errors << " transport errors\n";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paygate callback benchmark: durable store vs verify-only"};
  std::string bin;
  int count = 60000;
  int connections = 64;
  int rounds = 2;
  std::string json_out;
  bool public_key_mode = false;
  std::string only;
  bool keep = false;
  int server_threads = 0;
  std::string provider = "wechatpay-v3";
  app.add_option("--binary", bin, "the paygate binary")->required();
  app.add_option("--callbacks", count, "unique callbacks per run")->check(CLI::Range(1, 2000000));
  app.add_option("--connections", connections, "keep-alive connections")
      ->check(CLI::Range(1, 1024));
  double rate = 0;
  app.add_option("--rate", rate,
                 "open loop: send callbacks at this fixed rate per second (latency counted from "
                 "when each was due); default closed loop")
      ->check(CLI::Range(1.0, 1e6));
  int orders = 0;
  app.add_option("--orders", orders,
                 "orders registered before each durable load (default: one per callback); the "
                 "callbacks pay the first ones")
      ->check(CLI::Range(1, 4000000));
  app.add_option("--rounds", rounds, "alternating durable/verify-only rounds; best of each")
      ->check(CLI::Range(1, 10));
  app.add_option("--json", json_out, "also write the results here");
  app.add_flag("--public-key-mode", public_key_mode, "sign with the WeChat Pay public-key mode");
  app.add_option("--only", only, "run one mode (for profiling): durable or verify-only")
      ->check(CLI::IsMember({"durable", "verify-only"}));
  app.add_option("--server-threads", server_threads, "gateway I/O threads (default: config's)")
      ->check(CLI::Range(1, 64));
  app.add_option("--provider", provider, "whose callbacks: wechatpay-v3 or alipay")
      ->check(CLI::IsMember({"wechatpay-v3", "alipay"}))
      ->capture_default_str();
  app.add_flag("--keep", keep, "keep the gateways' data folders and logs (printed at the end)");
  bool webhooks = false;
  app.add_flag("--webhooks", webhooks,
               "compare durable callbacks alone with durable callbacks while every event is "
               "delivered to a local `paygate sim receiver` (instead of verify-only)");
  std::string perf_dir;
  app.add_option("--perf", perf_dir,
                 "record `perf record -g` of the gateway during each load into this folder");
  CLI11_PARSE(app, argc, argv);
  orders = std::max(orders, count);

  const fs::path root = fs::temp_directory_path() / ("paygate-bench-" + std::to_string(getpid()));
  fs::remove_all(root);
  const int port = pt::free_port();

  // Callbacks are unique per round (the durable store dedupes), all signed up front.
  const bool alipay = provider == "alipay";
  const int ack_status = alipay ? 200 : 204;  // Alipay's ack is a 200 with the body `success`
  std::printf("%s: signing %d callbacks x %d rounds (RSA-2048%s) ...\n", provider.c_str(), count,
              rounds, alipay ? ", form-urlencoded" : ", AES-256-GCM");
  std::fflush(stdout);
  struct Prepared {
    fs::path dir;
    std::vector<std::string> orders, callbacks;
    int receiver_port = 0;
  };
  std::vector<Prepared> prepared(static_cast<std::size_t>(rounds));
  for (int round = 0; round < rounds; ++round) {
    auto& p = prepared[round];
    p.dir = root / ("round" + std::to_string(round));
    paygate::sim::InitOptions io;
    io.dir = p.dir.string();
    io.merchant = "bench";
    io.listen = "127.0.0.1:" + std::to_string(port);
    auto sb = paygate::sim::init_sandbox(io);
    if (!sb) {
      std::cerr << "bench: " << sb.error().detail << "\n";
      return 1;
    }
    if (server_threads > 0) {
      std::string toml = pt::slurp(p.dir / "paygate.toml");
      toml.replace(toml.find("[server]\n"), 9,
                   "[server]\nthreads = " + std::to_string(server_threads) + "\n");
      std::ofstream(p.dir / "paygate.toml") << toml;
    }
    if (webhooks) {
      // Same sandbox, its own database, one endpoint for every event.
      const std::string secret =
          "whsec_" + paygate::crypto::base64_encode(paygate::crypto::random_bytes(32));
      std::ofstream(p.dir / "whsec") << secret << "\n";
      fs::permissions(p.dir / "whsec", fs::perms::owner_read | fs::perms::owner_write);
      p.receiver_port = pt::free_port();
      std::string toml = pt::slurp(p.dir / "paygate.toml");
      toml.replace(toml.find("paygate.db"), 10, "paygate-webhooks.db");
      toml += "\n[webhooks]\nallow_private_addresses = true\nallow_insecure_http = true\n\n"
              "[[merchant.webhooks]]\n"
              "id = \"bench\"\nurl = \"http://127.0.0.1:" +
              std::to_string(p.receiver_port) + "/events\"\nsecret_file = \"whsec\"\n";
      std::ofstream(p.dir / "paygate-webhooks.toml") << toml;
    }
    if (alipay && !sb->alipay_key) {
      std::cerr << "bench: the sandbox has no Alipay key\n";
      return 1;
    }
    p.orders.resize(orders);
    p.callbacks.resize(count);
    const std::string token = "Bearer " + sb->api_token;
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    auto worker = [&] {
      for (int i; (i = next.fetch_add(1)) < orders;) {
        char otn[32];
        std::snprintf(otn, sizeof otn, "BENCH-%d-%07d", round, i);
        p.orders[i] = raw_request(
            "POST", "/v1/orders",
            {{"Authorization", token}, {"Content-Type", "application/json"}},
            json{{"merchant", "bench"}, {"out_trade_no", otn}, {"amount", 100}}.dump());
        if (i >= count) continue;
        if (alipay) {
          p.callbacks[i] = raw_request(
              "POST", "/notify/alipay/bench",
              {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
              alipay_notification(*sb, otn, i));
          continue;
        }
        paygate::sim::PaymentSpec spec;
        spec.out_trade_no = otn;
        spec.amount = 100;
        auto n = paygate::sim::build_payment(*sb, spec, public_key_mode);
        if (!n) {
          failed = true;
          return;
        }
        auto headers = paygate::sim::sign_headers(*sb, *n, std::time(nullptr));
        headers.emplace_back("Content-Type", "application/json");
        p.callbacks[i] = raw_request("POST", "/notify/wechatpay/v3/bench", headers, n->body);
      }
    };
    std::vector<std::thread> signers;
    for (unsigned t = 0; t < std::max(1u, std::thread::hardware_concurrency()); ++t) {
      signers.emplace_back(worker);
    }
    for (auto& t : signers) t.join();
    if (failed) {
      std::cerr << "bench: cannot build callbacks\n";
      return 1;
    }
  }

  std::vector<Run> durable, verify_only;
  bool ok = true;
  for (int round = 0; round < rounds && ok; ++round) {
    auto& p = prepared[round];
    // The second mode of a round: verify-only, or (--webhooks) durable with delivery on.
    // Odd rounds run the two modes the other way round, so neither always pays for the
    // other's leftovers (dirty pages being written back, a warm or cold page cache).
    const bool flip = round % 2 == 1;
    for (bool second : {flip, !flip}) {
      const bool vo = second && !webhooks;
      const bool wh = second && webhooks;
      if (!only.empty() && (only == "verify-only") != vo) continue;
      pid_t receiver = 0;
      if (wh) {
        const auto port_file = p.dir / "receiver.port";
        fs::remove(port_file);
        receiver = pt::spawn({bin, "sim", "receiver", "--listen",
                              "127.0.0.1:" + std::to_string(p.receiver_port), "--port-file",
                              port_file.string(), "--secret-file", (p.dir / "whsec").string(),
                              "--out", (p.dir / "receiver.jsonl").string()},
                             (p.dir / "receiver.log").string());
        if (!pt::wait_for_file(port_file, std::chrono::seconds(10))) {
          std::cerr << "bench: receiver did not start: " << pt::slurp(p.dir / "receiver.log");
          return 1;
        }
      }
      Gateway gw(bin, p.dir);
      if (!gw.start(vo, wh ? "paygate-webhooks.toml" : "paygate.toml")) {
        std::cerr << "bench: gateway did not start: " << pt::slurp(p.dir / "server.log") << "\n";
        return 1;
      }
      Run run{vo ? "verify-only" : wh ? "with-webhooks" : "durable", {}, 0};
      if (!vo) {
        ok = all_status(run_load(gw.port(), p.orders, connections), 201, orders, "order setup");
      }
      const StoreFigures before = vo ? StoreFigures{} : store_figures(gw.port());
      const auto cpu0 = pt::cpu_time(gw.pid());
      const auto threads0 = pt::thread_cpu_times(gw.pid());
      const auto load_start = std::chrono::steady_clock::now();
      pid_t perf = 0;
      if (!perf_dir.empty()) {
        fs::create_directories(perf_dir);
        const auto out = fs::path(perf_dir) / (run.name + "-" + std::to_string(round) + ".data");
        perf = pt::spawn({"/usr/bin/perf", "record", "-F", "1999", "-g", "-p", std::to_string(gw.pid()),
                          "-o", out.string()},
                         (fs::path(perf_dir) / "perf.log").string());
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      run.load = run_load(gw.port(), p.callbacks, connections, rate);
      if (perf > 0) {
        ::kill(perf, SIGINT);
        pt::wait_exit(perf);
      }
      const auto cpu1 = pt::cpu_time(gw.pid());
      for (const auto& [name, t] : pt::thread_cpu_times(gw.pid())) {
        const auto before_it = threads0.find(name);
        const double was = before_it == threads0.end() ? 0 : before_it->second.total();
        run.thread_us[name] = 1e6 * (t.total() - was) / count;
        const double waited = before_it == threads0.end() ? 0 : before_it->second.runnable;
        run.thread_runnable[name] = (t.runnable - waited) / run.load.seconds;
      }
      // Store figures of the load itself, before any delivery catch-up.
      const StoreFigures after = vo ? StoreFigures{} : store_figures(gw.port());
      if (wh) {
        run.delivered_during = delivered(gw.port());
        const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(300);
        while (delivered(gw.port()) < count && std::chrono::steady_clock::now() < limit) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        run.drain_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                          load_start)
                                .count();
        if (delivered(gw.port()) < count) {
          std::cerr << "bench: not every event was delivered within 300 s\n";
          ok = false;
        }
      }
      run.server_cpu_us = 1e6 * (cpu1.total() - cpu0.total()) / count;
      run.server_sys_us = 1e6 * (cpu1.system - cpu0.system) / count;
      run.peak_rss_kib = pt::peak_rss_kib(gw.pid());
      if (!vo) {
        const double commits = after.commits - before.commits;
        if (commits > 0) {
          run.mean_batch = (after.units - before.units) / commits;
          run.mean_commit_ms = 1000 * (after.commit_seconds - before.commit_seconds) / commits;
        }
        run.wal_kib = (after.wal_bytes - before.wal_bytes) / 1024.0 / count;
        run.checkpoints_complete = after.checkpoints_complete - before.checkpoints_complete;
        run.checkpoints_partial = after.checkpoints_partial - before.checkpoints_partial;
        run.checkpoints_by_writer = after.checkpoints_by_writer - before.checkpoints_by_writer;
      }
      ok = ok && all_status(run.load, ack_status, count, run.name.c_str());
      ok = ok && gw.stop(SIGTERM) == 0;
      read_server_latencies(p.dir / "server.log", run);
      if (receiver > 0) {
        kill(receiver, SIGTERM);
        pt::wait_exit(receiver);
      }
      print(run);
      std::fflush(stdout);
      (second ? verify_only : durable).push_back(std::move(run));
    }
    if (webhooks) {
      const auto db = p.dir / "paygate-webhooks.db";
      const int64_t paid = scalar(db, "SELECT COUNT(*) FROM orders WHERE state = 'PAID'");
      const int64_t sent = scalar(db, "SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'");
      if (paid != count || sent != count) {
        std::cerr << "bench: with webhooks the store holds " << paid << " paid orders and " << sent
                  << " delivered events; expected " << count << "\n";
        ok = false;
      }
    }
    // The durable run must have left exactly one applied effect per acknowledged callback.
    if (only == "verify-only") continue;
    const auto db = p.dir / "paygate.db";
    const int64_t paid = scalar(db, "SELECT COUNT(*) FROM orders WHERE state = 'PAID'");
    const int64_t outbox = scalar(db, "SELECT COUNT(*) FROM outbox");
    const int64_t inbox = scalar(db, "SELECT COUNT(*) FROM inbox WHERE status = 'applied'");
    if (paid != count || outbox != count || inbox != count) {
      std::cerr << "bench: store holds " << paid << " paid orders, " << outbox
                << " outbox events, " << inbox << " applied inbox rows; expected " << count
                << "\n";
      ok = false;
    }
  }
  if (!ok) return 1;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n == 0 ? 0.0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  auto longest = [](const std::vector<Run>& runs) {
    double ms = 0;
    for (const auto& r : runs) ms = std::max(ms, r.server_max_ms);
    return ms;
  };
  if (rate > 0) {
    std::vector<double> p99s;
    for (const auto& r : durable) p99s.push_back(r.load.percentile(0.99) / 1000.0);
    for (const auto& r : verify_only) p99s.push_back(r.load.percentile(0.99) / 1000.0);
    std::printf("\n%s open loop at %.0f/s, %d round(s): p99 median %.2f ms (target <= 10), "
                "longest acknowledgement in the gateway's log %.2f ms\n",
                provider.c_str(), rate, rounds, median(p99s),
                std::max(longest(durable), longest(verify_only)));
  }
  if (!only.empty()) {
    if (keep) {
      std::printf("kept %s\n", root.c_str());
    } else {
      fs::remove_all(root);
    }
    return 0;
  }

  auto best = [](const std::vector<Run>& runs) {
    return *std::max_element(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
      return a.load.per_second() < b.load.per_second();
    });
  };
  const Run d = best(durable), v = best(verify_only);
  const double ratio = d.load.per_second() / v.load.per_second();
  const double p99 = d.load.percentile(0.99) / 1000.0;
  const double rss = d.peak_rss_kib / 1024.0;
  std::printf("\n%s: best of %d round(s), %d connections, %d callbacks each:\n", provider.c_str(),
              rounds, connections, count);
  print(d);
  print(v);
  // Each round ran both modes back to back (order alternating), so a round's pair shares the
  // machine's state: the median of the paired ratios is the figure least moved by drift.
  std::vector<double> pair_tput, pair_p99;
  for (std::size_t i = 0; i < std::min(durable.size(), verify_only.size()); ++i) {
    pair_tput.push_back(verify_only[i].load.per_second() / durable[i].load.per_second());
    pair_p99.push_back(static_cast<double>(verify_only[i].load.percentile(0.99)) /
                       static_cast<double>(durable[i].load.percentile(0.99)));
  }
  auto list = [](const std::vector<double>& v) {
    std::string s;
    for (double x : v) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%s%.2f", s.empty() ? "" : " ", x);
      s += buf;
    }
    return s;
  };
  if (webhooks) {
    std::printf("callbacks with webhooks / without, best of each: throughput %.2f (target >= "
                "0.90), p99 %.2f (target <= 1.10)\n",
                1 / ratio, static_cast<double>(v.load.percentile(0.99)) / d.load.percentile(0.99));
    std::printf("  per round (same-round pairs): throughput %s, p99 %s\n", list(pair_tput).c_str(),
                list(pair_p99).c_str());
    std::printf("  median of the rounds: throughput %.2f, p99 %.2f\n", median(pair_tput),
                median(pair_p99));
  } else {
    std::printf("durable / verify-only throughput, best of each: %.2f\n", ratio);
    std::vector<double> per_round;
    for (double r : pair_tput) per_round.push_back(1 / r);
    std::printf("  per round (same-round pairs): %s, median %.2f (target >= 0.55)\n",
                list(per_round).c_str(), median(per_round));
    std::vector<double> tput;
    for (const auto& r : durable) tput.push_back(r.load.per_second());
    std::printf("durable throughput best %.0f/s, median of the rounds %.0f/s (target >= 12000), "
                "p99 %.2f ms, peak RSS %.1f MiB (target <= 64)\n",
                d.load.per_second(), median(tput), p99, rss);
    std::printf("longest acknowledgement in the gateway's log, durable: %.2f ms (target < 25)\n",
                longest(durable));
  }
  if (!json_out.empty()) {
    json out = {{"provider", provider},       {"connections", connections},
                {"callbacks", count},         {"rounds", rounds},
                {"durable", describe(d)},     {webhooks ? "with_webhooks" : "verify_only", describe(v)},
                {"ratio", ratio},             {"all_runs", json::array()},
                {"paired_throughput_ratios", pair_tput}, {"paired_p99_ratios", pair_p99}};
    for (const auto& r : durable) out["all_runs"].push_back(describe(r));
    for (const auto& r : verify_only) out["all_runs"].push_back(describe(r));
    std::ofstream(json_out) << out.dump(2) << "\n";
  }
  if (keep) {
    std::printf("kept %s\n", root.c_str());
  } else {
    fs::remove_all(root);
  }
  return 0;
}

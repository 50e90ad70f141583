// End to end on 127.0.0.1: the real `paygate serve` with a SQLite file, `paygate sim` as
// WeChat Pay, all through real processes and HTTP.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "crypto/rsa.hpp"
#include "crypto/block_cipher.hpp"
#include "crypto/digest.hpp"
#include "providers/alipay/adapter.hpp"
#include "providers/wechat_mp/crypto.hpp"
#include "providers/wechatpay_v2/adapter.hpp"
#include "sim/http_client.hpp"
#include "sim/sandbox.hpp"
#include "support/db.hpp"
#include "support/gateway.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using paygate::testing::free_port;
using paygate::testing::Gateway;
using paygate::testing::kBin;
using paygate::testing::scalar;
using paygate::testing::slurp;
using paygate::testing::spawn;
using paygate::testing::wait_exit;

TEST_F(Gateway, ThousandOrdersWithDuplicatesPaidExactlyOnce) {
  start();
  register_orders("K", 1000);
  const auto report = (dir_ / "report.json").string();
  const int rc = wait_exit(sim_pay("K", 1000,
                                   {"--concurrency", "16", "--fault", "duplicate", "--fault",
                                    "concurrent-duplicate", "--fault", "tampered", "--time-scale",
                                    "0.01"},
                                   report));
  EXPECT_EQ(rc, 0) << slurp(dir_ / "sim.log");
  auto rep = json::parse(slurp(report));
  EXPECT_EQ(rep["acked"], 1000);
  EXPECT_EQ(rep["faulty_accepted"], 0);
  EXPECT_EQ(rep["faulty_rejected"], 1000);
  EXPECT_EQ(rep["duplicate_not_acked"], 0);
  EXPECT_EQ(stop(SIGTERM), 0);  // graceful drain
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), 1000);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.paid'"), 1000);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(DISTINCT out_trade_no) FROM outbox"), 1000);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), 1000);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE status = 'applied'"), 1000);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM transitions WHERE event = 'order.paid'"), 1000);
  // Every notification the simulator saw acknowledged is in the inbox.
  for (const auto& d : rep["deliveries"]) {
    ASSERT_TRUE(d["acked"].get<bool>());
  }
}

TEST_F(Gateway, OrderApiContract) {
  start();
  const std::string body = json{{"merchant", "sandbox"}, {"out_trade_no", "O-1"}, {"amount", 250},
                                {"description", "tea"}}.dump();
  EXPECT_EQ(api("POST", "/v1/orders", body).status, 201);
  EXPECT_EQ(api("POST", "/v1/orders", body).status, 200);  // identical repeat
  auto conflict = api("POST", "/v1/orders",
                      json{{"merchant", "sandbox"}, {"out_trade_no", "O-1"}, {"amount", 251}}.dump());
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(json::parse(conflict.body)["error"]["code"], "conflict");
  EXPECT_EQ(api("POST", "/v1/orders", "{not json").status, 400);
  EXPECT_EQ(api("POST", "/v1/orders", json{{"merchant", "sandbox"}, {"out_trade_no", "O-2"},
                                           {"amount", -1}}.dump()).status, 400);
  EXPECT_EQ(api("POST", "/v1/orders", json{{"merchant", "other"}, {"out_trade_no", "O-3"},
                                           {"amount", 1}}.dump()).status, 403);
  EXPECT_EQ(api("GET", "/v1/orders/other/O-1").status, 403);
  EXPECT_EQ(api("GET", "/v1/orders/sandbox/NOPE").status, 404);
  paygate::sim::HttpClient anon;
  EXPECT_EQ(anon.request("GET", url("/v1/orders/sandbox/O-1"), {}, "", 5s).status, 401);
  EXPECT_EQ(anon.request("GET", url("/v1/orders/sandbox/O-1"),
                         {{"Authorization", "Bearer wrong-token-wrong-token"}}, "", 5s).status,
            401);
  auto got = api("GET", "/v1/orders/sandbox/O-1");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json::parse(got.body)["state"], "PENDING");
  EXPECT_EQ(anon.request("GET", url("/healthz"), {}, "", 5s).status, 200);
  EXPECT_EQ(anon.request("GET", url("/readyz"), {}, "", 5s).status, 200);
  auto metrics = anon.request("GET", url("/metrics"), {}, "", 5s);
  EXPECT_NE(metrics.body.find("paygate_orders{state=\"PENDING\"} 1"), std::string::npos);
}

TEST_F(Gateway, BadInputIsRejectedAndServerStaysUp) {
  start();
  register_orders("B", 1);
  paygate::sim::HttpClient c;
  const auto notify = url("/notify/wechatpay/v3/sandbox");
  // Oversized body: 413 before anything is parsed.
  auto big = c.request("POST", notify, {{"Content-Type", "application/json"}},
                       std::string(70 * 1024, 'x'), 5s);
  EXPECT_EQ(big.status, 413);
  // Missing headers, non-JSON, garbage signature.
  EXPECT_EQ(c.request("POST", notify, {}, "{}", 5s).status, 400);
  EXPECT_EQ(c.request("POST", notify,
                      {{"Wechatpay-Timestamp", "1"}, {"Wechatpay-Nonce", "n"},
                       {"Wechatpay-Signature", "%%%"}, {"Wechatpay-Serial", "X"}},
                      "not json", 5s).status,
            401);
  // Unknown merchant route.
  EXPECT_EQ(c.request("POST", url("/notify/wechatpay/v3/nobody"), {}, "{}", 5s).status, 404);
  // A slow sender that never finishes its headers is cut off; the server keeps serving.
  {
    paygate::sim::HttpClient slow;
    auto r = slow.request("POST", notify, {{"Content-Length", "100"}}, "", 300ms);
    EXPECT_EQ(r.status, 0);
  }
  EXPECT_EQ(c.request("GET", url("/healthz"), {}, "", 5s).status, 200);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), 0);
  // And a good callback still applies.
  EXPECT_EQ(wait_exit(sim_pay("B-000001", 1, {}, (dir_ / "r.json").string())), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), 1);
}

// Open TCP connections to the gateway that send nothing.
std::vector<int> idle_connections(int port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      continue;
    }
    fds.push_back(fd);
  }
  return fds;
}

// The review's case: 600 idle connections against a 256-descriptor limit, with the connection
// caps set above what the descriptors allow so that accept() runs out of descriptors. The
// gateway must neither spin on the accept error nor stop serving a provider's callback.
TEST_F(Gateway, IdleConnectionFloodNeitherSpinsNorLocksOutACallback) {
  server_settings("max_connections = 5000\nmax_connections_per_address = 5000\n");
  start({}, {"/usr/bin/prlimit", "--nofile=256:256"});
  register_orders("I", 1);
  auto fds = idle_connections(port_, 600);
  EXPECT_GE(fds.size(), 500u);
  std::this_thread::sleep_for(500ms);
  const auto before = paygate::testing::cpu_time(server_);
  std::this_thread::sleep_for(2s);
  const double cpu = paygate::testing::cpu_time(server_).total() - before.total();
  EXPECT_LT(cpu, 0.4) << "CPU seconds in 2 s while flooded";
  // A provider callback is still served (idle connections are closed to make room).
  EXPECT_EQ(wait_exit(sim_pay("I-000001", 1, {"--time-scale", "0.01"}, (dir_ / "r.json").string())),
            0) << slurp(dir_ / "sim.log");
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), 1);
  paygate::sim::HttpClient c;
  const auto metrics = c.request("GET", url("/metrics"), {}, "", 5s).body;
  EXPECT_NE(metrics.find("paygate_connection_events_total{event=\"accept_error\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("paygate_connection_events_total{event=\"evicted\"}"),
            std::string::npos);
  for (int fd : fds) close(fd);
  EXPECT_EQ(stop(SIGTERM), 0);
}

// With the default caps (from the descriptor limit) a flood from one address is held to its
// share, and the longest-idle connections make room for new ones.
TEST_F(Gateway, PerAddressCapKeepsTheFloodToItsShare) {
  server_settings("max_connections = 64\nmax_connections_per_address = 16\n");
  start();
  register_orders("Q", 1);
  auto fds = idle_connections(port_, 200);
  std::this_thread::sleep_for(300ms);
  int open = 0;
  for (int fd : fds) {
    char b;
    const ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) ++open;  // still open: nothing to read, no EOF
  }
  EXPECT_LE(open, 16);
  EXPECT_GE(open, 8);
  EXPECT_EQ(wait_exit(sim_pay("Q-000001", 1, {"--time-scale", "0.01"}, (dir_ / "r.json").string())),
            0) << slurp(dir_ / "sim.log");
  for (int fd : fds) close(fd);
  EXPECT_EQ(stop(SIGTERM), 0);
}

// Slow-loris: headers trickled a byte at a time are cut off at the request deadline, and a
// connection that never sends its first byte at the idle timeout.
TEST_F(Gateway, SlowRequestsAreCutOffAtTheirDeadlines) {
  server_settings("idle_timeout_ms = 300\nheader_timeout_ms = 5000\nrequest_timeout_ms = 800\n");
  start();
  auto idle = idle_connections(port_, 1);
  ASSERT_EQ(idle.size(), 1u);
  auto slow = idle_connections(port_, 1);
  ASSERT_EQ(slow.size(), 1u);
  const std::string req = "POST /notify/wechatpay/v3/sandbox HTTP/1.1\r\nHost: x\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  bool cut = false;
  for (std::size_t i = 0; i < 40 && !cut; ++i) {
    const char ch = req[i % req.size()];
    cut = send(slow[0], &ch, 1, MSG_NOSIGNAL) != 1;
    std::this_thread::sleep_for(50ms);
    char b;
    if (recv(slow[0], &b, 1, MSG_DONTWAIT) == 0) cut = true;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(cut);
  EXPECT_LT(secs, 1.8);  // cut near 0.8 s, though a byte arrived every 50 ms
  char b;
  EXPECT_EQ(recv(idle[0], &b, 1, 0), 0);  // closed by the idle timeout long ago
  close(idle[0]);
  close(slow[0]);
  paygate::sim::HttpClient c;
  EXPECT_EQ(c.request("GET", url("/healthz"), {}, "", 5s).status, 200);
}

double metric(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 2));
}

// A tight /readyz probe loop costs the store about one heartbeat write per second.
TEST_F(Gateway, ReadinessProbesAreAnsweredFromACachedDurableHeartbeat) {
  start();
  paygate::sim::HttpClient c;
  EXPECT_EQ(c.request("GET", url("/readyz"), {}, "", 5s).status, 200);
  const std::string commits = "paygate_store_commits_total{result=\"ok\"}";
  const double before = metric(c.request("GET", url("/metrics"), {}, "", 5s).body, commits);
  const auto t0 = std::chrono::steady_clock::now();
  int probes = 0;
  while (std::chrono::steady_clock::now() - t0 < 1500ms) {
    ASSERT_EQ(c.request("GET", url("/readyz"), {}, "", 5s).status, 200);
    ++probes;
  }
  const double after = metric(c.request("GET", url("/metrics"), {}, "", 5s).body, commits);
  EXPECT_GT(probes, 100);
  EXPECT_LE(after - before, 3) << probes << " probes";
  EXPECT_EQ(stop(SIGTERM), 0);
}

// Bytes that are not UTF-8 in a query, a path or a body never take the gateway down.
TEST_F(Gateway, InvalidUtf8AnywhereGetsAClearErrorAndTheServerStaysUp) {
  start();
  for (const char* path : {"/v1/events?%FF=1", "/v1/events?order=%C3%28", "/v1/events?%ED%A0%80=1",
                           "/v1/orders/sandbox/%FF%FE", "/v1/endpoints/%FF/replay?since=%FF",
                           "/v1/events?type=%FF"}) {
    const bool post = std::string(path).find("replay") != std::string::npos;
    auto r = api(post ? "POST" : "GET", path);
    EXPECT_GE(r.status, 400) << path;
    EXPECT_LT(r.status, 500) << path << " " << r.body;
    EXPECT_TRUE(nlohmann::json::accept(r.body)) << path << ": " << r.body;
  }
  auto r = api("POST", "/v1/orders", std::string("{\"merchant\":\"sandbox\",\"out_trade_no\":\"\xff\",\"amount\":1}"));
  EXPECT_EQ(r.status, 400) << r.body;
  paygate::sim::HttpClient c;
  EXPECT_EQ(c.request("GET", url("/healthz"), {}, "", 5s).status, 200);
  EXPECT_EQ(stop(SIGTERM), 0);
}

// kill -9 the gateway at random moments while the simulator pays under load; the simulator
// retries on its (time-scaled) schedule. Nothing acknowledged may be missing, nothing doubled.
TEST_F(Gateway, CrashDrillLosesNothing) {
  start();
  const int kOrders = 600;
  register_orders("C", kOrders);
  const auto report = (dir_ / "crash.json").string();
  pid_t sim = sim_pay("C", kOrders,
                      {"--concurrency", "8", "--fault", "concurrent-duplicate", "--time-scale",
                       "0.02"},
                      report);
  std::mt19937 rng(12345);
  int kills = 0;
  for (; kills < 6; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    stop(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
    start();
  }
  EXPECT_EQ(wait_exit(sim), 0) << slurp(dir_ / "sim.log");
  EXPECT_EQ(stop(SIGTERM), 0);
  auto rep = json::parse(slurp(report));
  EXPECT_EQ(rep["acked"], kOrders);
  EXPECT_GE(kills, 5);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), kOrders);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox"), kOrders);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), kOrders);
  for (const auto& d : rep["deliveries"]) {
    if (d["acked"].get<bool>()) {
      EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE notification_id = '" +
                                 d["id"].get<std::string>() + "'"),
                1);
    }
  }
}

// A WAL fdatasync fails once mid-load (and the bytes since the last good sync are dropped, as
// the kernel may): the gateway acknowledges nothing more, exits with 3, and after a restart
// every payment WeChat saw acknowledged is applied exactly once; the rest arrive by retry.
TEST_F(Gateway, FailedWalSyncStopsTheGatewayAndLosesNothing) {
  start();
  const int kOrders = 400;
  register_orders("F", kOrders);
  ASSERT_EQ(stop(SIGTERM), 0);
  start({std::string("LD_PRELOAD=") + PAYGATE_FAIL_FSYNC_LIB, "PAYGATE_FAIL_WAL_SYNC_AFTER=20"});
  const auto report = (dir_ / "fsync.json").string();
  pid_t sim = sim_pay("F", kOrders, {"--concurrency", "8", "--time-scale", "0.02"}, report);
  const int rc = wait_stopped(20s);
  if (rc < 0) stop(SIGKILL);  // it kept serving after the failed sync
  const std::string failed_log = slurp(dir_ / "server.log");
  EXPECT_EQ(rc, 3) << failed_log;
  EXPECT_NE(failed_log.find("fail_fsync: failing WAL sync 21"), std::string::npos) << failed_log;
  std::size_t reports = 0;
  for (auto at = failed_log.find("\"store failed\""); at != std::string::npos;
       at = failed_log.find("\"store failed\"", at + 1)) {
    ++reports;
  }
  EXPECT_EQ(reports, 1u) << failed_log;
  start();
  finish_and_expect_all_paid_once(sim, report, kOrders);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM transitions WHERE event = 'order.paid'"), kOrders);
  EXPECT_EQ(paygate::testing::text(db(), "PRAGMA integrity_check"), "ok");
}

// A real lock on the database (another process's write transaction) makes the store fail:
// the callback is answered 500, nothing is applied, and WeChat's retry applies it once later.
TEST_F(Gateway, LockedDatabaseFailsSoTheProviderRetries) {
  start();
  register_orders("L", 1);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const auto report = (dir_ / "locked.json").string();
  pid_t sim = sim_pay("L-000001", 1, {"--time-scale", "0.01"}, report);
  // The store's busy timeout is 2 s; hold the lock long enough for at least one attempt to fail.
  std::this_thread::sleep_for(3500ms);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), 0);
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(wait_exit(sim), 0) << slurp(dir_ / "sim.log");
  auto rep = json::parse(slurp(report));
  ASSERT_EQ(rep["deliveries"].size(), 1u);
  EXPECT_TRUE(rep["deliveries"][0]["acked"].get<bool>());
  EXPECT_GE(rep["deliveries"][0]["attempts"].get<int>(), 2);
  paygate::sim::HttpClient c;
  const auto metrics = c.request("GET", url("/metrics"), {}, "", 5s).body;
  EXPECT_NE(metrics.find("paygate_callbacks_total{provider=\"wechatpay_v3\",outcome=\"error\"}"),
            std::string::npos)
      << metrics;
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), 1);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox"), 1);
}

// SIGTERM while new connections keep arriving: the accept loop and the drain that closes the
// acceptor must not race (they did: an accept started on a closed acceptor crashed the stop).
TEST_F(Gateway, StopWhileConnectionsArriveExitsCleanly) {
  for (int round = 0; round < 25; ++round) {
    start();
    std::atomic<bool> done{false};
    std::thread dialer([&] {
      while (!done) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port_));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::close(fd);
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + 5 * round));
    const int rc = stop(SIGTERM);
    done = true;
    dialer.join();
    ASSERT_EQ(rc, 0) << "round " << round << ": " << slurp(dir_ / "server.log");
  }
}

// SIGTERM under load: the gateway stops accepting, answers what is in flight, closes the store
// and exits 0; whatever it acknowledged is stored, the rest is retried after the restart.
TEST_F(Gateway, DrainUnderLoadLosesNothing) {
  start();
  const int kOrders = 1500;
  register_orders("D", kOrders);
  const auto report = (dir_ / "drain.json").string();
  pid_t sim = sim_pay("D", kOrders, {"--concurrency", "16", "--time-scale", "0.01"}, report);
  for (int i = 0; i < 500 && scalar(db(), "SELECT COUNT(*) FROM inbox") < 50; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(stop(SIGTERM), 0) << slurp(dir_ / "server.log");
  // The drain really happened mid-load.
  EXPECT_LT(scalar(db(), "SELECT COUNT(*) FROM inbox"), kOrders);
  // Every applied callback left its log line.
  {
    const std::string log = slurp(dir_ / "server.log");
    int64_t applied_lines = 0;
    for (auto p = log.find("\"outcome\":\"applied\""); p != std::string::npos;
         p = log.find("\"outcome\":\"applied\"", p + 1)) {
      ++applied_lines;
    }
    EXPECT_EQ(applied_lines, scalar(db(), "SELECT COUNT(*) FROM inbox"));
    EXPECT_NE(log.find("\"msg\":\"stopped\""), std::string::npos);
  }
  start();
  finish_and_expect_all_paid_once(sim, report, kOrders);
}

// Form-encodes and RSA2-signs an Alipay notification the way Alipay does.
std::string alipay_body(const paygate::crypto::PrivateKey& key,
                        std::vector<std::pair<std::string, std::string>> params) {
  params.emplace_back("sign_type", "RSA2");
  const auto content = paygate::providers::alipay::notify_sign_content(params);
  params.emplace_back("sign", paygate::crypto::base64_encode(*key.sign_sha256(content)));
  return paygate::providers::encode_form(params);
}

// Alipay on the same pipeline: verified form, exact "success" only after commit, duplicates
// acknowledged without effect, WAIT_BUYER_PAY recorded without effect, refund totals applied.
TEST_F(Gateway, AlipayNotificationsEndToEnd) {
  // The sandbox plays Alipay: its key signs, its app and seller are configured.
  auto sb = paygate::sim::load_sandbox(dir_.string());
  ASSERT_TRUE(sb && sb->alipay_key);
  const auto& key = sb->alipay_key;
  const std::string app_id = sb->alipay_app_id, seller_id = sb->alipay_seller_id;
  start();
  ASSERT_EQ(api("POST", "/v1/orders",
                json{{"merchant", "sandbox"}, {"out_trade_no", "ALI-1"}, {"amount", 915998}}.dump())
                .status,
            201);
  auto notify = [&](const std::string& id, const std::string& status,
                    std::vector<std::pair<std::string, std::string>> extra = {}) {
    std::vector<std::pair<std::string, std::string>> p = {
        {"notify_id", id},           {"notify_type", "trade_status_sync"},
        {"app_id", app_id},          {"seller_id", seller_id},
        {"out_trade_no", "ALI-1"},   {"trade_no", "2024000000000000000000000001"},
        {"trade_status", status},    {"total_amount", "9159.98"},
        {"gmt_payment", "2024-06-21 16:36:56"}, {"subject", "测试 & = %"},
        {"charset", "utf-8"},        {"version", "1.0"}};
    p.insert(p.end(), extra.begin(), extra.end());
    return alipay_body(*key, p);
  };
  paygate::sim::HttpClient c;
  auto post = [&](const std::string& body, const std::string& query = "") {
    return c.request("POST", url("/notify/alipay/sandbox" + query),
                     {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}, body,
                     5s);
  };
  auto r = post(notify("N0", "WAIT_BUYER_PAY"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "success");
  EXPECT_EQ(json::parse(api("GET", "/v1/orders/sandbox/ALI-1").body)["state"], "PENDING");

  const std::string paid = notify("N1", "TRADE_SUCCESS");
  r = post(paid, "?from=alipay&utm=%41");  // extra query parameters do not matter
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "success");  // exactly the 7 bytes
  EXPECT_EQ(post(paid).body, "success");  // duplicate: acknowledged, no second effect
  EXPECT_EQ(post(notify("N2", "TRADE_FINISHED")).body, "success");  // same payment fact

  std::string tampered = paid;
  tampered.replace(tampered.find("9159.98"), 7, "0000.01");
  r = post(tampered);
  EXPECT_EQ(r.body, "failure");
  EXPECT_NE(r.status, 200);
  EXPECT_EQ(post("sign=%%%&a").body, "failure");

  // Partial refund: refund_fee is the trade's refunded total.
  EXPECT_EQ(post(notify("N3", "TRADE_SUCCESS", {{"out_biz_no", "RF-1"}, {"refund_fee", "100.00"},
                                                  {"gmt_refund", "2024-06-22 10:00:00.123"}}))
                .body,
            "success");
  auto order = json::parse(api("GET", "/v1/orders/sandbox/ALI-1").body);
  EXPECT_EQ(order["state"], "PARTIALLY_REFUNDED");
  EXPECT_EQ(order["refunded"], 10000);

  // The browser return: verified, shows the stored state, changes nothing.
  const std::string ret = alipay_body(*key, {{"app_id", app_id},
                                             {"seller_id", seller_id},
                                             {"out_trade_no", "ALI-1"},
                                             {"method", "alipay.trade.page.pay.return"},
                                             {"total_amount", "9159.98"},
                                             {"trade_no", "2024000000000000000000000001"},
                                             {"timestamp", "2024-06-21 16:37:00"},
                                             {"charset", "utf-8"}, {"version", "1.0"}});
  r = c.request("GET", url("/return/alipay/sandbox?" + ret), {}, "", 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("ALI-1: PARTIALLY_REFUNDED"), std::string::npos) << r.body;
  std::string forged_return = ret;
  forged_return.replace(forged_return.find("ALI-1"), 5, "ALI-2");
  r = c.request("GET", url("/return/alipay/sandbox?" + forged_return), {}, "", 5s);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(c.request("GET", url("/return/alipay/nobody?" + ret), {}, "", 5s).status, 404);
  EXPECT_EQ(stop(SIGTERM), 0);
  // N0 (noop), N1 (applied), N3 (applied); N2 repeats N1's business fact and is not stored.
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE provider = 'alipay'"), 3);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE status = 'noop'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE status = 'applied'"), 2);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.paid'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'refund.succeeded'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT amount FROM refunds WHERE out_refund_no = 'RF-1'"), 10000);
}

std::string v2_xml(const std::vector<std::pair<std::string, std::string>>& params,
                   const std::string& root = "xml") {
  std::string x = "<" + root + ">";
  for (const auto& [k, v] : params) x += "<" + k + "><![CDATA[" + v + "]]></" + k + ">";
  return x + "</" + root + ">";
}

// WeChat Pay APIv2 on the same pipeline: signed XML payment results, encrypted refund results,
// the XML SUCCESS form only after commit.
TEST_F(Gateway, WechatpayV2NotificationsEndToEnd) {
  auto sb = paygate::sim::load_sandbox(dir_.string());
  ASSERT_TRUE(sb);
  const std::string api_key = sb->apiv2_key, mchid = sb->mchid, appid = sb->appid;
  ASSERT_EQ(api_key.size(), 32u);
  start();
  ASSERT_EQ(api("POST", "/v1/orders",
                json{{"merchant", "sandbox"}, {"out_trade_no", "V2-1"}, {"amount", 72288}}.dump())
                .status,
            201);
  paygate::sim::HttpClient c;
  auto post = [&](const std::string& body) {
    return c.request("POST", url("/notify/wechatpay/v2/sandbox"),
                     {{"Content-Type", "text/xml"}}, body, 5s);
  };
  using paygate::providers::wechatpay_v2::SignType;
  std::vector<std::pair<std::string, std::string>> pay = {
      {"return_code", "SUCCESS"}, {"result_code", "SUCCESS"},   {"appid", appid},
      {"mch_id", mchid},          {"nonce_str", "n1"},          {"out_trade_no", "V2-1"},
      {"total_fee", "72288"},     {"fee_type", "CNY"},          {"time_end", "20240601123456"},
      {"transaction_id", "4200072461636045317385856820"},       {"sign_type", "HMAC-SHA256"},
      {"attach", "a=1&b=<2>"}};
  auto signed_pay = pay;
  signed_pay.emplace_back("sign", paygate::providers::wechatpay_v2::sign(pay, api_key,
                                                                         SignType::kHmacSha256));
  const std::string success =
      "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";
  auto r = post(v2_xml(signed_pay));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, success);
  EXPECT_EQ(post(v2_xml(signed_pay)).body, success);  // duplicate
  auto forged = signed_pay;
  forged[6].second = "1";  // total_fee
  r = post(v2_xml(forged));
  EXPECT_NE(r.status, 200);
  EXPECT_NE(r.body.find("FAIL"), std::string::npos);
  r = post("<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><a>&x;</a></xml>");
  EXPECT_EQ(r.status, 400);

  // Refund result: req_info under AES-256-ECB with the MD5 of the API key.
  const std::string inner = v2_xml({{"out_trade_no", "V2-1"}, {"out_refund_no", "R-1"},
                                    {"refund_id", "5000"}, {"transaction_id", "4200072461636045317385856820"},
                                    {"total_fee", "72288"}, {"refund_fee", "288"},
                                    {"refund_status", "SUCCESS"},
                                    {"success_time", "2024-06-01 16:24:13"}},
                                   "root");
  const auto key = paygate::crypto::hex_lower(paygate::crypto::md5(api_key));
  const auto req_info = paygate::crypto::base64_encode(*paygate::crypto::aes256ecb_encrypt(key, inner));
  const std::string refund = v2_xml({{"return_code", "SUCCESS"}, {"appid", appid},
                                     {"mch_id", mchid}, {"nonce_str", "n2"},
                                     {"req_info", req_info}});
  r = post(refund);
  EXPECT_EQ(r.body, success);
  const auto wrong = paygate::crypto::base64_encode(
      *paygate::crypto::aes256ecb_encrypt(std::string(32, 'x'), inner));
  r = post(v2_xml({{"return_code", "SUCCESS"}, {"appid", appid},
                   {"mch_id", mchid}, {"nonce_str", "n3"}, {"req_info", wrong}}));
  EXPECT_NE(r.status, 200);

  auto order = json::parse(api("GET", "/v1/orders/sandbox/V2-1").body);
  EXPECT_EQ(order["state"], "PARTIALLY_REFUNDED");
  EXPECT_EQ(order["refunded"], 288);
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE provider = 'wechatpay_v2'"), 2);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox"), 2);
}

// WeChat Official Account: URL verification, plaintext and safe-mode messages stored once in
// the inbox with an outbox event each, `success` only after the commit.
TEST_F(Gateway, WechatMpMessagesEndToEnd) {
  namespace mp = paygate::providers::wechat_mp;
  auto sb = paygate::sim::load_sandbox(dir_.string());
  ASSERT_TRUE(sb);
  const std::string token = sb->mp_token, encoding = sb->mp_encoding_aes_key, appid = sb->appid;
  start();
  paygate::sim::HttpClient c;
  const std::string ts = std::to_string(std::time(nullptr));
  const std::string nonce = "8461502677";
  const std::string sig = mp::signature({token, ts, nonce});
  const std::string q = "?signature=" + sig + "&timestamp=" + ts + "&nonce=" + nonce;

  auto r = c.request("GET", url("/wechat/mp/sandbox" + q + "&echostr=2654452625733708346"), {}, "", 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "2654452625733708346");
  r = c.request("GET", url("/wechat/mp/sandbox?signature=00&timestamp=" + ts + "&nonce=1&echostr=x"),
                {}, "", 5s);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, "");

  const std::string text_msg =
      "<xml><ToUserName><![CDATA[gh_49c0324fea4b]]></ToUserName><FromUserName><![CDATA[o_user_1]]>"
      "</FromUserName><CreateTime>" + ts + "</CreateTime><MsgType><![CDATA[text]]></MsgType>"
      "<Content><![CDATA[你好 hello]]></Content><MsgId>2596366617435504470</MsgId></xml>";
  r = c.request("POST", url("/wechat/mp/sandbox" + q + "&openid=o_user_1"), {}, text_msg, 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "success");
  // WeChat's retry of the same message: acknowledged, stored once.
  EXPECT_EQ(c.request("POST", url("/wechat/mp/sandbox" + q), {}, text_msg, 5s).body, "success");
  // The captured signed query with another plaintext body (the signature does not cover the
  // body in plaintext mode): refused, nothing stored.
  std::string forged = text_msg;
  forged.replace(forged.find("2596366617435504470"), 19, "2596366617435504471");
  EXPECT_EQ(c.request("POST", url("/wechat/mp/sandbox" + q), {}, forged, 5s).status, 401);

  // Safe mode: an event, encrypted and signed with msg_signature.
  const std::string event_msg =
      "<xml><ToUserName><![CDATA[gh_49c0324fea4b]]></ToUserName><FromUserName><![CDATA[o_user_1]]>"
      "</FromUserName><CreateTime>" + ts + "</CreateTime><MsgType><![CDATA[event]]></MsgType>"
      "<Event><![CDATA[subscribe]]></Event></xml>";
  const auto key = *mp::aes_key(encoding);
  const auto enc = *mp::encrypt_message(key, std::string(16, 'r'), event_msg, appid);
  const std::string body = "<xml><ToUserName><![CDATA[gh_49c0324fea4b]]></ToUserName><Encrypt><![CDATA[" +
                           enc + "]]></Encrypt></xml>";
  const std::string safe_q = q + "&encrypt_type=aes&msg_signature=" + mp::signature({token, ts, nonce, enc});
  r = c.request("POST", url("/wechat/mp/sandbox" + safe_q), {}, body, 5s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "success");
  // Another account's appid inside the ciphertext is refused.
  const auto other = *mp::encrypt_message(key, std::string(16, 'r'), event_msg, "wx_other");
  r = c.request("POST", url("/wechat/mp/sandbox" + q + "&encrypt_type=aes&msg_signature=" +
                            mp::signature({token, ts, nonce, other})),
                {}, "<xml><Encrypt><![CDATA[" + other + "]]></Encrypt></xml>", 5s);
  EXPECT_EQ(r.status, 401);
  // A stale signature (captured long ago) is refused.
  const std::string old_ts = std::to_string(std::time(nullptr) - 3600);
  r = c.request("POST", url("/wechat/mp/sandbox?signature=" + mp::signature({token, old_ts, nonce}) +
                            "&timestamp=" + old_ts + "&nonce=" + nonce),
                {}, text_msg, 5s);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(c.request("POST", url("/wechat/mp/nobody" + q), {}, text_msg, 5s).status, 404);

  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE provider = 'wechat_mp'"), 2);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'wechat_mp.message'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'wechat_mp.event'"), 1);
  // Message contents stay out of the log.
  EXPECT_EQ(slurp(dir_ / "server.log").find("hello"), std::string::npos);
}

// All three payment providers at once, with duplicates, concurrent duplicates and tampered
// copies: every order paid exactly once, per provider, nothing faulty accepted.
TEST_F(Gateway, MixedProviderLoad) {
  start();
  const int kOrders = 300;
  const std::vector<std::string> providers = {"wechatpay-v3", "wechatpay-v2", "alipay"};
  std::vector<pid_t> sims;
  for (const auto& p : providers) {
    register_orders("M" + p, kOrders);
    sims.push_back(sim_pay("M" + p, kOrders,
                           {"--provider", p, "--concurrency", "8", "--fault", "duplicate",
                            "--fault", "concurrent-duplicate", "--fault", "tampered",
                            "--time-scale", "0.005"},
                           (dir_ / ("mixed-" + p + ".json")).string()));
  }
  for (std::size_t i = 0; i < sims.size(); ++i) {
    SCOPED_TRACE(providers[i]);
    EXPECT_EQ(wait_exit(sims[i]), 0) << slurp(dir_ / "sim.log");
    auto rep = json::parse(slurp(dir_ / ("mixed-" + providers[i] + ".json")));
    EXPECT_EQ(rep["acked"], kOrders);
    EXPECT_EQ(rep["faulty_accepted"], 0);
    EXPECT_EQ(rep["faulty_rejected"], kOrders);
    EXPECT_EQ(rep["duplicate_not_acked"], 0);
  }
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), 3 * kOrders);
  for (const char* p : {"wechatpay_v3", "wechatpay_v2", "alipay"}) {
    SCOPED_TRACE(p);
    EXPECT_EQ(scalar(db(), std::string("SELECT COUNT(*) FROM inbox WHERE status = 'applied' AND "
                                       "provider = '") + p + "'"),
              kOrders);
  }
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.paid'"),
            3 * kOrders);
}

// The crash drill for Alipay and WeChat Pay APIv2 together: kill -9 under load, restart; each
// simulator retries on its provider's (time-scaled) schedule.
pid_t sim_message(const std::string& dir, std::vector<std::string> extra, const std::string& report) {
  std::vector<std::string> args = {kBin, "sim", "message", "--dir", dir, "--report", report};
  args.insert(args.end(), extra.begin(), extra.end());
  return spawn(args, dir + "/sim.log");
}

// All four providers at once while the gateway is killed: the payment providers retry on
// their (time-scaled) schedules until acknowledged; the Official Account server gives up after
// 3 tries as WeChat does, so only its acknowledged messages are checked.
TEST_F(Gateway, CrashDrillAllProvidersInOneRunLoseNothing) {
  start();
  const int kOrders = 200;
  const int kMessages = 150;
  const std::vector<std::pair<std::string, std::string>> payers = {
      {"CA", "alipay"}, {"CB", "wechatpay-v2"}, {"CC", "wechatpay-v3"}};
  std::vector<pid_t> sims;
  for (const auto& [prefix, provider] : payers) {
    register_orders(prefix, kOrders);
    sims.push_back(sim_pay(prefix, kOrders,
                           {"--provider", provider, "--concurrency", "6", "--fault",
                            "concurrent-duplicate", "--time-scale", "0.005"},
                           (dir_ / ("crash-" + provider + ".json")).string()));
  }
  pid_t mp = sim_message(dir_.string(),
                         {"--count", std::to_string(kMessages), "--concurrency", "4",
                          "--time-scale", "0.01"},
                         (dir_ / "crash-mp.json").string());
  std::mt19937 rng(777);
  int kills = 0;
  for (; kills < 5; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(80 + rng() % 200));
    stop(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 150));
    start();
  }
  for (pid_t p : sims) EXPECT_EQ(wait_exit(p), 0) << slurp(dir_ / "sim.log");
  wait_exit(mp);  // may exit 1: messages that saw only dead gateways are given up
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_GE(kills, 5);
  for (const auto& [prefix, provider] : payers) {
    auto rep = json::parse(slurp(dir_ / ("crash-" + provider + ".json")));
    EXPECT_EQ(rep["acked"], kOrders) << provider;
    for (const auto& d : rep["deliveries"]) {
      if (!d["acked"].get<bool>()) continue;
      EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE notification_id = '" +
                                 d["id"].get<std::string>() + "'"),
                1)
          << provider;
    }
  }
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), 3 * kOrders);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE provider <> 'wechat_mp'"),
            3 * kOrders);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.paid'"),
            3 * kOrders);
  auto rep = json::parse(slurp(dir_ / "crash-mp.json"));
  int acked = 0;
  for (const auto& d : rep["deliveries"]) {
    if (!d["acked"].get<bool>()) continue;
    ++acked;
    EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE provider = 'wechat_mp' AND "
                           "notification_id = '" + d["id"].get<std::string>() + "'"),
              1);
  }
  EXPECT_GT(acked, 0);
  // One outbox event per stored message, none for what was not stored.
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE provider = 'wechat_mp'"),
            scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type LIKE 'wechat_mp.%'"));
}


// Official Account messages from the simulator: plaintext with duplicates and stale copies,
// safe-mode events with tampered copies; each stored once with one outbox event.
TEST_F(Gateway, WechatMpSimulatorWithFaults) {
  start();
  const int kEach = 150;
  pid_t text = sim_message(dir_.string(),
                           {"--count", std::to_string(kEach), "--fault", "duplicate", "--fault",
                            "concurrent-duplicate", "--fault", "stale", "--time-scale", "0.01"},
                           (dir_ / "mp-text.json").string());
  pid_t events = sim_message(dir_.string(),
                             {"--count", std::to_string(kEach), "--event", "--safe-mode",
                              "--fault", "tampered", "--fault", "duplicate", "--time-scale",
                              "0.01"},
                             (dir_ / "mp-events.json").string());
  EXPECT_EQ(wait_exit(text), 0) << slurp(dir_ / "sim.log");
  EXPECT_EQ(wait_exit(events), 0) << slurp(dir_ / "sim.log");
  for (const char* r : {"mp-text.json", "mp-events.json"}) {
    SCOPED_TRACE(r);
    auto rep = json::parse(slurp(dir_ / r));
    EXPECT_EQ(rep["acked"], kEach);
    EXPECT_EQ(rep["faulty_accepted"], 0);
    EXPECT_EQ(rep["faulty_rejected"], kEach);
    EXPECT_EQ(rep["duplicate_not_acked"], 0);
  }
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE provider = 'wechat_mp'"), 2 * kEach);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'wechat_mp.message'"), kEach);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'wechat_mp.event'"), kEach);
}

// kill -9 while the Official Account pushes messages (3 attempts each, as WeChat): whatever
// was acknowledged is stored exactly once.
TEST_F(Gateway, CrashDrillWechatMpKeepsEveryAcknowledgedMessage) {
  start();
  const int kMessages = 300;
  const auto report = (dir_ / "mp-crash.json").string();
  pid_t sim = sim_message(dir_.string(),
                          {"--count", std::to_string(kMessages), "--safe-mode", "--fault",
                           "concurrent-duplicate", "--time-scale", "0.05"},
                          report);
  std::mt19937 rng(4242);
  int kills = 0;
  for (; kills < 5; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60 + rng() % 120));
    stop(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 80));
    start();
  }
  wait_exit(sim);  // messages WeChat gave up on after 3 attempts make it exit non-zero
  EXPECT_EQ(stop(SIGTERM), 0);
  auto rep = json::parse(slurp(report));
  EXPECT_GT(rep["acked"].get<int>(), 0);
  // The kills landed under load: some first attempts failed and were retried.
  EXPECT_GT(rep["requests"].get<int>(), 2 * kMessages);
  int acked = 0;
  for (const auto& d : rep["deliveries"]) {
    if (!d["acked"].get<bool>()) continue;
    ++acked;
    EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE notification_id = '" +
                               d["id"].get<std::string>() + "'"),
              1);
  }
  EXPECT_EQ(acked, rep["acked"].get<int>());
  // Nothing stored twice, and every stored message has its outbox event.
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"),
            scalar(db(), "SELECT COUNT(DISTINCT notification_id) FROM inbox"));
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), scalar(db(), "SELECT COUNT(*) FROM outbox"));
  EXPECT_GE(scalar(db(), "SELECT COUNT(*) FROM inbox"), acked);
}

// APIv2 refund results from the simulator: encrypted req_info, duplicates without a second
// effect, a tampered copy refused.
TEST_F(Gateway, WechatpayV2RefundFromSimulator) {
  start();
  register_orders("R2", 1);
  EXPECT_EQ(wait_exit(sim_pay("R2-000001", 1, {"--provider", "wechatpay-v2"},
                              (dir_ / "pay.json").string())),
            0)
      << slurp(dir_ / "sim.log");
  const auto report = (dir_ / "refund.json").string();
  pid_t refund = spawn({kBin, "sim", "refund", "--dir", dir_.string(), "--provider",
                        "wechatpay-v2", "--out-trade-no", "R2-000001", "--out-refund-no",
                        "RF-9", "--amount", "100", "--refund", "30", "--fault", "duplicate",
                        "--fault", "tampered", "--report", report},
                       (dir_ / "sim.log").string());
  EXPECT_EQ(wait_exit(refund), 0) << slurp(dir_ / "sim.log");
  auto rep = json::parse(slurp(report));
  EXPECT_EQ(rep["acked"], 1);
  EXPECT_EQ(rep["faulty_rejected"], 1);
  EXPECT_EQ(rep["duplicate_not_acked"], 0);
  auto order = json::parse(api("GET", "/v1/orders/sandbox/R2-000001").body);
  EXPECT_EQ(order["state"], "PARTIALLY_REFUNDED");
  EXPECT_EQ(order["refunded"], 30);
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'refund.succeeded'"), 1);
}

// Alipay refunds and closes from the simulator: refunded totals as Alipay reports them (a
// second report of 30 after 30 changes nothing), a full refund closing the trade, and a
// TRADE_CLOSED for an unpaid order.
TEST_F(Gateway, AlipayRefundAndCloseFromSimulator) {
  start();
  register_orders("RA", 2);
  ASSERT_EQ(wait_exit(sim_pay("RA-000001", 1, {"--provider", "alipay"},
                              (dir_ / "pay.json").string())),
            0)
      << slurp(dir_ / "sim.log");
  auto refund = [&](const std::string& no, const std::string& total, const std::string& extra) {
    std::vector<std::string> args = {kBin, "sim", "refund", "--dir", dir_.string(), "--provider",
                                     "alipay", "--out-trade-no", "RA-000001", "--out-refund-no",
                                     no, "--amount", "100", "--refund", total, "--report",
                                     (dir_ / ("refund-" + no + ".json")).string()};
    if (!extra.empty()) {
      args.push_back("--fault");
      args.push_back(extra);
    }
    return wait_exit(spawn(args, (dir_ / "sim.log").string()));
  };
  EXPECT_EQ(refund("RF-1", "30", "tampered"), 0) << slurp(dir_ / "sim.log");
  auto order = json::parse(api("GET", "/v1/orders/sandbox/RA-000001").body);
  EXPECT_EQ(order["state"], "PARTIALLY_REFUNDED");
  EXPECT_EQ(order["refunded"], 30);
  EXPECT_EQ(refund("RF-2", "100", "duplicate"), 0) << slurp(dir_ / "sim.log");
  order = json::parse(api("GET", "/v1/orders/sandbox/RA-000001").body);
  EXPECT_EQ(order["state"], "REFUNDED");
  EXPECT_EQ(order["refunded"], 100);

  pid_t close = spawn({kBin, "sim", "close", "--dir", dir_.string(), "--out-trade-no",
                       "RA-000002", "--amount", "100", "--report",
                       (dir_ / "close.json").string()},
                      (dir_ / "sim.log").string());
  EXPECT_EQ(wait_exit(close), 0) << slurp(dir_ / "sim.log");
  EXPECT_EQ(json::parse(slurp(dir_ / "close.json"))["acked"], 1);
  order = json::parse(api("GET", "/v1/orders/sandbox/RA-000002").body);
  EXPECT_EQ(order["state"], "CLOSED");
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'refund.succeeded'"), 2);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.closed'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE status = 'anomaly'"), 0);
}

// Every notification vector through the `paygate verify` command line.
TEST(VerifyCli, EveryNotificationVector) {
  std::ifstream in(std::string(PAYGATE_VECTORS_DIR) + "/wechatpay_v3_notify.json");
  json doc = json::parse(in);
  const fs::path dir = fs::temp_directory_path() / ("paygate-verify-" + std::to_string(getpid()));
  fs::create_directories(dir);
  int seen = 0;
  for (const auto& v : doc["vectors"]) {
    if (v["kind"] != "notification") continue;
    ++seen;
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& inp = v["inputs"];
    {
      std::ofstream h(dir / "headers");
      for (auto& [k, val] : inp["headers"].items()) h << k << ": " << val.get<std::string>() << "\n";
      std::ofstream(dir / "body", std::ios::binary) << inp["body"].get<std::string>();
      std::ofstream(dir / "apiv3") << inp["apiv3_key"].get<std::string>();
    }
    std::vector<std::string> args = {kBin, "verify", "wechatpay-v3", "--headers",
                                     (dir / "headers").string(), "--body", (dir / "body").string(),
                                     "--apiv3-key-file", (dir / "apiv3").string(), "--now",
                                     std::to_string(inp["now_unix"].get<int64_t>())};
    int k = 0;
    for (const auto& key : inp["trusted_keys"]) {
      const auto pem = dir / ("key" + std::to_string(k++) + ".pem");
      std::ofstream(pem) << (key.contains("certificate_pem") ? key["certificate_pem"]
                                                             : key["public_key_pem"])
                                .get<std::string>();
      args.push_back("--key");
      args.push_back(key["serial"].get<std::string>() + "=" + pem.string());
    }
    const auto out = dir / "out.json";
    pid_t pid = spawn(args, (dir / "verify.log").string(), out.string());
    const int rc = wait_exit(pid);
    const auto& exp = v["expected"];
    EXPECT_EQ(rc, exp["accept"].get<bool>() ? 0 : 1);
    auto report = json::parse(slurp(out));
    EXPECT_EQ(report["accepted"], exp["accept"]);
    EXPECT_EQ(report["checks"]["serial_found"], exp["serial_known"]);
    EXPECT_EQ(report["checks"]["timestamp_in_window"], exp["timestamp_within_skew"]);
    EXPECT_EQ(report["checks"]["signature_valid"], exp["signature_valid"]);
    EXPECT_EQ(report["checks"]["decrypted"], exp["decrypt_ok"]);
    if (exp["decrypt_ok"].get<bool>()) {
      EXPECT_EQ(report["resource"], exp["plaintext_json"]);
    }
  }
  EXPECT_EQ(seen, 17);
  // Usage errors exit 2.
  EXPECT_EQ(wait_exit(spawn({kBin, "verify", "wechatpay-v3", "--headers", "/nonexistent",
                             "--body", "/nonexistent", "--key", "x=/nonexistent",
                             "--apiv3-key-file", "/nonexistent"},
                            (dir / "err.log").string())),
            2);
  fs::remove_all(dir);
}

// Every Alipay async-notify vector through `paygate verify alipay`.
// `paygate sign wechatpay-v3` reproduces every request vector's Authorization and every
// pay-sign; `verify wechatpay-v3 --response` judges every answer vector as expected.
TEST(SignCli, EveryWechatpayV3RequestAndPaySignVector) {
  const auto doc = json::parse(
      slurp(fs::path(PAYGATE_VECTORS_DIR) / "wechatpay_v3_request_sign.json"));
  const fs::path dir = fs::temp_directory_path() / ("paygate-sign-" + std::to_string(getpid()));
  fs::create_directories(dir);
  int requests = 0, pay_signs = 0, answers = 0;
  for (const auto& v : doc["vectors"]) {
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& in = v["inputs"];
    const auto& exp = v["expected"];
    const auto out = dir / "out.json";
    if (v["kind"] == "request_signature" || v["kind"] == "request_signature_negative") {
      ++requests;
      std::ofstream(dir / "key.pem") << in["merchant_private_key_pem"].get<std::string>();
      auto sign = [&](const std::string& body) {
        std::ofstream(dir / "body", std::ios::binary) << body;
        const int rc = wait_exit(spawn(
            {kBin, "sign", "wechatpay-v3", "--method", in["method"], "--url",
             in["url_path_and_query"], "--body", (dir / "body").string(), "--mchid", in["mchid"],
             "--serial-no", in["merchant_serial_no"], "--key-file", (dir / "key.pem").string(),
             "--timestamp", in["timestamp"], "--nonce", in["nonce_str"]},
            (dir / "log").string(), out.string()));
        EXPECT_EQ(rc, 0) << slurp(dir / "log");
        return json::parse(slurp(out));
      };
      auto report = sign(in["body"].get<std::string>());
      EXPECT_EQ(report["signed_text"], exp["signed_message"]);
      const std::string want = "signature=\"" + exp["signature"].get<std::string>() + "\"";
      EXPECT_NE(report["authorization"].get<std::string>().find(want), std::string::npos);
      if (in.contains("body_actually_sent")) {
        // A re-serialised body is another signature: what SIGN_ERROR means.
        auto other = sign(in["body_actually_sent"].get<std::string>());
        EXPECT_EQ(other["authorization"].get<std::string>().find(want), std::string::npos);
      }
    } else if (v["kind"] == "jsapi_pay_sign" || v["kind"] == "app_pay_sign") {
      ++pay_signs;
      std::ofstream(dir / "key.pem") << in["merchant_private_key_pem"].get<std::string>();
      const bool app = v["kind"] == "app_pay_sign";
      const int rc = wait_exit(spawn(
          {kBin, "sign", "wechatpay-v3", "--method", "GET", "--url", "/", "--mchid", in["mchid"],
           "--serial-no", "00", "--key-file", (dir / "key.pem").string(), "--timestamp",
           in["timestamp"], "--nonce", in["nonce_str"], "--pay-sign", app ? "app" : "jsapi",
           "--appid", in["appid"], "--prepay-id", in["prepay_id"]},
          (dir / "log").string(), out.string()));
      ASSERT_EQ(rc, 0) << slurp(dir / "log");
      auto report = json::parse(slurp(out));
      EXPECT_EQ(report["pay_sign_text"], exp["signed_message"]);
      EXPECT_EQ(report["pay_params"], exp["client_params"]);
    } else if (v["kind"] == "response_signature") {
      ++answers;
      {
        std::ofstream h(dir / "headers");
        for (auto& [k, val] : in["headers"].items()) h << k << ": " << val.get<std::string>() << "\n";
      }
      std::ofstream(dir / "body", std::ios::binary) << in["body"].get<std::string>();
      std::vector<std::string> args = {kBin, "verify", "wechatpay-v3", "--response", "--headers",
                                       (dir / "headers").string(), "--body",
                                       (dir / "body").string(), "--now",
                                       std::to_string(in["now_unix"].get<int64_t>())};
      int k = 0;
      for (const auto& key : in["trusted_keys"]) {
        const auto pem = dir / ("trusted" + std::to_string(k++) + ".pem");
        std::ofstream(pem) << (key.contains("certificate_pem") ? key["certificate_pem"]
                                                               : key["public_key_pem"])
                                  .get<std::string>();
        args.push_back("--key");
        args.push_back(key["serial"].get<std::string>() + "=" + pem.string());
      }
      const int rc = wait_exit(spawn(args, (dir / "log").string(), out.string()));
      EXPECT_EQ(rc, exp["accept"].get<bool>() ? 0 : 1) << slurp(dir / "log");
      auto report = json::parse(slurp(out));
      EXPECT_EQ(report["accepted"], exp["accept"]);
      EXPECT_EQ(report["checks"]["signature_valid"], exp["signature_valid"]);
      EXPECT_EQ(report["signed_text"], exp["signed_message"]);
    }
  }
  EXPECT_EQ(requests, 13);
  EXPECT_EQ(pay_signs, 3);
  EXPECT_EQ(answers, 4);
  // The APIv2 key is part of what is signed, never of what is printed.
  std::ofstream(dir / "apiv2") << "192006250b4c09247ec02edce69f6a2d\n";
  const auto out = dir / "out.json";
  ASSERT_EQ(wait_exit(spawn({kBin, "sign", "wechatpay-v2", "--param", "appid=wxd930ea5d5a258f4f",
                             "--param", "mch_id=10000100", "--param", "body=test", "--param",
                             "nonce_str=ibuaiVcKdpRxkhJA", "--param", "device_info=1000",
                             "--api-key-file", (dir / "apiv2").string()},
                            (dir / "log").string(), out.string())),
            0);
  auto v2 = json::parse(slurp(out));
  // The example of WeChat Pay's APIv2 signature page.
  EXPECT_EQ(v2["sign"], "9A0A8659F005D6984697E2CA0A9CF3B7");
  EXPECT_EQ(slurp(out).find("192006250b4c09247ec02edce69f6a2d"), std::string::npos);
  EXPECT_EQ(wait_exit(spawn({kBin, "sign", "wechatpay-v3", "--url", "/x", "--mchid", "1",
                             "--serial-no", "1", "--key-file", "/nonexistent"},
                            (dir / "log").string())),
            2);
  fs::remove_all(dir);
}

// `paygate sign alipay` and `verify alipay --response` on every gateway vector.
TEST(SignCli, EveryAlipayGatewayVector) {
  const auto doc = json::parse(slurp(fs::path(PAYGATE_VECTORS_DIR) / "alipay_request_sign.json"));
  const fs::path dir = fs::temp_directory_path() / ("paygate-sign-ali-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const auto out = dir / "out.json";
  int requests = 0, answers = 0;
  for (const auto& v : doc["vectors"]) {
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& in = v["inputs"];
    const auto& exp = v["expected"];
    if (v["kind"] == "request_sign") {
      ++requests;
      std::ofstream(dir / "key.pem") << in["app_private_key_pem"].get<std::string>();
      std::vector<std::string> args = {kBin, "sign", "alipay", "--key-file", (dir / "key.pem").string()};
      for (const auto& p : in["params_before_sign"].items()) {
        args.push_back("--param");
        args.push_back(p.key() + "=" + p.value().get<std::string>());
      }
      ASSERT_EQ(wait_exit(spawn(args, (dir / "log").string(), out.string())), 0) << slurp(dir / "log");
      auto report = json::parse(slurp(out));
      EXPECT_EQ(report["signed_text"], exp["sign_content"]);
      EXPECT_EQ(report["sign"], exp["sign"]);
    } else if (v["kind"] == "response_verify") {
      ++answers;
      std::ofstream(dir / "body", std::ios::binary) << in["raw_response_text"].get<std::string>();
      std::ofstream(dir / "alipay.pem") << in["alipay_public_key_pem"].get<std::string>();
      const int rc = wait_exit(spawn({kBin, "verify", "alipay", "--response", in["method"],
                                      "--body", (dir / "body").string(), "--key",
                                      (dir / "alipay.pem").string()},
                                     (dir / "log").string(), out.string()));
      const bool valid = exp["signature_valid"].get<bool>();
      EXPECT_EQ(rc, valid ? 0 : 1) << slurp(dir / "log");
      auto report = json::parse(slurp(out));
      EXPECT_EQ(report["accepted"], valid);
      EXPECT_EQ(report["signed_text"], exp["signed_content"]);
    }
  }
  EXPECT_EQ(requests, 10);
  EXPECT_EQ(answers, 6);
  fs::remove_all(dir);
}

TEST(VerifyCli, EveryAlipayNotificationVector) {
  std::ifstream in(std::string(PAYGATE_VECTORS_DIR) + "/alipay_notify.json");
  json doc = json::parse(in);
  const fs::path dir = fs::temp_directory_path() / ("paygate-verify-ali-" + std::to_string(getpid()));
  fs::create_directories(dir);
  int seen = 0;
  for (const auto& v : doc["vectors"]) {
    if (v["kind"] != "async_notify") continue;
    ++seen;
    SCOPED_TRACE(v["id"].get<std::string>());
    const auto& inp = v["inputs"];
    std::ofstream(dir / "body", std::ios::binary) << inp["body"].get<std::string>();
    std::ofstream(dir / "key.pem") << (inp.contains("alipay_public_cert_pem")
                                           ? inp["alipay_public_cert_pem"]
                                           : inp["alipay_public_key_pem"])
                                          .get<std::string>();
    const auto out = dir / "out.json";
    const int rc = wait_exit(spawn({kBin, "verify", "alipay", "--body", (dir / "body").string(),
                                    "--key", (dir / "key.pem").string()},
                                   (dir / "verify.log").string(), out.string()));
    const auto& exp = v["expected"];
    EXPECT_EQ(rc, exp["accept"].get<bool>() ? 0 : 1);
    auto report = json::parse(slurp(out));
    EXPECT_EQ(report["accepted"], exp["accept"]);
    EXPECT_EQ(report["checks"]["signature_valid"], exp["signature_valid"]);
    EXPECT_EQ(report["sign_content"], exp["sign_content"]);
  }
  EXPECT_EQ(seen, 12);
  EXPECT_EQ(wait_exit(spawn({kBin, "verify", "alipay", "--body", "/nonexistent", "--key",
                             (dir / "key.pem").string()},
                            (dir / "verify.log").string())),
            2);
  fs::remove_all(dir);
}

// Every APIv2 notification vector and every Official Account message vector through
// `paygate verify`.
TEST(VerifyCli, EveryWechatpayV2AndOfficialAccountVector) {
  const fs::path dir = fs::temp_directory_path() / ("paygate-verify-wx-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto run = [&](std::vector<std::string> args) {
    const auto out = dir / "out.json";
    const int rc = wait_exit(spawn(args, (dir / "verify.log").string(), out.string()));
    return std::pair{rc, json::parse(slurp(out))};
  };
  int seen = 0;
  {
    std::ifstream in(std::string(PAYGATE_VECTORS_DIR) + "/wechatpay_v2_sign.json");
    json doc = json::parse(in);
    for (const auto& v : doc["vectors"]) {
      if (v["kind"] != "notify_verify" && v["kind"] != "refund_notify_decrypt") continue;
      ++seen;
      SCOPED_TRACE(v["id"].get<std::string>());
      std::ofstream(dir / "body", std::ios::binary) << v["inputs"]["http_body_xml"].get<std::string>();
      std::ofstream(dir / "key") << v["inputs"]["api_key"].get<std::string>();
      auto [rc, report] = run({kBin, "verify", "wechatpay-v2", "--body", (dir / "body").string(),
                               "--api-key-file", (dir / "key").string()});
      const auto& exp = v["expected"];
      const bool accept = exp.contains("sign_valid") ? exp["sign_valid"].get<bool>()
                                                     : exp["accept"].get<bool>();
      EXPECT_EQ(rc, accept ? 0 : 1);
      EXPECT_EQ(report["accepted"], accept);
      if (exp.contains("string_a")) {
        EXPECT_EQ(report["string_a"], exp["string_a"]);
      }
      if (exp.contains("decrypt_ok")) {
        EXPECT_EQ(report["checks"]["decrypted"], exp["decrypt_ok"]);
      }
    }
  }
  {
    std::ifstream in(std::string(PAYGATE_VECTORS_DIR) + "/wechat_mp_crypto.json");
    json doc = json::parse(in);
    for (const auto& v : doc["vectors"]) {
      if (v["kind"] != "plaintext_message" && v["kind"] != "safe_mode_inbound") continue;
      ++seen;
      SCOPED_TRACE(v["id"].get<std::string>());
      const auto& inp = v["inputs"];
      std::ofstream(dir / "body", std::ios::binary) << inp["body"].get<std::string>();
      std::ofstream(dir / "token") << inp["token"].get<std::string>();
      std::string query;
      for (auto& [k, val] : inp["query"].items()) {
        query += (query.empty() ? "" : "&") + k + "=" + val.get<std::string>();
      }
      std::vector<std::string> args = {kBin, "verify", "wechat-mp", "--query", query, "--body",
                                       (dir / "body").string(), "--token-file",
                                       (dir / "token").string(), "--now",
                                       inp["query"]["timestamp"].get<std::string>()};
      if (inp.contains("encoding_aes_key")) {
        std::ofstream(dir / "aes") << inp["encoding_aes_key"].get<std::string>();
        args.insert(args.end(), {"--encoding-aes-key-file", (dir / "aes").string(), "--appid",
                                 inp["appid"].get<std::string>()});
      }
      auto [rc, report] = run(args);
      const auto& exp = v["expected"];
      const bool accept = exp.contains("accept") ? exp["accept"].get<bool>()
                                                 : exp["signature_valid"].get<bool>();
      EXPECT_EQ(rc, accept ? 0 : 1);
      EXPECT_EQ(report["accepted"], accept);
      if (exp.contains("msg_signature_valid")) {
        EXPECT_EQ(report["checks"]["msg_signature_valid"], exp["msg_signature_valid"]);
        EXPECT_EQ(report["checks"]["decrypted"],
                  exp["decrypt_ok"].get<bool>() && exp["appid_matches"].get<bool>());
      }
      if (exp.contains("dedupe_key")) {
        EXPECT_EQ(report["message"]["dedupe_key"], exp["dedupe_key"]);
      }
    }
  }
  EXPECT_EQ(seen, 16);
  EXPECT_EQ(wait_exit(spawn({kBin, "verify", "wechat-mp", "--query", "a=%", "--body",
                             (dir / "body").string(), "--token-file", (dir / "token").string()},
                            (dir / "verify.log").string())),
            2);
  fs::remove_all(dir);
}

}  // namespace

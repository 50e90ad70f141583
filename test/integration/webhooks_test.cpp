// Merchant webhooks end to end: the real gateway delivers to `paygate sim receiver` processes
// on loopback, which verify every signature.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "support/gateway.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using paygate::testing::Gateway;
using paygate::testing::kBin;
using paygate::testing::scalar;
using paygate::testing::slurp;
using paygate::testing::spawn;
using paygate::testing::wait_exit;

struct Receiver {
  pid_t pid = 0;
  int port = 0;
  fs::path out;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hooks"; }
};

class Webhooks : public Gateway {
 protected:
  void SetUp() override {
    Gateway::SetUp();
    secret_ = "whsec_" + paygate::crypto::base64_encode(paygate::crypto::random_bytes(32));
    std::ofstream(dir_ / "whsec") << secret_ << "\n";
    fs::permissions(dir_ / "whsec", fs::perms::owner_read | fs::perms::owner_write);
  }
  void TearDown() override {
    for (auto& [name, r] : receivers_) stop_receiver(name);
    Gateway::TearDown();
  }

  Receiver& start_receiver(const std::string& name, std::vector<std::string> extra = {}) {
    stop_receiver(name);
    Receiver r;
    r.out = dir_ / (name + ".jsonl");
    const fs::path port_file = dir_ / (name + ".port");
    fs::remove(port_file);
    // Reuse the port of an earlier run of this receiver so the configured URL stays valid.
    const int port = ports_.count(name) ? ports_[name] : 0;
    std::vector<std::string> args = {kBin,           "sim",
                                     "receiver",     "--listen",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--port-file",  port_file.string(),
                                     "--secret-file", (dir_ / "whsec").string(),
                                     "--out",        r.out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    r.pid = spawn(args, (dir_ / (name + ".log")).string());
    EXPECT_TRUE(paygate::testing::wait_for_file(port_file, 5s)) << slurp(dir_ / (name + ".log"));
    r.port = std::stoi(slurp(port_file));
    ports_[name] = r.port;
    receivers_[name] = r;
    return receivers_[name];
  }
  void stop_receiver(const std::string& name) {
    auto it = receivers_.find(name);
    if (it == receivers_.end() || it->second.pid <= 0) return;
    kill(it->second.pid, SIGTERM);
    wait_exit(it->second.pid);
    it->second.pid = 0;
  }

  // Appends [webhooks] and one [[merchant.webhooks]] per endpoint to the sandbox config.
  void configure(const std::vector<std::pair<std::string, std::string>>& endpoints,
                 const std::string& schedule = "[1, 1, 1, 1, 1]", int window = 0,
                 const std::string& extra = "") {
    std::ofstream cfg(dir_ / "paygate.toml", std::ios::app);
    cfg << "\n[webhooks]\nallow_private_addresses = true\nallow_insecure_http = true\n"
        << "retry_schedule_seconds = " << schedule
        << "\nretry_window_seconds = " << window << "\npoll_ms = 20\n";
    for (const auto& [id, url] : endpoints) {
      cfg << "\n[[merchant.webhooks]]\nid = \"" << id << "\"\nurl = \"" << url
          << "\"\nsecret_file = \"whsec\"\n"
          << extra << "\n";
    }
  }

  static std::vector<json> receipts(const fs::path& out) {
    std::vector<json> lines;
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) lines.push_back(json::parse(line));
    }
    return lines;
  }

  static bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (done()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return done();
  }

  int64_t delivered() { return scalar(db(), "SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'"); }

  std::string secret_;
  std::map<std::string, Receiver> receivers_;
  std::map<std::string, int> ports_;
};

TEST_F(Webhooks, ThousandPaidOrdersThousandVerifiedDeliveries) {
  auto& rx = start_receiver("shop");
  configure({{"shop", rx.url()}});
  start();
  register_orders("W", 1000);
  const auto report = (dir_ / "pay.json").string();
  ASSERT_EQ(wait_exit(sim_pay("W", 1000,
                              {"--concurrency", "16", "--fault", "duplicate", "--time-scale", "0.01"},
                              report)),
            0)
      << slurp(dir_ / "sim.log");
  ASSERT_TRUE(wait_until([&] { return delivered() == 1000; }, 60s))
      << delivered() << " delivered\n" << slurp(dir_ / "server.log").substr(0, 4000);
  const std::string metrics = paygate::sim::HttpClient().request("GET", url("/metrics"), {}, "", 5s).body;
  EXPECT_NE(metrics.find("paygate_webhook_attempts_total{endpoint=\"shop\",outcome=\"2xx\"} 1000\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("paygate_webhook_deliveries{status=\"pending\"} 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("paygate_outbox_pending 0\n"), std::string::npos);
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(slurp(dir_ / "server.log").find(secret_.substr(6)), std::string::npos)
      << "the webhook secret reached the log";
  const auto lines = receipts(rx.out);
  std::set<std::string> ids, orders;
  for (const auto& l : lines) {
    ASSERT_TRUE(l["verified"].get<bool>()) << l.dump();
    EXPECT_EQ(l["type"], "order.paid");
    ids.insert(l["webhook_id"].get<std::string>());
    orders.insert(l["out_trade_no"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(orders.size(), 1000u);
  EXPECT_EQ(lines.size(), 1000u) << "a healthy receiver gets each event once";
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM deliveries"), 1000);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM delivery_attempts WHERE status = 204"), 1000);
  EXPECT_EQ(scalar(db(), "SELECT value FROM cursors WHERE name = 'routed'"),
            scalar(db(), "SELECT MAX(id) FROM outbox"));
}

TEST_F(Webhooks, FailingReceiverIsRetriedWithTheSameIdUntilItSucceeds) {
  auto& rx = start_receiver("shop", {"--fail", "3", "--fail-status", "503"});
  configure({{"shop", rx.url()}});
  start();
  register_orders("F", 1);
  ASSERT_EQ(wait_exit(sim_pay("F-000001", 1, {}, (dir_ / "pay.json").string())), 0);
  ASSERT_TRUE(wait_until([&] { return delivered() == 1; }, 30s)) << slurp(dir_ / "server.log");
  const auto lines = receipts(rx.out);
  ASSERT_EQ(lines.size(), 4u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["webhook_id"], lines[0]["webhook_id"]);
    EXPECT_EQ(lines[i]["receipt"], static_cast<int>(i + 1));
    EXPECT_EQ(lines[i]["status"], i < 3 ? 503 : 204);
  }
  // Backoff: the schedule's 1 s base with full jitter keeps retries at least 1 s apart.
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_GE(lines[i]["at_ms"].get<int64_t>() - lines[i - 1]["at_ms"].get<int64_t>(), 900);
  }
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM delivery_attempts"), 4);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM delivery_attempts WHERE outcome = '503'"), 3);
  auto ev = api("GET", "/v1/events/1");
  ASSERT_EQ(ev.status, 200) << ev.body;
  auto j = json::parse(ev.body);
  EXPECT_EQ(j["deliveries"][0]["status"], "delivered");
  EXPECT_EQ(j["attempts"].size(), 4u);
  EXPECT_EQ(j["attempts"][0]["status"], 503);
  EXPECT_EQ(j["attempts"][0]["response"], "not now\n");
  EXPECT_EQ(j["data"]["order"]["out_trade_no"], "F-000001");
}

TEST_F(Webhooks, EventsOfOneOrderArriveInWriteOrder) {
  // order.paid fails once; refund.succeeded of the same order must wait for it.
  auto& rx = start_receiver("shop", {"--fail", "1", "--fail-status", "500"});
  configure({{"shop", rx.url()}});
  start();
  register_orders("O", 1);
  ASSERT_EQ(wait_exit(sim_pay("O-000001", 1, {}, (dir_ / "pay.json").string())), 0);
  ASSERT_EQ(wait_exit(spawn({kBin, "sim", "refund", "--dir", dir_.string(), "--out-trade-no",
                             "O-000001", "--amount", "100", "--out-refund-no", "RF-1",
                             "--refund", "30"},
                            (dir_ / "refund.log").string())),
            0)
      << slurp(dir_ / "refund.log");
  ASSERT_TRUE(wait_until([&] { return delivered() == 2; }, 30s)) << slurp(dir_ / "server.log");
  const auto lines = receipts(rx.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["type"], "order.paid");
  EXPECT_EQ(lines[0]["status"], 500);
  EXPECT_EQ(lines[1]["type"], "order.paid");
  EXPECT_EQ(lines[1]["status"], 204);
  EXPECT_EQ(lines[2]["type"], "refund.succeeded");
  EXPECT_EQ(lines[2]["status"], 204);
}

TEST_F(Webhooks, RetryAfterIsHonoured) {
  auto& rx = start_receiver("shop", {"--fail", "1", "--fail-status", "429", "--retry-after", "3"});
  configure({{"shop", rx.url()}});
  start();
  register_orders("R", 1);
  ASSERT_EQ(wait_exit(sim_pay("R-000001", 1, {}, (dir_ / "pay.json").string())), 0);
  ASSERT_TRUE(wait_until([&] { return delivered() == 1; }, 30s)) << slurp(dir_ / "server.log");
  const auto lines = receipts(rx.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["status"], 429);
  // Without Retry-After the next try would come after at most 1 s.
  EXPECT_GE(lines[1]["at_ms"].get<int64_t>() - lines[0]["at_ms"].get<int64_t>(), 2900);
}

TEST_F(Webhooks, GoneDisablesTheEndpointAndHoldsItsEventsUntilEnabled) {
  auto& rx = start_receiver("shop", {"--answer", "410"});
  configure({{"shop", rx.url()}});
  start();
  register_orders("G", 3);
  ASSERT_EQ(wait_exit(sim_pay("G", 3, {}, (dir_ / "pay.json").string())), 0);
  ASSERT_TRUE(wait_until(
      [&] { return scalar(db(), "SELECT COUNT(*) FROM endpoint_state WHERE enabled = 0") == 1; },
      30s));
  std::this_thread::sleep_for(500ms);
  const auto gone = receipts(rx.out).size();
  EXPECT_GE(gone, 1u);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(receipts(rx.out).size(), gone) << "a disabled endpoint gets nothing";
  auto eps = json::parse(api("GET", "/v1/endpoints").body);
  ASSERT_EQ(eps["endpoints"].size(), 1u);
  EXPECT_EQ(eps["endpoints"][0]["enabled"], false);
  EXPECT_EQ(delivered(), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'"), 3);

  start_receiver("shop");  // the merchant fixed its endpoint
  auto en = api("POST", "/v1/endpoints/shop/enable");
  ASSERT_EQ(en.status, 200) << en.body;
  ASSERT_TRUE(wait_until([&] { return delivered() == 3; }, 30s)) << slurp(dir_ / "server.log");
  EXPECT_EQ(json::parse(api("GET", "/v1/endpoints").body)["endpoints"][0]["enabled"], true);
}

TEST_F(Webhooks, DeadLettersAreListedAndReplayed) {
  // Two failures per event exhaust a one-step schedule with no minimum window.
  auto& rx = start_receiver("shop", {"--fail", "4", "--fail-status", "500"});
  configure({{"shop", rx.url()}}, "[1]", 0);
  start();
  register_orders("D", 2);
  ASSERT_EQ(wait_exit(sim_pay("D", 2, {}, (dir_ / "pay.json").string())), 0);
  ASSERT_TRUE(wait_until(
      [&] { return scalar(db(), "SELECT COUNT(*) FROM deliveries WHERE status = 'dead'") == 2; },
      30s))
      << slurp(dir_ / "server.log");
  auto dead = json::parse(api("GET", "/v1/events?status=dead").body);
  ASSERT_EQ(dead["events"].size(), 2u);
  const int64_t first = dead["events"][1]["id"];
  EXPECT_EQ(api("GET", "/v1/events?status=bogus").status, 400);
  EXPECT_EQ(api("GET", "/v1/events?limit=0").status, 400);
  EXPECT_EQ(api("GET", "/v1/events/999999").status, 404);
  EXPECT_EQ(api("POST", "/v1/events/abc/replay").status, 400);

  auto one = api("POST", "/v1/events/" + std::to_string(first) + "/replay");
  ASSERT_EQ(one.status, 202) << one.body;
  EXPECT_EQ(json::parse(one.body)["deliveries_scheduled"], 1);
  ASSERT_TRUE(wait_until([&] { return delivered() == 1; }, 30s));
  auto all = api("POST", "/v1/endpoints/shop/replay?since=0");
  ASSERT_EQ(all.status, 202) << all.body;
  EXPECT_EQ(json::parse(all.body)["deliveries_scheduled"], 1);
  ASSERT_TRUE(wait_until([&] { return delivered() == 2; }, 30s));
  EXPECT_EQ(api("POST", "/v1/endpoints/shop/replay").status, 400);
  EXPECT_EQ(api("POST", "/v1/endpoints/shop/replay?since=yesterday").status, 400);
  EXPECT_EQ(api("POST", "/v1/endpoints/nope/replay?since=0").status, 404);
  // Every receipt of one event carried the same webhook-id.
  std::map<std::string, std::set<std::string>> ids_per_event;
  for (const auto& l : receipts(rx.out)) {
    ids_per_event[l["event_id"].get<std::string>()].insert(l["webhook_id"].get<std::string>());
  }
  ASSERT_EQ(ids_per_event.size(), 2u);
  for (const auto& [ev, ids] : ids_per_event) EXPECT_EQ(ids.size(), 1u) << ev;
}

TEST_F(Webhooks, OneDeadEndpointDoesNotSlowAHealthyOne) {
  // "slow" never answers within its 1 s timeout; "fast" answers at once.
  auto& slow = start_receiver("slow", {"--delay-ms", "5000"});
  auto& fast = start_receiver("fast");
  configure({{"slow", slow.url()}, {"fast", fast.url()}}, "[1, 1, 1, 1, 1]", 0,
            "timeout_ms = 1000");
  start();
  const int kOrders = 200;
  register_orders("S", kOrders);
  ASSERT_EQ(wait_exit(sim_pay("S", kOrders, {"--concurrency", "8"}, (dir_ / "pay.json").string())),
            0);
  ASSERT_TRUE(wait_until(
      [&] {
        return scalar(db(), "SELECT COUNT(*) FROM deliveries WHERE endpoint = 'fast' AND "
                            "status = 'delivered'") == kOrders;
      },
      30s));
  // The healthy endpoint's lag from event to receipt stayed far below the dead one's timeout.
  std::vector<int64_t> lags;
  for (const auto& l : receipts(fast.out)) {
    const int64_t created = scalar(db(), "SELECT created_at_ms FROM outbox WHERE id = " +
                                             l["event_id"].get<std::string>().substr(4));
    lags.push_back(l["at_ms"].get<int64_t>() - created);
  }
  ASSERT_EQ(lags.size(), static_cast<std::size_t>(kOrders));
  std::sort(lags.begin(), lags.end());
  EXPECT_LT(lags[lags.size() * 99 / 100], 1000) << "p99 lag of the healthy endpoint";
  EXPECT_TRUE(wait_until(
      [&] {
        return scalar(db(), "SELECT COUNT(*) FROM delivery_attempts a JOIN deliveries d ON "
                            "d.id = a.delivery_id WHERE d.endpoint = 'slow' AND "
                            "a.outcome = 'timeout'") > 0;
      },
      10s));
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM deliveries WHERE endpoint = 'slow' AND status = "
                         "'delivered'"),
            0);
}

TEST_F(Webhooks, GracefulStopRecordsAttemptsInFlightAndReleasesTheRest) {
  auto& rx = start_receiver("shop", {"--delay-ms", "300"});
  configure({{"shop", rx.url()}});
  start();
  register_orders("T", 60);
  ASSERT_EQ(wait_exit(sim_pay("T", 60, {"--concurrency", "8"}, (dir_ / "pay.json").string())), 0);
  ASSERT_TRUE(wait_until(
      [&] { return scalar(db(), "SELECT COUNT(*) FROM deliveries WHERE status = 'delivering'") > 0; },
      10s));
  EXPECT_EQ(stop(SIGTERM), 0);
  // Every answer the receiver gave is recorded; nothing is left leased.
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM deliveries WHERE status = 'delivering'"), 0);
  int answered = 0;
  for (const auto& l : receipts(rx.out)) answered += l["status"] == 204;
  EXPECT_GT(answered, 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM delivery_attempts WHERE status = 204"), answered);
  EXPECT_EQ(delivered(), answered);
  // The rest goes out after a restart, each event once.
  start();
  ASSERT_TRUE(wait_until([&] { return delivered() == 60; }, 30s));
  EXPECT_EQ(stop(SIGTERM), 0);
  std::set<std::string> events;
  for (const auto& l : receipts(rx.out)) events.insert(l["event_id"].get<std::string>());
  EXPECT_EQ(events.size(), 60u);
  EXPECT_EQ(receipts(rx.out).size(), 60u) << "a graceful stop sends nothing twice";
}

TEST_F(Webhooks, CrashDrillDeliversEveryEventWithStableIds) {
  auto& rx = start_receiver("shop", {"--delay-ms", "20"});
  configure({{"shop", rx.url()}}, "[1, 1, 1, 1, 1]", 0, "timeout_ms = 1000");
  start();
  const int kOrders = 400;
  register_orders("K", kOrders);
  pid_t sim = sim_pay("K", kOrders, {"--concurrency", "8", "--time-scale", "0.02"},
                      (dir_ / "pay.json").string());
  std::mt19937 rng(777);
  int kills = 0;
  for (; kills < 5; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 300));
    stop(SIGKILL);
    start();
  }
  ASSERT_EQ(wait_exit(sim), 0) << slurp(dir_ / "sim.log");
  // Leases of attempts cut off by a kill run out after 2x the timeout + 1 s.
  ASSERT_TRUE(wait_until([&] { return delivered() == kOrders; }, 60s))
      << delivered() << " delivered";
  EXPECT_EQ(stop(SIGTERM), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox"), kOrders);
  std::map<std::string, std::set<std::string>> ids_per_event;
  for (const auto& l : receipts(rx.out)) {
    ASSERT_TRUE(l["verified"].get<bool>());
    ids_per_event[l["event_id"].get<std::string>()].insert(l["webhook_id"].get<std::string>());
  }
  EXPECT_EQ(ids_per_event.size(), static_cast<std::size_t>(kOrders)) << "every event arrived";
  for (const auto& [ev, ids] : ids_per_event) EXPECT_EQ(ids.size(), 1u) << ev;
}

TEST_F(Webhooks, BadEndpointConfigIsRefusedAtStart) {
  struct Case {
    std::string section;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"http://127.0.0.1:9/x\"\nsecret_file = \"whsec\"\n",
       "merchant[0].webhooks[0].url"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"http://[::1]:9/x\"\nsecret_file = \"whsec\"\n",
       "merchant[0].webhooks[0].url"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"http://localhost/x\"\nsecret_file = \"whsec\"\n",
       "merchant[0].webhooks[0].url"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"ftp://example.com/x\"\nsecret_file = \"whsec\"\n",
       "merchant[0].webhooks[0].url"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"http://example.com/x\"\nsecret_file = \"whsec\"\n",
       "must be https://"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"https://example.com/x\"\nsecret_file = \"nope\"\n",
       "merchant[0].webhooks[0].secret_file"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"https://example.com/x\"\nsecret_file = \"short\"\n",
       "merchant[0].webhooks[0].secret"},
      {"[[merchant.webhooks]]\nid = \"a b\"\nurl = \"https://example.com/x\"\nsecret_file = \"whsec\"\n",
       "merchant[0].webhooks[0].id"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"https://example.com/x\"\nsecret_file = \"whsec\"\n"
       "[[merchant.webhooks]]\nid = \"a\"\nurl = \"https://example.com/y\"\nsecret_file = \"whsec\"\n",
       "duplicate endpoint id"},
      {"[[merchant.webhooks]]\nid = \"a\"\nurl = \"https://example.com/x\"\nsecret_file = \"whsec\"\n"
       "max_in_flight = 0\n",
       "merchant[0].webhooks[0].max_in_flight"},
      {"[webhooks]\nretry_schedule_seconds = []\n", "webhooks.retry_schedule_seconds"},
      {"[webhooks]\nretry_schedule_seconds = [5, -1]\n", "webhooks.retry_schedule_seconds"},
      {"[webhooks]\nsurprise = 1\n", "webhooks"},
  };
  std::ofstream(dir_ / "short") << "whsec_c2hvcnQ=\n";  // 5 bytes: too short a key
  fs::permissions(dir_ / "short", fs::perms::owner_read | fs::perms::owner_write);
  const std::string base = slurp(dir_ / "paygate.toml");
  for (const auto& c : cases) {
    std::ofstream(dir_ / "paygate.toml") << base << "\n" << c.section;
    pid_t p = spawn({kBin, "serve", "--config", (dir_ / "paygate.toml").string(), "--port-file",
                     (dir_ / "bad.port").string()},
                    (dir_ / "bad.log").string());
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 300 && (done = waitpid(p, &status, WNOHANG)) == 0; ++i) {
      if (fs::exists(dir_ / "bad.port")) break;  // it started: the case was accepted
      std::this_thread::sleep_for(10ms);
    }
    if (done == 0) {
      kill(p, SIGKILL);
      waitpid(p, &status, 0);
      fs::remove(dir_ / "bad.port");
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << c.section;
    const std::string log = slurp(dir_ / "bad.log");
    EXPECT_NE(log.find(c.expect), std::string::npos) << c.section << "\n" << log;
    EXPECT_EQ(log.find(secret_.substr(6)), std::string::npos) << "secret leaked";
  }
}

}  // namespace

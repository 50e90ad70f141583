#pragma once
// The integration fixture: a sandbox made by `paygate sim init`, the real `paygate serve` on a
// free loopback port, and helpers to call its API and run the simulator.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/http_client.hpp"
#include "support/db.hpp"
#include "support/process.hpp"

namespace paygate::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline const std::string kBin = PAYGATE_BINARY;

class Gateway : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("paygate-it-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    port_ = free_port();
    provider_port_ = free_port();
    ASSERT_EQ(wait_exit(spawn({kBin, "sim", "init", "--dir", dir_.string(), "--listen",
                               "127.0.0.1:" + std::to_string(port_), "--provider-listen",
                               "127.0.0.1:" + std::to_string(provider_port_)},
                              (dir_.string() + ".init.log"))),
              0);
    token_ = slurp(dir_ / "keys" / "api_token");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
  }
  void TearDown() override {
    stop(SIGKILL);
    stop_provider();
    fs::remove_all(dir_);
    fs::remove(dir_.string() + ".init.log");
  }
  // `env`: extra variables; `wrapper`: a command the gateway runs under (e.g. prlimit).
  void start(const std::vector<std::string>& env = {},
             const std::vector<std::string>& wrapper = {}) {
    fs::remove(dir_ / "port");
    std::vector<std::string> args = wrapper;
    for (const auto& a : {kBin, std::string("serve"), std::string("--config"),
                          (dir_ / "paygate.toml").string(), std::string("--port-file"),
                          (dir_ / "port").string()}) {
      args.push_back(a);
    }
    server_ = spawn(args, (dir_ / "server.log").string(), {}, env);
    for (int i = 0; i < 200 && !fs::exists(dir_ / "port"); ++i) std::this_thread::sleep_for(25ms);
    ASSERT_TRUE(fs::exists(dir_ / "port")) << slurp(dir_ / "server.log");
  }
  int stop(int sig) {
    if (server_ <= 0) return 0;
    kill(server_, sig);
    int rc = wait_exit(server_);
    server_ = 0;
    return rc;
  }
  // Waits for the server to exit by itself; its exit code, or -1 after `timeout`.
  int wait_stopped(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      const pid_t r = waitpid(server_, &status, WNOHANG);
      if (r == server_) {
        server_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  // The simulated WeChat Pay API of the sandbox (`paygate sim provider`).
  void start_provider() {
    fs::remove(dir_ / "provider.port");
    provider_ = spawn({kBin, "sim", "provider", "--dir", dir_.string(), "--time-scale", "0.001",
                       "--port-file", (dir_ / "provider.port").string()},
                      (dir_ / "provider.log").string());
    for (int i = 0; i < 200 && !fs::exists(dir_ / "provider.port"); ++i) {
      std::this_thread::sleep_for(25ms);
    }
    ASSERT_TRUE(fs::exists(dir_ / "provider.port")) << slurp(dir_ / "provider.log");
  }
  void stop_provider() {
    if (provider_ <= 0) return;
    kill(provider_, SIGKILL);
    wait_exit(provider_);
    provider_ = 0;
  }
  paygate::sim::HttpResult provider(const std::string& method, const std::string& path,
                                    const std::string& body = {}) {
    paygate::sim::HttpClient c;
    return c.request(method, "http://127.0.0.1:" + std::to_string(provider_port_) + path,
                     {{"Content-Type", "application/json"}}, body, 10s);
  }
  // Adds settings to a table of the sandbox config, e.g. "[merchant.wechatpay_v3]\n".
  void table_settings(const std::string& table, const std::string& lines) {
    std::string cfg = slurp(dir_ / "paygate.toml");
    const auto at = cfg.find(table);
    ASSERT_NE(at, std::string::npos);
    cfg.insert(at + table.size(), lines);
    std::ofstream(dir_ / "paygate.toml", std::ios::trunc) << cfg;
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  paygate::sim::HttpResult api(const std::string& method, const std::string& path,
                               const std::string& body = {}) {
    paygate::sim::HttpClient c;
    return c.request(method, url(path),
                     {{"Authorization", "Bearer " + token_}, {"Content-Type", "application/json"}},
                     body, 10s);
  }
  pid_t sim_pay(const std::string& prefix, int count, std::vector<std::string> extra,
                const std::string& report) {
    std::vector<std::string> args = {kBin, "sim", "pay", "--dir", dir_.string(), "--out-trade-no",
                                     prefix, "--amount", "100", "--count", std::to_string(count),
                                     "--report", report};
    args.insert(args.end(), extra.begin(), extra.end());
    return spawn(args, (dir_ / "sim.log").string());
  }
  void register_orders(const std::string& prefix, int count) {
    for (int i = 1; i <= count; ++i) {
      char id[64];
      std::snprintf(id, sizeof id, "%s-%06d", prefix.c_str(), i);
      auto r = api("POST", "/v1/orders",
                   nlohmann::json{{"merchant", "sandbox"}, {"out_trade_no", id}, {"amount", 100}}.dump());
      ASSERT_EQ(r.status, 201) << r.body;
    }
  }
  fs::path db() const { return dir_ / "paygate.db"; }
  // The simulator finishes against the running gateway, which then drains: every order was
  // acknowledged and is paid once, with one inbox row and one order.paid event.
  void finish_and_expect_all_paid_once(pid_t sim, const std::string& report, int orders) {
    EXPECT_EQ(wait_exit(sim), 0) << slurp(dir_ / "sim.log");
    EXPECT_EQ(stop(SIGTERM), 0);
    auto rep = nlohmann::json::parse(slurp(report));
    EXPECT_EQ(rep["acked"], orders);
    EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), orders);
    EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), orders);
    EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.paid'"), orders);
  }
  // Adds settings to the [server] table of the sandbox config.
  void server_settings(const std::string& lines) { table_settings("[server]\n", lines); }

  fs::path dir_;
  int port_ = 0;
  int provider_port_ = 0;
  std::string token_;
  pid_t server_ = 0;
  pid_t provider_ = 0;
};

}  // namespace paygate::testing

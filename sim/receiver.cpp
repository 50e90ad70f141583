#include "sim/receiver.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "http/server.hpp"
#include "http/target.hpp"
#include "webhooks/signature.hpp"

namespace paygate::sim {

namespace {

class Receiver final : public http::HttpHandler {
 public:
  Receiver(const ReceiverOptions& o, std::vector<core::Secret> keys, std::ostream& out)
      : o_(o), keys_(std::move(keys)), out_(out) {}

  void handle(http::HttpRequest req, http::Respond respond) override {
    if (req.method != "POST") {
      respond({405, "text/plain", "POST webhooks here\n", {}});
      return;
    }
    const auto verdict =
        webhooks::verify(keys_, req.headers, req.body, clock_.now_unix(), o_.tolerance_seconds);
    nlohmann::json line;
    line["webhook_id"] = std::string(req.headers.get("webhook-id").value_or(""));
    line["verified"] = verdict.accepted;
    int status = 204;
    if (!verdict.accepted) {
      line["reason"] = verdict.reason;
      status = 401;
    } else {
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (body.is_object()) {
        line["type"] = body.value("type", "");
        line["event_id"] = body.value("id", "");
        if (body.contains("data") && body["data"].is_object()) {
          const auto& data = body["data"];
          if (data.contains("order") && data["order"].is_object()) {
            line["out_trade_no"] = data["order"].value("out_trade_no", "");
          }
        }
      }
      const int n = ++verified_;
      {
        std::lock_guard lock(mu_);
        line["receipt"] = ++seen_[line["webhook_id"].get<std::string>()];
      }
      if (n <= o_.fail_first) {
        status = o_.fail_status;
      } else if (o_.answer_status) {
        status = o_.answer_status;
      }
    }
    line["status"] = status;
    line["at_ms"] = clock_.now_ms();
    {
      std::lock_guard lock(mu_);
      out_ << line.dump() << "\n" << std::flush;
    }
    http::HttpResponse r{status, "text/plain", status < 300 ? "" : "not now\n", {}};
    if (status >= 300 && o_.retry_after >= 0) {
      r.headers.emplace_back("Retry-After", std::to_string(o_.retry_after));
    }
    if (o_.delay_ms > 0) {
      std::thread([respond, r = std::move(r), d = o_.delay_ms]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(d));
        respond(std::move(r));
      }).detach();
      return;
    }
    respond(std::move(r));
  }

 private:
  const ReceiverOptions& o_;
  std::vector<core::Secret> keys_;
  std::ostream& out_;
  core::SystemClock clock_;
  std::atomic<int> verified_{0};
  std::mutex mu_;
  std::map<std::string, int> seen_;
};

}  // namespace

int run_receiver(const ReceiverOptions& o) {
  std::vector<core::Secret> keys;
  for (const auto& s : o.secrets) {
    auto k = webhooks::parse_secret(s);
    if (!k) {
      std::cerr << "paygate: --secret: " << k.error().detail << "\n";
      return 2;
    }
    keys.push_back(*k);
  }
  if (keys.empty()) {
    std::cerr << "paygate: give at least one --secret or --secret-file\n";
    return 2;
  }
  http::ServerOptions so;
  auto address = http::parse_listen(o.listen);
  if (!address) {
    std::cerr << "paygate: --listen must be HOST:PORT\n";
    return 2;
  }
  so.address = address->host;
  so.port = address->port;
  so.threads = 2;
  so.drain_timeout = std::chrono::milliseconds(2000);
  std::ofstream file;
  if (!o.out.empty()) {
    file.open(o.out, std::ios::app);
    if (!file) {
      std::cerr << "paygate: cannot write " << o.out << "\n";
      return 2;
    }
  }
  Receiver receiver(o, std::move(keys), o.out.empty() ? std::cout : file);
  auto server = http::HttpServer::create(so, receiver);
  if (!server) {
    std::cerr << "paygate: " << server.error().detail << "\n";
    return 1;
  }
  if (!o.port_file.empty()) {
    const std::string tmp = o.port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    std::rename(tmp.c_str(), o.port_file.c_str());
  }
  std::cerr << "paygate sim receiver listening on " << so.address << ":" << (*server)->port()
            << "\n";
  (*server)->run();
  return 0;
}

}  // namespace paygate::sim

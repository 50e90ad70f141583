// The delivery worker against a real SQLite store that fails once at every possible call:
// nothing is sent unless its claim committed, and the event still arrives, always under one
// webhook-id.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "fakes/faulty_store.hpp"
#include "obs/metrics.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/db.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/worker.hpp"

namespace paygate {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Answers every POST with `status` from its own thread, as the real transport does.
class RecordingTransport final : public net::HttpClient {
 public:
  explicit RecordingTransport(long status) : status_(status) {}
  ~RecordingTransport() override {
    for (auto& t : threads_) t.join();
  }
  void send(net::HttpRequest request, net::ResponseFn done) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    threads_.emplace_back([done = std::move(done), status = status_] {
      net::HttpResponse r;
      r.status = status;
      done(r);
    });
  }
  std::vector<net::HttpRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  long status_;
  std::mutex mu_;
  std::vector<net::HttpRequest> requests_;
  std::vector<std::thread> threads_;
};

class DeliveryWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("paygate-worker-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  webhooks::Endpoint endpoint() {
    webhooks::Endpoint e;
    e.id = "shop";
    e.merchant = "m1";
    e.url = "http://merchant.example/hooks";
    e.secrets = {*webhooks::parse_secret("whsec_xWEOl5NCUO0U5fojt1ZtfvqMW/2/ONWSV6RYM65sbpQ=")};
    e.timeout = 100ms;  // lease: (prefetch + 2) x timeout + 1 s
    return e;
  }

  static void add_event(store::Store& s, const std::string& otn, const std::string& type) {
    std::promise<core::Result<void>> done;
    s.submit(
        [&](store::Tx& tx) -> core::Result<void> {
          store::OutboxEvent e;
          e.merchant = "m1";
          e.out_trade_no = otn;
          e.event_type = type;
          e.payload = R"({"type":")" + type + R"("})";
          e.created_at_ms = 1;
          auto id = tx.add_outbox(e);
          if (!id) return tl::unexpected(id.error());
          return {};
        },
        [&](core::Result<void> r) { done.set_value(r); });
    ASSERT_TRUE(done.get_future().get());
  }

  fs::path dir_;
  core::SystemClock clock_;
};

TEST_F(DeliveryWorkerTest, StoreFailureAtEveryCallNeverSendsAnUnclaimedDelivery) {
  int checked = 0;
  for (int fail_at = 1; fail_at <= 40; ++fail_at) {
    SCOPED_TRACE(fail_at);
    const auto db = dir_ / ("w" + std::to_string(fail_at) + ".db");
    auto inner = store::open_sqlite_store({db.string()});
    ASSERT_TRUE(inner);
    add_event(**inner, "A", "order.paid");
    add_event(**inner, "A", "refund.succeeded");
    test::FaultyStore faulty(**inner, fail_at);
    RecordingTransport transport(204);
    obs::Registry registry;
    webhooks::WorkerOptions o;
    o.poll = 10ms;
    webhooks::DeliveryWorker worker(faulty, transport, clock_, registry, {endpoint()}, o);
    worker.start();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline &&
           testing::scalar(db, "SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'") < 2) {
      std::this_thread::sleep_for(10ms);
    }
    worker.stop(1s);
    (*inner)->close();
    EXPECT_EQ(testing::scalar(db, "SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'"), 2);
    // Every request went out under a webhook-id that is stored, one id per event, and the
    // order's events in order (paid before refund).
    const auto sent = transport.requests();
    ASSERT_GE(sent.size(), 2u);
    std::vector<std::string> ids;
    for (const auto& r : sent) {
      for (const auto& [k, v] : r.headers) {
        if (k == "webhook-id") ids.push_back(v);
      }
    }
    ASSERT_EQ(ids.size(), sent.size());
    std::set<std::string> distinct(ids.begin(), ids.end());
    EXPECT_EQ(distinct.size(), 2u);
    for (const auto& id : distinct) {
      EXPECT_EQ(testing::scalar(db, "SELECT COUNT(*) FROM deliveries WHERE webhook_id = '" + id + "'"),
                1);
    }
    EXPECT_NE(sent.front().body.find("order.paid"), std::string::npos);
    if (faulty.calls() < fail_at) break;  // the whole run needed fewer calls: all covered
    ++checked;
  }
  EXPECT_GT(checked, 5);
}

}  // namespace
}  // namespace paygate

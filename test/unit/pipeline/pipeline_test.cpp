#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "fakes/faulty_store.hpp"
#include "pipeline/callback_pipeline.hpp"
#include "pipeline/orders.hpp"
#include "providers/wechatpay_v3/adapter.hpp"
#include "sim/sandbox.hpp"
#include "sim/wechatpay_v3.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace paygate::pipeline {
namespace {

namespace fs = std::filesystem;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("paygate-pipeline-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto sb = sim::init_sandbox({.dir = dir_.string(), .merchant = "m1", .listen = "127.0.0.1:1"});
    ASSERT_TRUE(sb) << sb.error().detail;
    sandbox_ = *sb;
    providers::wechatpay_v3::Settings s;
    s.mchid = sandbox_.mchid;
    s.appids = {sandbox_.appid};
    s.apiv3_key = core::Secret(sandbox_.apiv3_key);
    s.keys.push_back({sandbox_.platform_serial,
                      *crypto::PublicKey::from_pem(sandbox_.platform_key.public_pem())});
    s.keys.push_back({sandbox_.public_key_id,
                      *crypto::PublicKey::from_pem(sandbox_.public_key_mode_key.public_pem())});
    adapter_ = std::make_unique<providers::wechatpay_v3::Adapter>(std::move(s));
    identity_ = Identity{"m1", sandbox_.mchid, {sandbox_.appid}};
    open();
  }
  void TearDown() override {
    if (store_) store_->close();
    fs::remove_all(dir_);
  }
  void open() {
    if (store_) store_->close();
    auto st = store::open_sqlite_store({(dir_ / "test.db").string()});
    ASSERT_TRUE(st) << st.error().detail;
    store_ = std::move(*st);
  }

  CallbackRequest callback(const sim::SimNotification& n) {
    CallbackRequest r;
    for (auto& [k, v] : sim::sign_headers(sandbox_, n, clock_.now_unix())) r.headers.add(k, v);
    r.body = n.body;
    r.target = "/notify/wechatpay/v3/m1";
    return r;
  }

  providers::Reply send(store::Store& st, CallbackRequest req) {
    CallbackPipeline p(&st, clock_, metrics_);
    std::promise<providers::Reply> done;
    p.handle(*adapter_, identity_, std::move(req), [&](MakeReply make) { done.set_value(make()); });
    return done.get_future().get();
  }

  void register_order(const std::string& otn, int64_t amount) {
    std::promise<core::Result<Registered>> done;
    pipeline::register_order(*store_, clock_, {"m1", otn, amount, "CNY", "", std::nullopt},
                             [&](core::Result<Registered> r) { done.set_value(r); });
    auto r = done.get_future().get();
    ASSERT_TRUE(r) << r.error().detail;
  }

  store::OrderDetails order(const std::string& otn) {
    auto d = store_->order_details("m1", otn);
    EXPECT_TRUE(d && *d);
    return d && *d ? **d : store::OrderDetails{};
  }

  fs::path dir_;
  sim::Sandbox sandbox_;
  core::SystemClock clock_;
  obs::Registry registry_;
  obs::Metrics metrics_{registry_};
  std::unique_ptr<providers::wechatpay_v3::Adapter> adapter_;
  Identity identity_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(PipelineTest, PaysOnceAndRepliesAfterCommit) {
  register_order("T1", 500);
  auto n = sim::build_payment(sandbox_, {"T1", 500}, false);
  ASSERT_TRUE(n);
  EXPECT_EQ(send(*store_, callback(*n)).status, 204);
  EXPECT_EQ(order("T1").order.state, core::OrderState::kPaid);
  EXPECT_EQ(send(*store_, callback(*n)).status, 204);  // duplicate: same reply, no effect
  auto events = store_->outbox_for_order("m1", "T1");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event_type, "order.paid");
  // Durable: visible after reopening the file.
  open();
  EXPECT_EQ(order("T1").order.state, core::OrderState::kPaid);
}

TEST_F(PipelineTest, ConcurrentDuplicatesApplyOnce) {
  register_order("T2", 700);
  auto n = sim::build_payment(sandbox_, {"T2", 700}, true);
  ASSERT_TRUE(n);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      if (send(*store_, callback(*n)).status == 204) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(store_->outbox_for_order("m1", "T2")->size(), 1u);
  EXPECT_EQ(order("T2").history.size(), 2u);  // registered, paid
}

// An authentic notification in a state paygate does not apply (NOTPAY) is stored as an
// anomaly and acknowledged; 500 would make WeChat retry it for a day to no end.
TEST_F(PipelineTest, AuthenticButUnsupportedStateIsAnAcknowledgedAnomaly) {
  register_order("NP", 100);
  sim::PaymentSpec spec{"NP", 100};
  spec.trade_state = "NOTPAY";
  auto n = sim::build_payment(sandbox_, spec, false);
  ASSERT_TRUE(n);
  EXPECT_EQ(send(*store_, callback(*n)).status, 204);
  EXPECT_EQ(send(*store_, callback(*n)).status, 204);  // the retry: a duplicate
  auto list = store_->anomalies("m1", 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].anomaly_code, "unsupported_event");
  EXPECT_EQ((*list)[0].event_type, "TRANSACTION.SUCCESS/NOTPAY");
  EXPECT_EQ(order("NP").order.state, core::OrderState::kPending);
  EXPECT_TRUE(store_->outbox_for_order("m1", "NP")->empty());
  // The real payment still applies afterwards.
  auto paid = sim::build_payment(sandbox_, {"NP", 100}, false);
  ASSERT_TRUE(paid);
  EXPECT_EQ(send(*store_, callback(*paid)).status, 204);
  EXPECT_EQ(order("NP").order.state, core::OrderState::kPaid);
}

// The payer paid twice (two transaction ids): the second is neither swallowed as a duplicate
// nor applied; it is an anomaly with a merchant event, so the money can be given back.
TEST_F(PipelineTest, SecondPaymentWithAnotherTransactionIsADoublePaymentAnomaly) {
  register_order("DP", 100);
  auto first = sim::build_payment(sandbox_, {"DP", 100}, false);
  auto second = sim::build_payment(sandbox_, {"DP", 100}, false);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(send(*store_, callback(*first)).status, 204);
  const auto paid_tx = order("DP").order.transaction_id;
  EXPECT_EQ(send(*store_, callback(*second)).status, 204);
  EXPECT_EQ(send(*store_, callback(*second)).status, 204);  // its retry: no second anomaly
  auto list = store_->anomalies("m1", 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].anomaly_code, "double_payment");
  EXPECT_EQ(order("DP").order.state, core::OrderState::kPaid);
  EXPECT_EQ(order("DP").order.transaction_id, paid_tx);
  auto events = store_->outbox_for_order("m1", "DP");
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].event_type, "order.double_payment");
  EXPECT_NE((*events)[1].payload.find("\"payment\":{\"transaction_id\":\"4200"),
            std::string::npos) << (*events)[1].payload;
  EXPECT_EQ((*events)[1].payload.find(paid_tx + "\",\"amount\":100,\"success"), std::string::npos);
}

// The payment notice arrives before the merchant registers the order: it is kept, and the
// registration applies it in the same transaction, with no manual redrive.
TEST_F(PipelineTest, CallbackBeforeRegistrationIsAppliedWhenTheOrderIsRegistered) {
  auto n = sim::build_payment(sandbox_, {"EARLY", 300}, false);
  ASSERT_TRUE(n);
  EXPECT_EQ(send(*store_, callback(*n)).status, 204);
  ASSERT_EQ(store_->anomalies("m1", 10)->size(), 1u);
  std::promise<core::Result<Registered>> done;
  pipeline::register_order(
      *store_, clock_, {"m1", "EARLY", 300, "CNY", "", std::nullopt},
      [&](core::Result<Registered> r) { done.set_value(r); },
      [this](std::string_view provider) -> const Identity* {
        return provider == "wechatpay_v3" ? &identity_ : nullptr;
      });
  auto r = done.get_future().get();
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->released, 1);
  EXPECT_EQ(r->order.state, core::OrderState::kPaid);
  EXPECT_EQ(order("EARLY").order.state, core::OrderState::kPaid);
  EXPECT_TRUE(store_->anomalies("m1", 10)->empty());
  EXPECT_EQ(store_->outbox_for_order("m1", "EARLY")->size(), 1u);
  // A different amount is still an anomaly when released: checks run as for any callback.
  auto m = sim::build_payment(sandbox_, {"EARLY2", 500}, false);
  ASSERT_TRUE(m);
  EXPECT_EQ(send(*store_, callback(*m)).status, 204);
  std::promise<core::Result<Registered>> done2;
  pipeline::register_order(
      *store_, clock_, {"m1", "EARLY2", 400, "CNY", "", std::nullopt},
      [&](core::Result<Registered> r) { done2.set_value(r); },
      [this](std::string_view) -> const Identity* { return &identity_; });
  auto r2 = done2.get_future().get();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->order.state, core::OrderState::kPending);
  auto left = store_->anomalies("m1", 10);
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].anomaly_code, "amount_mismatch");
}

TEST_F(PipelineTest, AnomaliesAreStoredAcknowledgedAndRedrivable) {
  auto n = sim::build_payment(sandbox_, {"LATE", 300}, false);
  ASSERT_TRUE(n);
  EXPECT_EQ(send(*store_, callback(*n)).status, 204);  // unknown order: a retry cannot fix it
  auto list = store_->anomalies("m1", 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].anomaly_code, "unknown_order");
  register_order("LATE", 300);
  std::promise<core::Result<Applied>> done;
  CallbackPipeline p(store_.get(), clock_, metrics_);
  p.redrive((*list)[0].id, identity_, [&](core::Result<Applied> r) { done.set_value(r); });
  auto r = done.get_future().get();
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->outcome, providers::Outcome::kApplied);
  EXPECT_EQ(order("LATE").order.state, core::OrderState::kPaid);
  EXPECT_TRUE(store_->anomalies("m1", 10)->empty());
}

TEST_F(PipelineTest, MismatchesAreAnomaliesNotPayments) {
  register_order("A1", 100);
  register_order("A2", 100);
  register_order("A3", 100);
  auto amount = sim::build_payment(sandbox_, {"A1", 101}, false);
  auto currency = sim::build_payment(sandbox_, {"A2", 100, "USD"}, false);
  auto app = sim::build_payment(sandbox_, {"A3", 100, "CNY", "wx0000000000000000"}, false);
  for (auto* n : {&amount, &currency, &app}) EXPECT_EQ(send(*store_, callback(**n)).status, 204);
  for (auto otn : {"A1", "A2", "A3"}) EXPECT_EQ(order(otn).order.state, core::OrderState::kPending);
  auto list = store_->anomalies("m1", 10);
  ASSERT_EQ(list->size(), 3u);
  std::set<std::string> codes;
  for (const auto& e : *list) codes.insert(e.anomaly_code);
  EXPECT_EQ(codes, (std::set<std::string>{"amount_mismatch", "currency_mismatch", "app_mismatch"}));
}

TEST_F(PipelineTest, RefundsAccumulateAndOverRefundIsAnomaly) {
  register_order("R1", 1000);
  auto pay = sim::build_payment(sandbox_, {"R1", 1000}, false);
  ASSERT_EQ(send(*store_, callback(*pay)).status, 204);
  auto r1 = sim::build_refund(sandbox_, {"R1", "RF1", 1000, 600, "SUCCESS"}, false);
  auto r2 = sim::build_refund(sandbox_, {"R1", "RF2", 1000, 500, "SUCCESS"}, false);
  auto r3 = sim::build_refund(sandbox_, {"R1", "RF3", 1000, 400, "SUCCESS"}, false);
  EXPECT_EQ(send(*store_, callback(*r1)).status, 204);
  EXPECT_EQ(order("R1").order.state, core::OrderState::kPartiallyRefunded);
  EXPECT_EQ(send(*store_, callback(*r2)).status, 204);  // 1100 > 1000
  EXPECT_EQ(order("R1").order.refunded, 600);
  EXPECT_EQ(send(*store_, callback(*r3)).status, 204);
  auto d = order("R1");
  EXPECT_EQ(d.order.state, core::OrderState::kRefunded);
  EXPECT_EQ(d.order.refunded, 1000);
  EXPECT_EQ(d.refunds.size(), 2u);
  EXPECT_EQ(store_->anomalies("m1", 10)->at(0).anomaly_code, "refund_exceeds_paid");
}

TEST_F(PipelineTest, ForgedCallbacksChangeNothing) {
  register_order("F1", 100);
  auto n = sim::build_payment(sandbox_, {"F1", 100}, false);
  auto req = callback(*n);
  req.body[20] ^= 1;
  EXPECT_EQ(send(*store_, std::move(req)).status, 401);
  EXPECT_EQ(order("F1").order.state, core::OrderState::kPending);
  EXPECT_TRUE(store_->outbox_for_order("m1", "F1")->empty());
}

// A store that fails on its Nth call, for every N along one callback: never a 2xx without a
// durable effect, never a half-applied effect, and the provider's retry then succeeds.
TEST_F(PipelineTest, StoreFaultOnEveryCallNeverAcknowledgesWithoutEffect) {
  int n = 1;
  for (;; ++n) {
    const std::string otn = "N" + std::to_string(n);
    register_order(otn, 100);
    auto note = sim::build_payment(sandbox_, {otn, 100}, false);
    ASSERT_TRUE(note);
    test::FaultyStore faulty(*store_, n);
    const auto reply = send(faulty, callback(*note));
    const int calls = faulty.calls();
    open();  // judge from the file, as a restart would
    auto d = order(otn);
    auto outbox = store_->outbox_for_order("m1", otn);
    if (reply.status == 204) {
      EXPECT_EQ(d.order.state, core::OrderState::kPaid) << "N=" << n;
      EXPECT_EQ(outbox->size(), 1u);
    } else {
      EXPECT_EQ(reply.status, 500) << "N=" << n;
      EXPECT_EQ(d.order.state, core::OrderState::kPending) << "N=" << n;
      EXPECT_TRUE(outbox->empty()) << "N=" << n;
      EXPECT_EQ(d.history.size(), 1u) << "N=" << n;
      // The provider retries; now it applies exactly once.
      EXPECT_EQ(send(*store_, callback(*note)).status, 204);
      EXPECT_EQ(order(otn).order.state, core::OrderState::kPaid);
      EXPECT_EQ(store_->outbox_for_order("m1", otn)->size(), 1u);
    }
    if (calls < n) break;  // the fault point lies past the last call: every N was covered
  }
  EXPECT_GE(n, 6);  // inbox, order, update, transition, outbox, finish
}

}  // namespace
}  // namespace paygate::pipeline

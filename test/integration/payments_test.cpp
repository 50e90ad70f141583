// Payments out end to end: the real gateway calls the simulated WeChat Pay API (sim provider),
// which holds the trades, lets the buyer pay and sends the callbacks.
#include <future>
#include <regex>

#include "support/gateway.hpp"

namespace paygate::testing {
namespace {

using nlohmann::json;

class Payments : public Gateway {
 protected:
  void SetUp() override {
    Gateway::SetUp();
    // Short enough that a held answer is a timeout in a test's time.
    table_settings("[merchant.wechatpay_v3]\n", "api_timeout_ms = 1000\n");
  }

  static json create_body(const std::string& otn, const std::string& method = "native",
                          int64_t amount = 100) {
    json b = {{"provider", "wechatpay_v3"}, {"method", method}, {"out_trade_no", otn},
              {"amount", amount},           {"description", "sandbox goods"}};
    if (method == "jsapi") b["payer_openid"] = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    if (method == "h5") b["client_ip"] = "203.0.113.7";
    return b;
  }
  sim::HttpResult create(const json& body, const std::string& key = {}) {
    sim::HttpClient c;
    std::vector<std::pair<std::string, std::string>> h = {
        {"Authorization", "Bearer " + token_}, {"Content-Type", "application/json"}};
    if (!key.empty()) h.emplace_back("Idempotency-Key", key);
    return c.request("POST", url("/v1/payments"), h, body.dump(), 10s);
  }
  void fault(const std::string& operation, const std::string& kind, int ms = 0, int count = 1) {
    auto r = provider("POST", "/sim/faults",
                      json{{"operation", operation}, {"kind", kind}, {"ms", ms}, {"count", count}}
                          .dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  std::string order_state(const std::string& otn) {
    auto r = api("GET", "/v1/payments/" + otn);
    return json::parse(r.body, nullptr, false).value("order_state", "?");
  }
  // Waits for the callback the simulated provider sends after the buyer paid.
  bool wait_state(const std::string& otn, const std::string& state) {
    for (int i = 0; i < 200; ++i) {
      if (order_state(otn) == state) return true;
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }
  double metric(const std::string& line_prefix) {
    sim::HttpClient c;
    auto m = c.request("GET", url("/metrics"), {}, "", 5s);
    std::istringstream in(m.body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(line_prefix + " ", 0) == 0) return std::stod(line.substr(line_prefix.size() + 1));
    }
    return 0;
  }
};

TEST_F(Payments, EachMethodIsCreatedPaidByTheBuyerAndAppliedOnceWhetherLearntByCallbackOrQuery) {
  start_provider();
  start();
  for (const std::string method : {"native", "jsapi", "h5", "app"}) {
    SCOPED_TRACE(method);
    const std::string otn = "PAY-" + method + "-0001";
    auto r = create(create_body(otn, method));
    ASSERT_EQ(r.status, 201) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["status"], "created");
    EXPECT_EQ(j["order_state"], "PENDING");
    const auto& launch = j["launch"];
    if (method == "native") EXPECT_EQ(launch["code_url"].get<std::string>().rfind("weixin://wxpay/", 0), 0u);
    if (method == "h5") EXPECT_EQ(launch["h5_url"].get<std::string>().rfind("https://wx.tenpay.com/", 0), 0u);
    if (method == "jsapi") {
      EXPECT_EQ(launch["package"].get<std::string>().rfind("prepay_id=wx", 0), 0u);
      EXPECT_EQ(launch["signType"], "RSA");
      EXPECT_FALSE(launch["paySign"].get<std::string>().empty());
    }
    if (method == "app") EXPECT_EQ(launch["package"], "Sign=WXPay");

    // The buyer pays; WeChat Pay calls back; the order is PAID once.
    ASSERT_EQ(wait_exit(spawn({kBin, "sim", "pay", "--dir", dir_.string(), "--out-trade-no", otn,
                               "--amount", "100", "--at-provider"},
                              (dir_ / "pay.log").string())),
              0)
        << slurp(dir_ / "pay.log");
    ASSERT_TRUE(wait_state(otn, "PAID")) << slurp(dir_ / "server.log");
    // Asking now learns the same fact: a duplicate, nothing applied twice.
    auto s = api("POST", "/v1/payments/" + otn + "/sync");
    ASSERT_EQ(s.status, 200) << s.body;
    auto sj = json::parse(s.body);
    EXPECT_EQ(sj["trade_state"], "SUCCESS");
    EXPECT_EQ(sj["applied"], "duplicate");
    EXPECT_EQ(sj["order_state"], "PAID");
  }
  stop(SIGTERM);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders WHERE state = 'PAID'"), 4);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE source = 'callback'"), 4);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox"), 4);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.paid'"), 4);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM payments WHERE status = 'created'"), 4);
}

TEST_F(Payments, ALostCallbackIsFoundByQueryAndTheLateCallbackIsADuplicate) {
  start_provider();
  start();
  ASSERT_EQ(create(create_body("LOST-000001")).status, 201);
  fault("pay", "drop-callback");
  auto paid = provider("POST", "/sim/trades/LOST-000001/pay");
  ASSERT_EQ(paid.status, 200) << paid.body;
  EXPECT_EQ(json::parse(paid.body)["callback"], "dropped");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(order_state("LOST-000001"), "PENDING");
  auto s = api("POST", "/v1/payments/LOST-000001/sync");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(json::parse(s.body)["applied"], "applied");
  EXPECT_EQ(json::parse(s.body)["order_state"], "PAID");
  // The callback WeChat Pay would have sent, now late: acknowledged, applied nowhere.
  auto trade = json::parse(provider("GET", "/sim/trades/LOST-000001").body);
  ASSERT_EQ(provider("POST", "/sim/trades/LOST-000001/notify").status, 200);
  bool acked = false;
  for (int i = 0; i < 200 && !acked; ++i) {
    acked = slurp(dir_ / "provider.log").find("LOST-000001: acknowledged") != std::string::npos;
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_TRUE(acked) << slurp(dir_ / "provider.log");
  EXPECT_NE(slurp(dir_ / "server.log").find("\"outcome\":\"duplicate\""), std::string::npos);
  stop(SIGTERM);
  EXPECT_EQ(text(db(), "SELECT source FROM inbox"), "query");
  EXPECT_EQ(text(db(), "SELECT transaction_id FROM orders WHERE out_trade_no = 'LOST-000001'"),
            trade["transaction_id"].get<std::string>());
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.paid'"), 1);
}

TEST_F(Payments, ATimeoutOnCreateIsPendingNeverFailedAndAQueryThenTheIdenticalCallResolveIt) {
  start_provider();
  start();
  fault("create", "timeout", 3000);  // the trade is made; its answer comes too late
  auto r = create(create_body("SLOW-000001", "jsapi"));
  ASSERT_EQ(r.status, 202) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "pending");
  EXPECT_EQ(j["provider_error"]["code"], "TIMEOUT");
  EXPECT_FALSE(j.contains("launch"));
  auto s = api("POST", "/v1/payments/SLOW-000001/sync");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(json::parse(s.body)["trade_state"], "NOTPAY");
  EXPECT_EQ(json::parse(s.body)["order_state"], "PENDING");
  // The same request again: the identical call, answered with the same trade's prepay_id.
  auto again = create(create_body("SLOW-000001", "jsapi"));
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(json::parse(again.body)["attempts"], 2);
  auto trade = json::parse(provider("GET", "/sim/trades/SLOW-000001").body);
  EXPECT_EQ(trade["trade_state"], "NOTPAY");
  stop(SIGTERM);
  EXPECT_EQ(text(db(), "SELECT status FROM payments"), "created");
}

TEST_F(Payments, AFiveHundredOrABadlySignedAnswerLeavesThePaymentPending) {
  start_provider();
  start();
  fault("create", "error");
  auto r = create(create_body("ERR5-000001"));
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json::parse(r.body)["provider_error"]["code"], "HTTP_500");
  // WeChat Pay never made it: a query says so, and the identical call makes it now.
  auto s = api("POST", "/v1/payments/ERR5-000001/sync");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(json::parse(s.body)["trade_state"], "NOT_FOUND");
  EXPECT_EQ(create(create_body("ERR5-000001")).status, 201);

  fault("create", "bad-signature");
  auto forged = create(create_body("SIGN-000001"));
  ASSERT_EQ(forged.status, 202) << forged.body;
  EXPECT_EQ(json::parse(forged.body)["provider_error"]["code"], "ANSWER_NOT_VERIFIED");
  // A badly signed query answer is believed by no one: an error, nothing applied.
  ASSERT_EQ(provider("POST", "/sim/trades/SIGN-000001/pay").status, 200);
  ASSERT_TRUE(wait_state("SIGN-000001", "PAID"));
  fault("query", "bad-signature");
  auto q = api("POST", "/v1/payments/SIGN-000001/sync");
  EXPECT_EQ(q.status, 504) << q.body;
  EXPECT_EQ(json::parse(q.body)["error"]["code"], "provider_unknown");
  stop(SIGTERM);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM inbox WHERE source = 'query'"), 0);
}

TEST_F(Payments, ARefusalIsDefiniteRepeatsAreAnsweredFromTheStoreAndOtherContentConflicts) {
  start_provider();
  start();
  // WeChat Pay wants 6-32 characters: paygate's wider rule lets this through to be refused.
  auto r = create(create_body("abc"));
  ASSERT_EQ(r.status, 422) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "refused");
  EXPECT_EQ(j["error"]["code"], "provider_refused");
  EXPECT_EQ(j["provider_error"]["code"], "PARAM_ERROR");
  const double calls = metric(
      "paygate_provider_calls_total{provider=\"wechatpay_v3\",operation=\"create\",outcome=\"refused\"}");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(create(create_body("abc")).status, 422);
  EXPECT_EQ(metric("paygate_provider_calls_total{provider=\"wechatpay_v3\",operation=\"create\","
                   "outcome=\"refused\"}"),
            1);  // the stored answer, no second call
  auto other = create(create_body("abc", "native", 200));
  EXPECT_EQ(other.status, 409) << other.body;
  // A paid order cannot be paid again under its number.
  ASSERT_EQ(create(create_body("ONCE-000001")).status, 201);
  ASSERT_EQ(provider("POST", "/sim/trades/ONCE-000001/pay").status, 200);
  ASSERT_TRUE(wait_state("ONCE-000001", "PAID"));
  EXPECT_EQ(create(create_body("ONCE-000001", "jsapi")).status, 409);
}

TEST_F(Payments, AnIdempotencyKeyGivesOneProviderCallForAnyNumberOfRepeats) {
  start_provider();
  start();
  fault("create", "slow", 400);  // the first request still runs when the others arrive
  std::vector<std::future<sim::HttpResult>> all;
  for (int i = 0; i < 4; ++i) {
    all.push_back(std::async(std::launch::async, [&] { return create(create_body("IDEM-000001"), "key-1"); }));
    std::this_thread::sleep_for(30ms);
  }
  int created = 0, busy = 0;
  std::string first;
  for (auto& f : all) {
    auto r = f.get();
    if (r.status == 201) {
      ++created;
      first = r.body;
    }
    if (r.status == 409) ++busy;
  }
  EXPECT_EQ(created + busy, 4);
  EXPECT_GE(created, 1);
  // Afterwards the key answers with the first answer, byte for byte (launch parameters too).
  auto replay = create(create_body("IDEM-000001"), "key-1");
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.body, first);
  auto mismatch = create(create_body("IDEM-000002"), "key-1");
  EXPECT_EQ(mismatch.status, 422) << mismatch.body;
  EXPECT_EQ(metric("paygate_provider_calls_total{provider=\"wechatpay_v3\",operation=\"create\","
                   "outcome=\"ok\"}"),
            1);
  auto bad_key = create(create_body("IDEM-000003"), std::string(300, 'k'));
  EXPECT_EQ(bad_key.status, 400);
}

TEST_F(Payments, CloseClosesThereAndHereAndAPaymentFoundOnCloseIsApplied) {
  start_provider();
  start();
  ASSERT_EQ(create(create_body("CLOSE-000001")).status, 201);
  auto c = api("POST", "/v1/payments/CLOSE-000001/close");
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(json::parse(c.body)["order_state"], "CLOSED");
  EXPECT_EQ(json::parse(provider("GET", "/sim/trades/CLOSE-000001").body)["trade_state"], "CLOSED");
  EXPECT_EQ(provider("POST", "/sim/trades/CLOSE-000001/pay").status, 409);  // not payable there
  EXPECT_EQ(api("POST", "/v1/payments/CLOSE-000001/close").status, 200);   // closed stays closed

  // Paid, its callback lost: the close is refused by WeChat Pay, the payment is learnt and kept.
  ASSERT_EQ(create(create_body("CLOSE-000002")).status, 201);
  fault("pay", "drop-callback");
  ASSERT_EQ(provider("POST", "/sim/trades/CLOSE-000002/pay").status, 200);
  auto refused = api("POST", "/v1/payments/CLOSE-000002/close");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("PAID"), std::string::npos) << refused.body;
  EXPECT_EQ(order_state("CLOSE-000002"), "PAID");
  stop(SIGTERM);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'order.closed'"), 1);
  EXPECT_EQ(text(db(), "SELECT source FROM inbox WHERE out_trade_no = 'CLOSE-000001'"), "api");
  EXPECT_EQ(text(db(), "SELECT source FROM inbox WHERE out_trade_no = 'CLOSE-000002'"), "query");
}

TEST_F(Payments, AnUnreachablePrimaryFailsOverToTheBackupHost) {
  start_provider();
  std::string cfg = slurp(dir_ / "paygate.toml");
  const std::string primary = "api_base_url = \"http://127.0.0.1:" + std::to_string(provider_port_) + "\"";
  const auto at = cfg.find(primary);
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, primary.size(),
              "api_base_url = \"http://127.0.0.1:" + std::to_string(free_port()) + "\"\n" +
                  "backup_api_base_url = \"http://127.0.0.1:" + std::to_string(provider_port_) + "\"");
  std::ofstream(dir_ / "paygate.toml", std::ios::trunc) << cfg;
  start();
  auto r = create(create_body("FAIL-000001"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(metric("paygate_provider_failovers_total{provider=\"wechatpay_v3\"}"), 1);
}

TEST_F(Payments, NoProviderAnsweringMeansNothingWasSentAndTheRequestCanBeRepeated) {
  start();  // no simulated provider: nothing listens
  auto r = create(create_body("DOWN-000001"), "down-key");
  ASSERT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "provider_unavailable");
  start_provider();
  // 5xx answers are not kept under the key: the same request runs again.
  auto again = create(create_body("DOWN-000001"), "down-key");
  EXPECT_EQ(again.status, 201) << again.body;
}

TEST_F(Payments, BadRequestsGetAClearErrorAndCreateNothing) {
  start_provider();
  start();
  const std::vector<std::pair<std::string, int>> cases = {
      {"not json", 400},
      {"[]", 400},
      {R"({"provider":"wechatpay_v3","method":"native","out_trade_no":"BAD-000001"})", 400},
      {R"({"provider":"wechatpay_v3","method":"native","out_trade_no":"BAD-000001","amount":"100","description":"x"})", 400},
      {R"({"provider":"wechatpay_v3","method":"native","out_trade_no":"BAD-000001","amount":100,"description":"x","colour":"red"})", 400},
      {R"({"provider":"wechatpay_v3","method":"cash","out_trade_no":"BAD-000001","amount":100,"description":"x"})", 400},
      {R"({"provider":"alipay","method":"precreate","out_trade_no":"BAD-000001","amount":100,"description":"x"})", 400},
      {R"({"provider":"wechatpay_v3","method":"jsapi","out_trade_no":"BAD-000001","amount":100,"description":"x"})", 400},
      {R"({"provider":"wechatpay_v3","method":"native","out_trade_no":"BAD-000001","amount":-5,"description":"x"})", 400},
      {R"({"provider":"wechatpay_v3","method":"native","out_trade_no":"BAD-000001","amount":100,"currency":"USD","description":"x"})", 400},
  };
  sim::HttpClient c;
  for (const auto& [body, status] : cases) {
    auto r = c.request("POST", url("/v1/payments"),
                       {{"Authorization", "Bearer " + token_}}, body, 5s);
    EXPECT_EQ(r.status, status) << body << " -> " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  }
  auto no_token = c.request("POST", url("/v1/payments"), {}, create_body("BAD-000002").dump(), 5s);
  EXPECT_EQ(no_token.status, 401);
  EXPECT_EQ(api("GET", "/v1/payments/NOPE-000001").status, 404);
  EXPECT_EQ(api("POST", "/v1/payments/NOPE-000001/sync").status, 404);
  EXPECT_EQ(api("POST", "/v1/payments/NOPE-000001/close").status, 404);
  stop(SIGTERM);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM orders"), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM payments"), 0);
}

class Refunds : public Payments {
 protected:
  // A paid order of 100 fen.
  void paid(const std::string& otn) {
    ASSERT_EQ(create(create_body(otn)).status, 201);
    ASSERT_EQ(provider("POST", "/sim/trades/" + otn + "/pay").status, 200);
    ASSERT_TRUE(wait_state(otn, "PAID"));
  }
  sim::HttpResult refund(const std::string& otn, const std::string& orn, int64_t amount,
                         const std::string& key = {}) {
    sim::HttpClient c;
    std::vector<std::pair<std::string, std::string>> h = {
        {"Authorization", "Bearer " + token_}, {"Content-Type", "application/json"}};
    if (!key.empty()) h.emplace_back("Idempotency-Key", key);
    return c.request("POST", url("/v1/refunds"), h,
                     json{{"out_trade_no", otn}, {"out_refund_no", orn}, {"amount", amount},
                          {"reason", "returned goods"}}.dump(),
                     10s);
  }
  std::string refund_status(const std::string& orn) {
    return json::parse(api("GET", "/v1/refunds/" + orn).body, nullptr, false).value("status", "?");
  }
  bool wait_refund(const std::string& orn, const std::string& status) {
    for (int i = 0; i < 200; ++i) {
      if (refund_status(orn) == status) return true;
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }
};

TEST_F(Refunds, PartialRefundsAreHeldCheckedAgainstTheLedgerAndCompletedByTheirCallbacks) {
  start_provider();
  start();
  paid("RFD-000001");
  auto r = refund("RFD-000001", "RFD-000001-R1", 30);
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["status"], "PROCESSING");  // held until WeChat Pay says how it ended
  EXPECT_EQ(j["request"]["status"], "created");
  ASSERT_TRUE(wait_refund("RFD-000001-R1", "SUCCESS")) << slurp(dir_ / "server.log");
  EXPECT_EQ(order_state("RFD-000001"), "PARTIALLY_REFUNDED");
  // 70 left: 80 is refused here, before WeChat Pay is asked.
  auto over = refund("RFD-000001", "RFD-000001-R2", 80);
  EXPECT_EQ(over.status, 409) << over.body;
  EXPECT_NE(over.body.find("left to refund (70 of 100"), std::string::npos) << over.body;
  EXPECT_EQ(metric("paygate_provider_calls_total{provider=\"wechatpay_v3\",operation=\"refund\","
                   "outcome=\"ok\"}"),
            1);
  auto rest = refund("RFD-000001", "RFD-000001-R3", 70);
  ASSERT_EQ(rest.status, 201) << rest.body;
  ASSERT_TRUE(wait_refund("RFD-000001-R3", "SUCCESS"));
  EXPECT_EQ(order_state("RFD-000001"), "REFUNDED");
  // The same refund again is the stored answer; its number with other content a conflict.
  EXPECT_EQ(refund("RFD-000001", "RFD-000001-R3", 70).status, 201);
  EXPECT_EQ(refund("RFD-000001", "RFD-000001-R3", 60).status, 409);
  EXPECT_EQ(refund("RFD-000001", "RFD-000001-R4", 1).status, 409);  // nothing left
  stop(SIGTERM);
  EXPECT_EQ(scalar(db(), "SELECT refunded FROM orders WHERE out_trade_no = 'RFD-000001'"), 100);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM refunds"), 2);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'refund.succeeded'"), 2);
}

TEST_F(Refunds, RefundsInFlightHoldTheirAmountSoConcurrentRequestsCannotOverRefund) {
  start_provider();
  start();
  paid("RFD-000002");
  fault("refund", "slow", 300);
  auto a = std::async(std::launch::async, [&] { return refund("RFD-000002", "RFD-000002-A", 60); });
  std::this_thread::sleep_for(50ms);
  auto b = refund("RFD-000002", "RFD-000002-B", 60);
  EXPECT_EQ(b.status, 409) << b.body;  // 60 of the 100 are held by A
  EXPECT_NE(b.body.find("60 being refunded"), std::string::npos) << b.body;
  EXPECT_EQ(a.get().status, 201);
}

TEST_F(Refunds, ALostRefundCallbackOrATimedOutRefundIsResolvedByQuery) {
  start_provider();
  start();
  paid("RFD-000003");
  fault("refund", "drop-callback");
  ASSERT_EQ(refund("RFD-000003", "RFD-000003-R1", 40).status, 201);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(refund_status("RFD-000003-R1"), "PROCESSING");
  auto s = api("POST", "/v1/refunds/RFD-000003-R1/sync");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(json::parse(s.body)["status"], "SUCCESS");
  EXPECT_EQ(json::parse(s.body)["applied"], "applied");
  EXPECT_EQ(json::parse(s.body)["order_state"], "PARTIALLY_REFUNDED");

  // A refund is retried with its out_refund_no (the same refund); when every attempt's answer
  // is lost it is pending, never failed; the amount stays held; a query settles it.
  fault("refund", "timeout", 3000, 3);
  auto t = refund("RFD-000003", "RFD-000003-R2", 60);
  ASSERT_EQ(t.status, 202) << t.body;
  EXPECT_EQ(json::parse(t.body)["request"]["status"], "pending");
  EXPECT_EQ(refund("RFD-000003", "RFD-000003-R9", 1).status, 409);  // 40 done + 60 held
  ASSERT_TRUE(wait_refund("RFD-000003-R2", "SUCCESS"));  // its callback came after all
  auto q = api("POST", "/v1/refunds/RFD-000003-R2/sync");
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(json::parse(q.body)["applied"], "duplicate");
  stop(SIGTERM);
  EXPECT_EQ(scalar(db(), "SELECT refunded FROM orders WHERE out_trade_no = 'RFD-000003'"), 100);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM outbox WHERE event_type = 'refund.succeeded'"), 2);
}

TEST_F(Refunds, BadRefundRequestsGetAClearErrorAndHoldNothing) {
  start_provider();
  start();
  ASSERT_EQ(create(create_body("RFD-000004")).status, 201);
  EXPECT_EQ(refund("RFD-000004", "RFD-000004-R1", 10).status, 409);  // not paid
  EXPECT_EQ(refund("NOPE-000001", "NOPE-000001-R1", 10).status, 404);
  paid("RFD-000005");
  EXPECT_EQ(refund("RFD-000005", "RFD-000005-R1", 0).status, 400);
  EXPECT_EQ(refund("RFD-000005", "RFD-000005-R1", 101).status, 409);
  sim::HttpClient c;
  for (const std::string body :
       {"{", "[]", R"({"out_trade_no":"RFD-000005","amount":10})",
        R"({"out_trade_no":"RFD-000005","out_refund_no":"X-1","amount":"10"})",
        R"({"out_trade_no":"RFD-000005","out_refund_no":"X-1","amount":10,"extra":1})"}) {
    auto r = c.request("POST", url("/v1/refunds"), {{"Authorization", "Bearer " + token_}}, body, 5s);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
  }
  EXPECT_EQ(api("GET", "/v1/refunds/NOPE-R").status, 404);
  stop(SIGTERM);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM refunds"), 0);
  EXPECT_EQ(scalar(db(), "SELECT COUNT(*) FROM refund_requests"), 0);
}

}  // namespace
}  // namespace paygate::testing

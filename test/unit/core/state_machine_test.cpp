#include <gtest/gtest.h>

#include <limits>

#include "core/state_machine.hpp"

namespace paygate::core {
namespace {

using K = Decision::Kind;

Order order_in(OrderState s, int64_t refunded = 0) {
  Order o;
  o.merchant = "m";
  o.out_trade_no = "T1";
  o.amount = 1000;
  o.state = s;
  o.refunded = refunded;
  if (is_paid(s)) o.transaction_id = "TX1";
  return o;
}

PaymentEvent event(EventKind k, int64_t refund = 0, std::string tx = "TX1") {
  PaymentEvent e;
  e.kind = k;
  e.out_trade_no = "T1";
  e.transaction_id = std::move(tx);
  e.total = 1000;
  e.out_refund_no = "R1";
  e.refund_amount = refund;
  return e;
}

struct Row {
  OrderState state;
  int64_t refunded;
  EventKind event;
  int64_t refund_amount;
  const Refund* existing;
  K kind;
  OrderState next;
  const char* outbox;
};

const Refund kSucceeded{"m", "T1", "R1", "RID", 300, RefundStatus::kSucceeded, ""};
const Refund kAbnormal{"m", "T1", "R1", "RID", 300, RefundStatus::kAbnormal, ""};

// Every state x event, plus duplicates and regressions.
const Row kTable[] = {
    // payment succeeded
    {OrderState::kPending, 0, EventKind::kPaymentSucceeded, 0, nullptr, K::kApply, OrderState::kPaid, "order.paid"},
    {OrderState::kPaid, 0, EventKind::kPaymentSucceeded, 0, nullptr, K::kNoop, OrderState::kPaid, ""},
    {OrderState::kPartiallyRefunded, 300, EventKind::kPaymentSucceeded, 0, nullptr, K::kNoop, OrderState::kPartiallyRefunded, ""},
    {OrderState::kRefunded, 1000, EventKind::kPaymentSucceeded, 0, nullptr, K::kNoop, OrderState::kRefunded, ""},
    {OrderState::kClosed, 0, EventKind::kPaymentSucceeded, 0, nullptr, K::kAnomaly, OrderState::kClosed, ""},
    // payment closed
    {OrderState::kPending, 0, EventKind::kPaymentClosed, 0, nullptr, K::kApply, OrderState::kClosed, "order.closed"},
    {OrderState::kPaid, 0, EventKind::kPaymentClosed, 0, nullptr, K::kNoop, OrderState::kPaid, ""},
    {OrderState::kPartiallyRefunded, 300, EventKind::kPaymentClosed, 0, nullptr, K::kNoop, OrderState::kPartiallyRefunded, ""},
    {OrderState::kRefunded, 1000, EventKind::kPaymentClosed, 0, nullptr, K::kNoop, OrderState::kRefunded, ""},
    {OrderState::kClosed, 0, EventKind::kPaymentClosed, 0, nullptr, K::kNoop, OrderState::kClosed, ""},
    // refund succeeded
    {OrderState::kPending, 0, EventKind::kRefundSucceeded, 300, nullptr, K::kAnomaly, OrderState::kPending, ""},
    {OrderState::kPaid, 0, EventKind::kRefundSucceeded, 300, nullptr, K::kApply, OrderState::kPartiallyRefunded, "refund.succeeded"},
    {OrderState::kPaid, 0, EventKind::kRefundSucceeded, 1000, nullptr, K::kApply, OrderState::kRefunded, "refund.succeeded"},
    {OrderState::kPaid, 0, EventKind::kRefundSucceeded, 1001, nullptr, K::kAnomaly, OrderState::kPaid, ""},
    {OrderState::kPaid, 0, EventKind::kRefundSucceeded, 0, nullptr, K::kAnomaly, OrderState::kPaid, ""},
    {OrderState::kPartiallyRefunded, 300, EventKind::kRefundSucceeded, 700, nullptr, K::kApply, OrderState::kRefunded, "refund.succeeded"},
    {OrderState::kPartiallyRefunded, 300, EventKind::kRefundSucceeded, 701, nullptr, K::kAnomaly, OrderState::kPartiallyRefunded, ""},
    {OrderState::kPartiallyRefunded, 300, EventKind::kRefundSucceeded, 300, &kSucceeded, K::kNoop, OrderState::kPartiallyRefunded, ""},
    {OrderState::kPaid, 0, EventKind::kRefundSucceeded, 300, &kAbnormal, K::kApply, OrderState::kPartiallyRefunded, "refund.succeeded"},
    {OrderState::kRefunded, 1000, EventKind::kRefundSucceeded, 1, nullptr, K::kAnomaly, OrderState::kRefunded, ""},
    {OrderState::kClosed, 0, EventKind::kRefundSucceeded, 300, nullptr, K::kAnomaly, OrderState::kClosed, ""},
    // refund abnormal
    {OrderState::kPending, 0, EventKind::kRefundAbnormal, 300, nullptr, K::kAnomaly, OrderState::kPending, ""},
    {OrderState::kPaid, 0, EventKind::kRefundAbnormal, 300, nullptr, K::kApply, OrderState::kPaid, "refund.abnormal"},
    {OrderState::kPaid, 0, EventKind::kRefundAbnormal, 300, &kAbnormal, K::kNoop, OrderState::kPaid, ""},
    {OrderState::kPartiallyRefunded, 300, EventKind::kRefundAbnormal, 300, &kSucceeded, K::kNoop, OrderState::kPartiallyRefunded, ""},
    {OrderState::kRefunded, 1000, EventKind::kRefundAbnormal, 300, nullptr, K::kApply, OrderState::kRefunded, "refund.abnormal"},
    {OrderState::kClosed, 0, EventKind::kRefundAbnormal, 300, nullptr, K::kAnomaly, OrderState::kClosed, ""},
    // refund closed
    {OrderState::kPending, 0, EventKind::kRefundClosed, 300, nullptr, K::kAnomaly, OrderState::kPending, ""},
    {OrderState::kPaid, 0, EventKind::kRefundClosed, 300, nullptr, K::kApply, OrderState::kPaid, "refund.closed"},
    {OrderState::kPaid, 0, EventKind::kRefundClosed, 300, &kAbnormal, K::kApply, OrderState::kPaid, "refund.closed"},
    {OrderState::kPartiallyRefunded, 300, EventKind::kRefundClosed, 300, &kSucceeded, K::kNoop, OrderState::kPartiallyRefunded, ""},
    {OrderState::kRefunded, 1000, EventKind::kRefundClosed, 300, nullptr, K::kApply, OrderState::kRefunded, "refund.closed"},
    {OrderState::kClosed, 0, EventKind::kRefundClosed, 300, nullptr, K::kAnomaly, OrderState::kClosed, ""},
    // payment waiting (Alipay WAIT_BUYER_PAY): never changes anything
    {OrderState::kPending, 0, EventKind::kPaymentWaiting, 0, nullptr, K::kNoop, OrderState::kPending, ""},
    {OrderState::kPaid, 0, EventKind::kPaymentWaiting, 0, nullptr, K::kNoop, OrderState::kPaid, ""},
    {OrderState::kPartiallyRefunded, 300, EventKind::kPaymentWaiting, 0, nullptr, K::kNoop, OrderState::kPartiallyRefunded, ""},
    {OrderState::kRefunded, 1000, EventKind::kPaymentWaiting, 0, nullptr, K::kNoop, OrderState::kRefunded, ""},
    {OrderState::kClosed, 0, EventKind::kPaymentWaiting, 0, nullptr, K::kNoop, OrderState::kClosed, ""},
};

TEST(StateMachine, Table) {
  for (const auto& row : kTable) {
    SCOPED_TRACE(std::string(to_string(row.state)) + " x " + std::string(to_string(row.event)) +
                 " " + std::to_string(row.refund_amount));
    auto d = decide(order_in(row.state, row.refunded), event(row.event, row.refund_amount),
                    row.existing);
    EXPECT_EQ(d.kind, row.kind);
    EXPECT_EQ(d.next, row.next);
    EXPECT_EQ(d.outbox_event, row.outbox);
    if (row.kind != K::kApply) {
      EXPECT_FALSE(d.refund.has_value());
    }
  }
}

TEST(StateMachine, EveryStateEventPairIsCovered) {
  for (auto s : {OrderState::kPending, OrderState::kPaid, OrderState::kPartiallyRefunded,
                 OrderState::kRefunded, OrderState::kClosed}) {
    for (auto e : {EventKind::kPaymentSucceeded, EventKind::kPaymentClosed,
                   EventKind::kPaymentWaiting, EventKind::kRefundSucceeded, EventKind::kRefundAbnormal,
                   EventKind::kRefundClosed}) {
      bool found = false;
      for (const auto& row : kTable) found |= row.state == s && row.event == e;
      EXPECT_TRUE(found) << to_string(s) << " x " << to_string(e);
    }
  }
}

TEST(StateMachine, SecondPaymentWithOtherTransactionIsAnomaly) {
  auto d = decide(order_in(OrderState::kPaid), event(EventKind::kPaymentSucceeded, 0, "TX2"),
                  nullptr);
  EXPECT_EQ(d.kind, K::kAnomaly);
  EXPECT_EQ(d.anomaly, ErrorCode::kDoublePayment);
  EXPECT_EQ(d.outbox_event, "order.double_payment");  // the merchant hears of it
}

// A refund amount that would overflow the refunded total is an anomaly, never applied.
TEST(StateMachine, RefundThatWouldOverflowIsAnomaly) {
  auto o = order_in(OrderState::kPartiallyRefunded);
  o.refunded = 10;
  for (int64_t amount : {std::numeric_limits<int64_t>::max(),
                         std::numeric_limits<int64_t>::max() - 5}) {
    auto d = decide(o, event(EventKind::kRefundSucceeded, amount), nullptr);
    EXPECT_EQ(d.kind, K::kAnomaly) << amount;
    EXPECT_EQ(d.anomaly, ErrorCode::kRefundExceedsPaid) << amount;
  }
}

// Alipay states the refunded total, not the refund's own amount.
TEST(StateMachine, CumulativeRefundTotals) {
  auto o = order_in(OrderState::kPaid);
  auto e = event(EventKind::kRefundSucceeded, 400);
  e.refund_cumulative = true;
  auto d1 = decide(o, e, nullptr);
  ASSERT_EQ(d1.kind, K::kApply);
  EXPECT_EQ(d1.refund_amount, 400);
  EXPECT_EQ(d1.refunded, 400);
  o.state = d1.next;
  o.refunded = d1.refunded;
  e.out_refund_no = "R2";
  e.refund_amount = 1000;  // total after the second refund
  auto d2 = decide(o, e, nullptr);
  ASSERT_EQ(d2.kind, K::kApply);
  EXPECT_EQ(d2.refund_amount, 600);
  EXPECT_EQ(d2.next, OrderState::kRefunded);
  e.refund_amount = 400;  // a total already passed
  EXPECT_EQ(decide(o, e, nullptr).kind, K::kNoop);
  e.refund_amount = 1001;
  EXPECT_EQ(decide(o, e, nullptr).anomaly, ErrorCode::kRefundExceedsPaid);
}

TEST(StateMachine, RefundsAccumulate) {
  auto o = order_in(OrderState::kPaid);
  auto d1 = decide(o, event(EventKind::kRefundSucceeded, 400), nullptr);
  ASSERT_EQ(d1.kind, K::kApply);
  EXPECT_EQ(d1.refunded, 400);
  o.state = d1.next;
  o.refunded = d1.refunded;
  auto d2 = decide(o, event(EventKind::kRefundSucceeded, 600), nullptr);
  ASSERT_EQ(d2.kind, K::kApply);
  EXPECT_EQ(d2.refunded, 1000);
  EXPECT_EQ(d2.next, OrderState::kRefunded);
  EXPECT_EQ(decide(o, event(EventKind::kRefundSucceeded, 601), nullptr).anomaly,
            ErrorCode::kRefundExceedsPaid);
}

}  // namespace
}  // namespace paygate::core

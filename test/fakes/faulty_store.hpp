#pragma once
#include <atomic>
#include <memory>

#include "store/store.hpp"

namespace paygate::test {

// Wraps a real store; the Nth Tx call of the process (1-based, counted across work units)
// fails with kStoreUnavailable, as a full disk or I/O error would. N = 0 never fails.
class FaultyStore final : public store::Store {
 public:
  FaultyStore(store::Store& inner, int fail_at) : inner_(inner), fail_at_(fail_at) {}
  int calls() const { return calls_.load(); }

  void submit(store::Work work, store::Done done) override {
    inner_.submit(
        [this, work = std::move(work)](store::Tx& tx) {
          Tx wrapped(tx, *this);
          return work(wrapped);
        },
        std::move(done));
  }
  core::Result<std::optional<store::OrderDetails>> order_details(std::string_view m,
                                                                 std::string_view o) override {
    return inner_.order_details(m, o);
  }
  core::Result<std::optional<store::RefundDetails>> refund_details(std::string_view m,
                                                                   std::string_view r) override {
    return inner_.refund_details(m, r);
  }
  core::Result<std::vector<store::InboxEntry>> anomalies(std::string_view m, int l) override {
    return inner_.anomalies(m, l);
  }
  core::Result<std::optional<store::InboxEntry>> inbox_entry(int64_t id) override {
    return inner_.inbox_entry(id);
  }
  core::Result<std::vector<store::OutboxEvent>> outbox_for_order(std::string_view m,
                                                                 std::string_view o) override {
    return inner_.outbox_for_order(m, o);
  }
  core::Result<store::Counts> counts() override { return inner_.counts(); }
  std::size_t backlog() const override { return inner_.backlog(); }
  core::Result<std::vector<store::OutboxEvent>> list_events(const store::EventFilter& f) override {
    return inner_.list_events(f);
  }
  core::Result<std::optional<store::EventDetails>> event_details(int64_t id) override {
    return inner_.event_details(id);
  }
  core::Result<std::vector<store::EndpointState>> endpoint_states() override {
    return inner_.endpoint_states();
  }
  void when_durable(store::Done done) override { inner_.when_durable(std::move(done)); }
  bool healthy() const override { return inner_.healthy(); }
  void close() override { inner_.close(); }

 private:
  bool trip() { return ++calls_ == fail_at_; }
  core::Error err() const { return {core::ErrorCode::kStoreUnavailable, "injected fault"}; }

  class Tx final : public store::Tx {
   public:
    Tx(store::Tx& inner, FaultyStore& owner) : in_(inner), o_(owner) {}
#define PAYGATE_FAULT(call) \
  if (o_.trip()) return tl::unexpected(o_.err()); \
  return call;
    core::Result<std::optional<int64_t>> insert_inbox(const store::InboxEntry& e) override {
      PAYGATE_FAULT(in_.insert_inbox(e))
    }
    core::Result<void> finish_inbox(int64_t id, store::InboxStatus s, std::string_view c,
                                    std::string_view d) override {
      PAYGATE_FAULT(in_.finish_inbox(id, s, c, d))
    }
    core::Result<std::vector<store::InboxEntry>> waiting_for_order(std::string_view m,
                                                                  std::string_view o) override {
      PAYGATE_FAULT(in_.waiting_for_order(m, o))
    }
    core::Result<std::optional<store::InboxEntry>> find_inbox(int64_t id) override {
      PAYGATE_FAULT(in_.find_inbox(id))
    }
    core::Result<std::optional<core::Order>> find_order(std::string_view m,
                                                        std::string_view o) override {
      PAYGATE_FAULT(in_.find_order(m, o))
    }
    core::Result<bool> insert_order(const core::Order& o) override {
      PAYGATE_FAULT(in_.insert_order(o))
    }
    core::Result<void> update_order(const core::Order& o, core::OrderState from) override {
      PAYGATE_FAULT(in_.update_order(o, from))
    }
    core::Result<std::optional<core::Refund>> find_refund(std::string_view m,
                                                          std::string_view r) override {
      PAYGATE_FAULT(in_.find_refund(m, r))
    }
    core::Result<void> upsert_refund(const core::Refund& r) override {
      PAYGATE_FAULT(in_.upsert_refund(r))
    }
    core::Result<void> add_transition(const store::Transition& t) override {
      PAYGATE_FAULT(in_.add_transition(t))
    }
    core::Result<std::optional<store::Payment>> find_payment(std::string_view m,
                                                             std::string_view o) override {
      PAYGATE_FAULT(in_.find_payment(m, o))
    }
    core::Result<void> put_payment(const store::Payment& p) override {
      PAYGATE_FAULT(in_.put_payment(p))
    }
    core::Result<std::optional<store::RefundRequest>> find_refund_request(
        std::string_view m, std::string_view r) override {
      PAYGATE_FAULT(in_.find_refund_request(m, r))
    }
    core::Result<void> put_refund_request(const store::RefundRequest& r) override {
      PAYGATE_FAULT(in_.put_refund_request(r))
    }
    core::Result<store::RefundTotals> refund_totals(std::string_view m,
                                                    std::string_view o) override {
      PAYGATE_FAULT(in_.refund_totals(m, o))
    }
    core::Result<store::IdempotencyClaim> claim_idempotency_key(std::string_view m,
                                                                std::string_view k,
                                                                std::string_view h, int64_t now,
                                                                int64_t until) override {
      PAYGATE_FAULT(in_.claim_idempotency_key(m, k, h, now, until))
    }
    core::Result<void> finish_idempotency_key(std::string_view m, std::string_view k, int status,
                                              std::string_view r) override {
      PAYGATE_FAULT(in_.finish_idempotency_key(m, k, status, r))
    }
    core::Result<void> release_idempotency_key(std::string_view m, std::string_view k) override {
      PAYGATE_FAULT(in_.release_idempotency_key(m, k))
    }
    core::Result<int64_t> add_outbox(const store::OutboxEvent& e) override {
      PAYGATE_FAULT(in_.add_outbox(e))
    }
    core::Result<std::vector<store::OutboxEvent>> unrouted_outbox(int limit) override {
      PAYGATE_FAULT(in_.unrouted_outbox(limit))
    }
    core::Result<void> mark_routed(int64_t id) override { PAYGATE_FAULT(in_.mark_routed(id)) }
    core::Result<bool> insert_delivery(const store::Delivery& d) override {
      PAYGATE_FAULT(in_.insert_delivery(d))
    }
    core::Result<std::vector<store::ClaimedDelivery>> claim_deliveries(std::string_view e,
                                                                       int64_t now, int64_t lease,
                                                                       int limit) override {
      PAYGATE_FAULT(in_.claim_deliveries(e, now, lease, limit))
    }
    core::Result<void> finish_attempt(const store::Delivery& d,
                                      const store::DeliveryAttempt& a) override {
      PAYGATE_FAULT(in_.finish_attempt(d, a))
    }
    core::Result<void> release_deliveries(const std::vector<int64_t>& ids, int64_t now) override {
      PAYGATE_FAULT(in_.release_deliveries(ids, now))
    }
    core::Result<void> set_endpoint_state(const store::EndpointState& s) override {
      PAYGATE_FAULT(in_.set_endpoint_state(s))
    }
    core::Result<std::optional<store::EndpointState>> endpoint_state(std::string_view e) override {
      PAYGATE_FAULT(in_.endpoint_state(e))
    }
    core::Result<int> replay_deliveries(int64_t id, std::string_view e, int64_t since,
                                        int64_t now) override {
      PAYGATE_FAULT(in_.replay_deliveries(id, e, since, now))
    }
    core::Result<void> heartbeat(int64_t now_ms) override { PAYGATE_FAULT(in_.heartbeat(now_ms)) }
    core::Result<int64_t> prune(int64_t before_ms, int limit) override {
      PAYGATE_FAULT(in_.prune(before_ms, limit))
    }
#undef PAYGATE_FAULT
   private:
    store::Tx& in_;
    FaultyStore& o_;
  };

  store::Store& inner_;
  int fail_at_;
  std::atomic<int> calls_{0};
};

}  // namespace paygate::test

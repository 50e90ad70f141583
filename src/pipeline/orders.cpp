#include "pipeline/orders.hpp"

#include <memory>

#include "pipeline/event_json.hpp"

namespace paygate::pipeline {

using core::ErrorCode;
using core::fail;

namespace {

bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '/') return false;
  }
  return true;
}

bool same_content(const core::Order& a, const NewOrder& b) {
  return a.amount == b.amount && a.currency == b.currency && a.description == b.description &&
         a.expires_at == b.expires_at;
}

}  // namespace

core::Result<void> validate(const NewOrder& o) {
  if (!valid_id(o.out_trade_no)) {
    return fail(ErrorCode::kInvalidArgument,
                "out_trade_no must be 1-64 printable ASCII characters without '/'");
  }
  if (o.amount <= 0) return fail(ErrorCode::kInvalidArgument, "amount must be a positive integer");
  if (o.currency.size() != 3) {
    return fail(ErrorCode::kInvalidArgument, "currency must be a 3-letter code");
  }
  for (char c : o.currency) {
    if (c < 'A' || c > 'Z') return fail(ErrorCode::kInvalidArgument, "currency must be upper-case");
  }
  if (o.description.size() > 256) {
    return fail(ErrorCode::kInvalidArgument, "description is longer than 256 bytes");
  }
  return {};
}

void register_order(store::Store& store, const core::Clock& clock, NewOrder req,
                    std::function<void(core::Result<Registered>)> done, IdentityOf identity_of) {
  if (auto v = validate(req); !v) {
    done(tl::unexpected(v.error()));
    return;
  }
  auto out = std::make_shared<core::Result<Registered>>(fail(ErrorCode::kInternal, ""));
  const int64_t now = clock.now_ms();
  store.submit(
      [out, req = std::move(req), now, identity_of](store::Tx& tx) -> core::Result<void> {
        core::Order o;
        o.merchant = req.merchant;
        o.out_trade_no = req.out_trade_no;
        o.amount = req.amount;
        o.currency = req.currency;
        o.description = req.description;
        o.expires_at = req.expires_at;
        o.created_at_ms = now;
        o.updated_at_ms = now;
        auto inserted = tx.insert_order(o);
        if (!inserted) return tl::unexpected(inserted.error());
        if (*inserted) {
          auto t = tx.add_transition({o.merchant, o.out_trade_no, "", "PENDING",
                                      "order.registered", 0, now});
          if (!t) return tl::unexpected(t.error());
          *out = Registered{std::move(o), true, 0};
          if (!identity_of) return {};
          // The race every merchant hits: the payment notice came before the registration.
          auto waiting = tx.waiting_for_order(req.merchant, req.out_trade_no);
          if (!waiting) return tl::unexpected(waiting.error());
          for (const auto& entry : *waiting) {
            const Identity* id = identity_of(entry.provider);
            auto ev = event_from_json(entry.decoded_json);
            if (id == nullptr || !ev) continue;  // stays an anomaly, listed for a human
            auto applied = apply_event(tx, entry.id, *ev, *id, now);
            if (!applied) return tl::unexpected(applied.error());
            ++(*out)->released;
          }
          if ((*out)->released > 0) {
            auto now_stored = tx.find_order(req.merchant, req.out_trade_no);
            if (!now_stored) return tl::unexpected(now_stored.error());
            if (*now_stored) (*out)->order = std::move(**now_stored);
          }
          return {};
        }
        auto existing = tx.find_order(req.merchant, req.out_trade_no);
        if (!existing) return tl::unexpected(existing.error());
        if (!*existing) return fail(ErrorCode::kInternal, "order vanished");
        if (!same_content(**existing, req)) {
          *out = fail(ErrorCode::kConflict,
                      "out_trade_no is already registered with different content");
        } else {
          *out = Registered{std::move(**existing), false};
        }
        return {};
      },
      [out, done = std::move(done)](core::Result<void> committed) {
        if (!committed) {
          done(tl::unexpected(committed.error()));
          return;
        }
        done(std::move(*out));
      });
}

void check_ready(store::Store& store, const core::Clock& clock,
                 std::function<void(core::Result<void>)> done) {
  const int64_t now = clock.now_ms();
  store.submit([now](store::Tx& tx) { return tx.heartbeat(now); }, std::move(done));
}

}  // namespace paygate::pipeline

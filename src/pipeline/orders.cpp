#include "pipeline/orders.hpp"

#include <memory>

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
                    std::function<void(core::Result<Registered>)> done) {
  if (auto v = validate(req); !v) {
    done(tl::unexpected(v.error()));
    return;
  }
  auto out = std::make_shared<core::Result<Registered>>(fail(ErrorCode::kInternal, ""));
  const int64_t now = clock.now_ms();
  store.submit(
      [out, req = std::move(req), now](store::Tx& tx) -> core::Result<void> {
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
          *out = Registered{std::move(o), true};
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

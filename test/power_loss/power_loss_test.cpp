// The power-loss drill: the real store, the real payment pipeline and the real webhook worker
// on a disk (support/crash_disk.hpp) that loses power at a random write or sync, across group
// commits, checkpoints and WAL restarts. After each cut, the unsynced sectors are kept, lost
// whole or torn, and the database must be intact, hold every acknowledged callback exactly
// once, and hold the claim of every webhook that was sent.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "pipeline/apply.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/crash_disk.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/worker.hpp"

namespace paygate {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::CrashDisk;

using Rows = std::vector<std::vector<std::string>>;

Rows query(const std::string& path, const std::string& sql) {
  Rows out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    ADD_FAILURE() << "cannot open " << path;
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const auto* t = sqlite3_column_text(st, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

std::map<std::string, int> counts(const std::string& path, const std::string& sql) {
  std::map<std::string, int> out;
  for (const auto& r : query(path, sql)) out[r[0]] = std::stoi(r[1]);
  return out;
}

// Answers every POST with 204 from its own thread, as the real transport does, and keeps the
// webhook-id of each.
class Receiver final : public net::HttpClient {
 public:
  ~Receiver() override { join(); }
  void send(net::HttpRequest request, net::ResponseFn done) override {
    std::lock_guard lock(mu_);
    for (const auto& [k, v] : request.headers) {
      if (k == "webhook-id") ids_.insert(v);
    }
    threads_.emplace_back([done = std::move(done)] {
      net::HttpResponse r;
      r.status = 204;
      done(r);
    });
  }
  void join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }
  std::set<std::string> ids() {
    std::lock_guard lock(mu_);
    return ids_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> ids_;
  std::vector<std::thread> threads_;
};

core::Result<void> wait(store::Store& s, store::Work work) {
  std::promise<core::Result<void>> done;
  s.submit(std::move(work), [&](core::Result<void> r) { done.set_value(r); });
  return done.get_future().get();
}

TEST(PowerLoss, RandomCutsLoseNothingAcknowledged) {
  CrashDisk& disk = CrashDisk::instance();
  ASSERT_TRUE(disk.install());
  obs::set_log_level(obs::Level::kOff);  // every cycle's worker reports the dead disk once
  const char* env_cuts = std::getenv("PAYGATE_POWER_CUTS");
  const int cuts = env_cuts ? std::atoi(env_cuts) : 200;
  const char* env_seed = std::getenv("PAYGATE_POWER_SEED");
  const uint64_t seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : 20261202;
  std::mt19937_64 rng(seed);

  const fs::path dir = fs::temp_directory_path() / ("paygate-power-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (fs::canonical(dir) / "paygate.db").string();
  const std::string wal = path + "-wal";

  const pipeline::Identity identity{"m1", "1900000001", {"wxd930ea5d5a258f4f"}};
  core::SystemClock clock;
  webhooks::Endpoint endpoint;
  endpoint.id = "shop";
  endpoint.merchant = "m1";
  endpoint.url = "https://merchant.example/hooks";
  endpoint.secrets = {*webhooks::parse_secret("whsec_xWEOl5NCUO0U5fojt1ZtfvqMW/2/ONWSV6RYM65sbpQ=")};
  endpoint.timeout = 200ms;

  std::set<std::string> registered;
  std::map<std::string, std::string> acked;  // out_trade_no -> notification id acknowledged
  std::set<std::string> sent;                // webhook-ids that went out
  std::map<std::string, int> cut_on;
  CrashDisk::Fate total;
  // Cut points rotate over the kinds of operation, so group commits, checkpoints and WAL
  // restarts each get their share (checkpoint page writes would take most of a uniform draw).
  const std::vector<CrashDisk::Op> kinds = {CrashDisk::Op::kOther, CrashDisk::Op::kWalAppend,
                                            CrashDisk::Op::kWalHeader, CrashDisk::Op::kWalSync,
                                            CrashDisk::Op::kDbWrite, CrashDisk::Op::kDbSync};
  std::map<CrashDisk::Op, int64_t> estimate;
  int checked_cycles = 0, integrity_ok = 0, after_load = 0, fatal_reports = 0;
  const auto started = std::chrono::steady_clock::now();
  const int kOrdersPerCycle = 48;
  const std::string body(900, 'b');  // a callback's raw body is stored with it

  for (int cycle = 0; cycle <= cuts; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    std::atomic<int> fatal{0};
    store::SqliteOptions options{path};
    options.wal_checkpoint_pages = 24;  // checkpoints and WAL restarts every few commits
    options.wal_restart_pages = 72;
    options.sync_wal = [&disk, &wal](int) { return disk.sync(wal); };
    options.on_fatal = [&fatal](const core::Error&) { ++fatal; };
    auto opened = store::open_sqlite_store(options);
    ASSERT_TRUE(opened) << opened.error().detail;
    store::Store& s = **opened;

    std::vector<std::string> orders;
    for (int i = 0; i < kOrdersPerCycle; ++i) {
      char otn[32];
      std::snprintf(otn, sizeof otn, "P%04d-%02d", cycle, i);
      orders.push_back(otn);
    }
    ASSERT_TRUE(wait(s, [&](store::Tx& tx) -> core::Result<void> {
      for (const auto& otn : orders) {
        core::Order o;
        o.merchant = "m1";
        o.out_trade_no = otn;
        o.amount = 100;
        auto r = tx.insert_order(o);
        if (!r) return tl::unexpected(r.error());
      }
      return {};
    }));
    registered.insert(orders.begin(), orders.end());

    Receiver receiver;
    obs::Registry registry;
    webhooks::WorkerOptions wo;
    wo.poll = 2ms;
    webhooks::DeliveryWorker worker(s, receiver, clock, registry, {endpoint}, wo);
    worker.start();

    const CrashDisk::Op kind = kinds[static_cast<std::size_t>(cycle) % kinds.size()];
    const int64_t cut_at =
        cycle == 0 ? 0 : 1 + static_cast<int64_t>(rng() % std::max<int64_t>(1, estimate[kind]));
    disk.arm(cut_at, kind);
    std::mutex mu;
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
      callers.emplace_back([&, t, dup_seed = rng()] {
        std::mt19937_64 local(dup_seed);
        for (std::size_t i = static_cast<std::size_t>(t); i < orders.size(); i += 4) {
          core::PaymentEvent e;
          e.kind = core::EventKind::kPaymentSucceeded;
          e.provider = "wechatpay_v3";
          e.notification_id = "N-" + orders[i];
          e.provider_event = "TRANSACTION.SUCCESS";
          e.mchid = identity.provider_mchid;
          e.appid = identity.appids[0];
          e.out_trade_no = orders[i];
          e.transaction_id = "T-" + orders[i];
          e.total = 100;
          e.currency = "CNY";
          e.success_time = "2026-12-02T12:00:00+08:00";
          store::InboxEntry entry;
          entry.provider = e.provider;
          entry.merchant = identity.merchant;
          entry.notification_id = e.notification_id;
          entry.business_key = e.business_key();
          entry.event_type = e.provider_event;
          entry.out_trade_no = e.out_trade_no;
          entry.body = body;
          entry.received_at_ms = clock.now_ms();
          // Providers resend: some notifications arrive twice.
          const int sends = local() % 4 == 0 ? 2 : 1;
          for (int k = 0; k < sends; ++k) {
            auto r = wait(s, [&](store::Tx& tx) -> core::Result<void> {
              auto a = pipeline::record_and_apply(tx, entry, e, identity, entry.received_at_ms);
              if (!a) return tl::unexpected(a.error());
              return {};
            });
            if (r) {
              std::lock_guard lock(mu);
              acked[orders[i]] = e.notification_id;
            }
          }
        }
      });
    }
    for (auto& c : callers) c.join();
    // Let delivery catch up with the last events (or fail against the dead disk).
    std::this_thread::sleep_for(20ms);
    worker.stop(0ms);
    receiver.join();
    const auto ids = receiver.ids();
    sent.insert(ids.begin(), ids.end());
    const bool was_cut = disk.dead();
    if (!was_cut) {
      // A load that ran out before its cut point did fewer operations than the estimate: the
      // estimate shrinks to it, so later cuts fall inside the load (the first run sets it).
      for (auto k : kinds) {
        estimate[k] = cycle == 0 ? disk.ops(k) : std::min(estimate[k], std::max<int64_t>(1, disk.ops(k)));
      }
      if (cycle > 0) ++after_load;
    } else {
      ++cut_on[CrashDisk::name(disk.cut_on())];
    }
    s.close();
    fatal_reports += fatal.load();
    if (cycle == 0) {
      ASSERT_GT(estimate[CrashDisk::Op::kOther], 50);
      ASSERT_GT(estimate[CrashDisk::Op::kWalHeader], 1);  // the WAL started over during the load
    }
    opened->reset();

    const auto fate = disk.power_loss(rng);
    total.sectors_kept += fate.sectors_kept;
    total.sectors_lost += fate.sectors_lost;
    total.sectors_torn += fate.sectors_torn;
    total.files_cut_short += fate.files_cut_short;

    // What the power left behind.
    const auto integrity = query(path, "PRAGMA integrity_check");
    ASSERT_EQ(integrity.size(), 1u);
    ASSERT_EQ(integrity[0][0], "ok") << "cut at op " << cut_at;
    ++integrity_ok;
    const auto inbox = counts(path, "SELECT notification_id, COUNT(*) FROM inbox GROUP BY 1");
    const auto paid = counts(path,
        "SELECT out_trade_no, COUNT(*) FROM transitions WHERE to_state = 'PAID' GROUP BY 1");
    const auto events = counts(path,
        "SELECT out_trade_no, COUNT(*) FROM outbox WHERE event_type = 'order.paid' GROUP BY 1");
    std::map<std::string, std::string> state;
    for (const auto& r : query(path, "SELECT out_trade_no, state FROM orders")) state[r[0]] = r[1];
    for (const auto& otn : registered) ASSERT_TRUE(state.count(otn)) << otn;
    for (const auto& [otn, n] : acked) {
      ASSERT_EQ(inbox.count(n) ? inbox.at(n) : 0, 1) << "acknowledged " << n << " cut at " << cut_at;
      ASSERT_EQ(state[otn], "PAID") << otn;
      ASSERT_EQ(paid.count(otn) ? paid.at(otn) : 0, 1) << otn;
      ASSERT_EQ(events.count(otn) ? events.at(otn) : 0, 1) << otn;
    }
    for (const auto& [otn, n] : paid) ASSERT_EQ(n, 1) << otn;  // nothing applied twice
    for (const auto& [otn, n] : events) ASSERT_EQ(n, 1) << otn;
    std::set<std::string> claimed;
    for (const auto& r : query(path, "SELECT webhook_id FROM deliveries")) claimed.insert(r[0]);
    for (const auto& id : sent) ASSERT_TRUE(claimed.count(id)) << "sent " << id << " unclaimed";
    ASSERT_EQ(query(path, "SELECT COUNT(*) FROM deliveries d LEFT JOIN outbox o "
                          "ON o.id = d.outbox_id WHERE o.id IS NULL")[0][0], "0");
    ++checked_cycles;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string where;
  for (const auto& [k, n] : cut_on) where += "  " + k + ": " + std::to_string(n) + "\n";
  std::printf(
      "power-loss drill (seed %llu): %d cut points in %.1f s, %d more after the load; "
      "integrity ok %d/%d\n%s"
      "  unsynced sectors kept %lld, lost %lld, torn %lld; files cut short %d\n"
      "  acknowledged callbacks checked each time: %zu (last); webhook sends checked: %zu; "
      "failed syncs reported %d\n",
      static_cast<unsigned long long>(seed), cuts - after_load, secs, after_load, integrity_ok,
      checked_cycles, where.c_str(), static_cast<long long>(total.sectors_kept),
      static_cast<long long>(total.sectors_lost), static_cast<long long>(total.sectors_torn),
      total.files_cut_short, acked.size(), sent.size(), fatal_reports);
  EXPECT_GE(cuts - after_load, cuts * 8 / 10);
  EXPECT_GT(cut_on[CrashDisk::name(CrashDisk::Op::kWalHeader)], 0);
  EXPECT_GT(cut_on[CrashDisk::name(CrashDisk::Op::kWalSync)], 0);
  EXPECT_GT(cut_on[CrashDisk::name(CrashDisk::Op::kWalHeader)] +
                cut_on[CrashDisk::name(CrashDisk::Op::kWalAppend)], 0);
  EXPECT_GT(cut_on[CrashDisk::name(CrashDisk::Op::kDbWrite)], 0);
  EXPECT_GT(total.sectors_lost, 0);
  EXPECT_GT(total.sectors_torn, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace paygate

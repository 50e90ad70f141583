#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "pipeline/retention.hpp"
#include "store/sqlite/deliveries.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/wal_vfs.hpp"
#include "support/db.hpp"

namespace paygate {
namespace {

namespace fs = std::filesystem;

// The orders table as schema versions 1 and 2 created it.
constexpr const char* kOldOrdersTable =
    "CREATE TABLE orders (merchant TEXT NOT NULL, out_trade_no TEXT NOT NULL, amount INTEGER "
    "NOT NULL, currency TEXT NOT NULL, description TEXT NOT NULL, expires_at INTEGER, state "
    "TEXT NOT NULL, refunded INTEGER NOT NULL DEFAULT 0, provider TEXT NOT NULL DEFAULT '', "
    "transaction_id TEXT NOT NULL DEFAULT '', paid_at TEXT NOT NULL DEFAULT '', created_at_ms "
    "INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, PRIMARY KEY (merchant, out_trade_no)) "
    "WITHOUT ROWID;";

// An order.paid event of `otn` and its delivery to endpoint "shop"; the event's id.
core::Result<int64_t> add_event_and_delivery(store::Tx& tx, const std::string& otn,
                                          const std::string& webhook_id,
                                          store::DeliveryStatus status = store::DeliveryStatus::kPending,
                                          int64_t created_ms = 1, int64_t updated_ms = 0) {
  store::OutboxEvent e{0, "m1", otn, "order.paid", "{}", 0, created_ms};
  auto id = tx.add_outbox(e);
  if (!id) return tl::unexpected(id.error());
  store::Delivery d;
  d.outbox_id = *id;
  d.endpoint = "shop";
  d.merchant = "m1";
  d.out_trade_no = otn;
  d.event_type = e.event_type;
  d.webhook_id = webhook_id;
  d.status = status;
  d.created_at_ms = created_ms;
  d.updated_at_ms = updated_ms;
  if (auto r = tx.insert_delivery(d); !r) return tl::unexpected(r.error());
  return *id;
}

// An applied inbox row of `body`'s size: the WAL tests' unit of work.
core::Result<void> insert_applied(store::Tx& tx, const std::string& id, const std::string& body) {
  store::InboxEntry e;
  e.provider = "p";
  e.merchant = "m1";
  e.notification_id = id;
  e.business_key = id;
  e.body = body;
  e.status = store::InboxStatus::kApplied;
  auto r = tx.insert_inbox(e);
  if (!r) return tl::unexpected(r.error());
  return {};
}

int64_t status_code(store::DeliveryStatus s) {
  return s == store::DeliveryStatus::kDelivered ? 204 : 500;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("paygate-store-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "paygate.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void exec(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
    const std::string err = msg ? msg : "";
    sqlite3_free(msg);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << err;
  }

  static core::Order order(const std::string& otn, core::OrderState state) {
    core::Order o;
    o.merchant = "m1";
    o.out_trade_no = otn;
    o.amount = 100;
    o.currency = "CNY";
    o.state = state;
    return o;
  }

  // One unit of work, waited for; its result.
  static core::Result<void> attempt(store::Store& s, store::Work work) {
    std::promise<core::Result<void>> done;
    s.submit(std::move(work), [&](core::Result<void> r) { done.set_value(r); });
    return done.get_future().get();
  }
  static core::Result<void> insert_into(store::Store& s, const std::string& otn) {
    return attempt(s, [otn](store::Tx& tx) -> core::Result<void> {
      return tx.insert_order(order(otn, core::OrderState::kPending)).map([](bool) {});
    });
  }
  static void run(store::Store& s, store::Work work) {
    auto r = attempt(s, std::move(work));
    ASSERT_TRUE(r) << r.error().detail;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, OrderCountsFollowInsertsAndStateChanges) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  run(**s, [](store::Tx& tx) -> core::Result<void> {
    for (const char* otn : {"a", "b", "c"}) {
      if (auto r = tx.insert_order(order(otn, core::OrderState::kPending)); !r) {
        return tl::unexpected(r.error());
      }
    }
    auto paid = order("a", core::OrderState::kPaid);
    if (auto r = tx.update_order(paid, core::OrderState::kPending); !r) return r;
    // Same state again: no change in the counts.
    return tx.update_order(paid, core::OrderState::kPaid);
  });
  auto c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->orders_by_state["PENDING"], 2);
  EXPECT_EQ(c->orders_by_state["PAID"], 1);
  EXPECT_EQ(c->orders_by_state.size(), 2u);
  (*s)->close();
  EXPECT_EQ(testing::scalar(path_, "PRAGMA user_version"), 5);
  EXPECT_EQ(testing::scalar(path_, "SELECT n FROM order_counts WHERE state = 'PENDING'"), 2);
}

TEST_F(SqliteStoreTest, CountsAddUpOverManyUnitsInOneCommit) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  // Submitted together, so the writer folds them into few commits; one unit of each ten fails.
  std::vector<std::promise<core::Result<void>>> done(200);
  for (int i = 0; i < 200; ++i) {
    (*s)->submit(
        [i](store::Tx& tx) -> core::Result<void> {
          const auto otn = "o" + std::to_string(i);
          if (auto r = tx.insert_order(order(otn, core::OrderState::kPending)); !r) {
            return tl::unexpected(r.error());
          }
          if (i % 2 == 0) {
            if (auto r = tx.update_order(order(otn, core::OrderState::kPaid),
                                         core::OrderState::kPending);
                !r) {
              return r;
            }
          }
          if (i % 10 == 9) return tl::unexpected(core::Error{core::ErrorCode::kInternal, "no"});
          return {};
        },
        [&done, i](core::Result<void> r) { done[static_cast<std::size_t>(i)].set_value(r); });
  }
  int failed = 0;
  for (auto& d : done) failed += d.get_future().get() ? 0 : 1;
  EXPECT_EQ(failed, 20);
  auto c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->orders_by_state["PAID"], 100);    // every even i; the failing ones are odd
  EXPECT_EQ(c->orders_by_state["PENDING"], 80);  // 100 odd, 20 of them rolled back
  (*s)->close();
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM orders WHERE state = 'PENDING'"), 80);
  EXPECT_EQ(testing::scalar(path_, "SELECT n FROM order_counts WHERE state = 'PENDING'"), 80);
}

TEST_F(SqliteStoreTest, UpdateFromAStateTheOrderIsNotInIsAConflict) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  run(**s, [](store::Tx& tx) -> core::Result<void> {
    return tx.insert_order(order("a", core::OrderState::kPending)).map([](bool) {});
  });
  auto r = attempt(**s, [](store::Tx& tx) -> core::Result<void> {
    return tx.update_order(order("a", core::OrderState::kRefunded), core::OrderState::kPaid);
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kConflict);
  auto c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->orders_by_state["PENDING"], 1);
  EXPECT_EQ(c->orders_by_state.count("REFUNDED"), 0u);
  (*s)->close();
}

TEST_F(SqliteStoreTest, RolledBackWorkLeavesCountsUnchanged) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  run(**s, [](store::Tx& tx) -> core::Result<void> {
    return tx.insert_order(order("a", core::OrderState::kPending)).map([](bool) {});
  });
  EXPECT_FALSE(attempt(**s, [](store::Tx& tx) -> core::Result<void> {
    if (auto r = tx.update_order(order("a", core::OrderState::kPaid), core::OrderState::kPending);
        !r) {
      return r;
    }
    return tl::unexpected(core::Error{core::ErrorCode::kInternal, "abandon"});
  }));
  auto c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->orders_by_state["PENDING"], 1);
  EXPECT_EQ(c->orders_by_state.count("PAID"), 0u);
  (*s)->close();
}

TEST_F(SqliteStoreTest, VersionOneDatabaseIsMigratedWithItsCounts) {
  // The version 1 layout: counts came from an index on orders(state).
  exec(path_,
       std::string(kOldOrdersTable) +
       "CREATE INDEX orders_state ON orders(state);"
       "INSERT INTO orders (merchant, out_trade_no, amount, currency, description, state, "
       "created_at_ms, updated_at_ms) VALUES ('m1', 'a', 1, 'CNY', '', 'PAID', 0, 0), "
       "('m1', 'b', 1, 'CNY', '', 'PENDING', 0, 0), ('m1', 'c', 1, 'CNY', '', 'PAID', 0, 0);"
       "PRAGMA user_version=1;");
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  auto c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->orders_by_state["PAID"], 2);
  EXPECT_EQ(c->orders_by_state["PENDING"], 1);
  run(**s, [](store::Tx& tx) -> core::Result<void> {
    auto o = tx.find_order("m1", "b");
    if (!o) return tl::unexpected(o.error());
    (*o)->state = core::OrderState::kPaid;
    return tx.update_order(**o, core::OrderState::kPending);
  });
  c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->orders_by_state["PAID"], 3);
  EXPECT_EQ(c->orders_by_state["PENDING"], 0);
  (*s)->close();
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'orders_state'"),
            0);
  EXPECT_EQ(testing::scalar(path_, "PRAGMA user_version"), 5);
}

TEST_F(SqliteStoreTest, VersionTwoTriggersAreDroppedAndCountsRecounted) {
  // Version 2 kept order_counts with triggers; here they are stale on purpose.
  exec(path_,
       std::string(kOldOrdersTable) +
       "CREATE TABLE order_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
       "INSERT INTO orders (merchant, out_trade_no, amount, currency, description, state, "
       "created_at_ms, updated_at_ms) VALUES ('m1', 'a', 1, 'CNY', '', 'PAID', 0, 0), "
       "('m1', 'b', 1, 'CNY', '', 'PENDING', 0, 0);"
       "INSERT INTO order_counts VALUES ('PAID', 7);"
       "CREATE TRIGGER orders_count_insert AFTER INSERT ON orders BEGIN "
       "INSERT INTO order_counts (state, n) VALUES (new.state, 1) "
       "ON CONFLICT (state) DO UPDATE SET n = n + 1; END;"
       "PRAGMA user_version=2;");
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  run(**s, [](store::Tx& tx) -> core::Result<void> {
    return tx.insert_order(order("c", core::OrderState::kPending)).map([](bool) {});
  });
  auto c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->orders_by_state["PAID"], 1);
  EXPECT_EQ(c->orders_by_state["PENDING"], 2);  // once: no trigger counted it a second time
  (*s)->close();
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' "
                                   "AND name LIKE 'orders%'"), 0);
  EXPECT_EQ(testing::scalar(path_, "PRAGMA user_version"), 5);
}

TEST_F(SqliteStoreTest, WalStartsOverUnderSustainedWritesInsteadOfGrowing) {
  store::SqliteOptions options{path_};
  options.wal_checkpoint_pages = 200;
  options.wal_restart_pages = 800;
  auto s = store::open_sqlite_store(options);
  ASSERT_TRUE(s) << s.error().detail;
  const std::string body(1500, 'b');
  std::uintmax_t largest = 0;
  int stored = 0;
  for (int round = 0; round < 25; ++round) {
    // Many units at once, so the writer never pauses between transactions.
    std::vector<std::promise<core::Result<void>>> done(200);
    for (int i = 0; i < 200; ++i) {
      (*s)->submit(
          [&body, round, i](store::Tx& tx) {
            return insert_applied(tx, std::to_string(round) + "-" + std::to_string(i), body);
          },
          [&done, i](core::Result<void> r) { done[static_cast<std::size_t>(i)].set_value(r); });
    }
    for (auto& d : done) stored += d.get_future().get() ? 1 : 0;
    largest = std::max(largest, fs::file_size(path_ + "-wal"));
  }
  EXPECT_EQ(stored, 5000);
  // ~2 pages per row: about 10,000 pages went through a WAL that stays near 800 pages (plus
  // the transaction that crosses the limit).
  EXPECT_LT(largest, std::uintmax_t{1600} * 2072) << largest;
  (*s)->close();
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM inbox"), 5000);
  EXPECT_EQ(testing::text(path_, "PRAGMA integrity_check"), "ok");
}

// Past the restart size the checkpointer's passes catch up with the writer while units keep
// coming, and the WAL starts over again and again. (Whether the writer had to copy the rest
// itself depends on how busy the disk is; `make bench` prints how often it did: 0 in the runs
// in docs/BENCHMARKS.md.)
TEST_F(SqliteStoreTest, WalStartsOverAgainAndAgainWhileUnitsKeepComing) {
  store::SqliteOptions options{path_};
  options.max_batch = 64;  // commits of ~130 pages, well inside the limits below
  options.wal_checkpoint_pages = 400;
  options.wal_catch_up_pages = 64;
  options.wal_restart_pages = 3200;  // the writer would copy past 4,000
  // Here the writer appends about as fast as a pass copies; let the last pass always finish,
  // and pace commits as a gateway's are (~2 ms apart).
  options.wal_restart_wait = std::chrono::seconds(2);
  options.sync_wal = [](int fd) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return ::fdatasync(fd) == 0 ? 0 : errno;
  };
  const int64_t restarts_before = store::sqlite::wal_vfs_stats().header_syncs;
  std::atomic<int> by_checkpointer{0};
  options.on_checkpoint = [&](int, int, int, bool by_writer) {
    if (!by_writer) ++by_checkpointer;
  };
  auto s = store::open_sqlite_store(options);
  ASSERT_TRUE(s) << s.error().detail;
  const std::string body(1500, 'b');
  constexpr int kUnits = 8000;
  std::atomic<std::uintmax_t> largest{0};
  std::promise<void> all_done;
  std::atomic<int> stored{0}, answered{0};
  const std::string wal = path_ + "-wal";
  // All queued at once: the writer never runs out of work between transactions.
  for (int i = 0; i < kUnits; ++i) {
    (*s)->submit(
        [&body, i](store::Tx& tx) { return insert_applied(tx, std::to_string(i), body); },
        [&, i](core::Result<void> r) {
          if (r) ++stored;
          if (i % 50 == 0) {
            std::error_code ec;
            const auto size = fs::file_size(wal, ec);
            if (!ec && size > largest) largest = size;
          }
          if (++answered == kUnits) all_done.set_value();
        });
  }
  all_done.get_future().wait();
  EXPECT_EQ(stored.load(), kUnits);
  // ~2 pages per row: ~16,000 pages went through a WAL that started over past 3,200 pages
  // (each start writes and syncs a new header), and passes ran all along.
  const int64_t restarts = store::sqlite::wal_vfs_stats().header_syncs - restarts_before;
  EXPECT_GE(restarts, 2);
  EXPECT_GE(by_checkpointer.load(), restarts);
  EXPECT_LT(largest.load(), std::uintmax_t{8000} * 2072) << largest.load();
  (*s)->close();
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM inbox"), kUnits);
  EXPECT_EQ(testing::text(path_, "PRAGMA integrity_check"), "ok");
}

// fsyncgate: after a failed fdatasync the kernel may have dropped the pages and cleared the
// error, so a later "successful" sync proves nothing. The first failure is final.
TEST_F(SqliteStoreTest, AFailedSyncFailsEveryUnitFromThenOnAndIsReportedOnce) {
  std::atomic<int> syncs{0};
  std::atomic<int> fatal{0};
  store::SqliteOptions options{path_};
  options.sync_wal = [&](int fd) {
    // The third sync fails; later ones would succeed, as after a cleared writeback error.
    return ++syncs == 3 ? EIO : (::fdatasync(fd) == 0 ? 0 : errno);
  };
  options.on_fatal = [&](const core::Error&) { ++fatal; };
  auto s = store::open_sqlite_store(options);
  ASSERT_TRUE(s) << s.error().detail;
  auto insert = [&](const std::string& otn) {
    return attempt(**s, [otn](store::Tx& tx) -> core::Result<void> {
      return tx.insert_order(order(otn, core::OrderState::kPending)).map([](bool) {});
    });
  };
  EXPECT_TRUE(insert("a"));
  EXPECT_TRUE(insert("b"));
  EXPECT_TRUE((*s)->healthy());
  auto failed = insert("c");  // its sync fails
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, core::ErrorCode::kStoreUnavailable);
  EXPECT_NE(failed.error().detail.find("fsync"), std::string::npos) << failed.error().detail;
  EXPECT_FALSE((*s)->healthy());
  // Nothing is acknowledged any more, though the disk would now say yes.
  for (const char* otn : {"d", "e", "a"}) EXPECT_FALSE(insert(otn)) << otn;
  std::promise<core::Result<void>> durable;
  (*s)->when_durable([&](core::Result<void> r) { durable.set_value(r); });
  EXPECT_FALSE(durable.get_future().get());
  EXPECT_EQ(syncs.load(), 3);  // no sync after the failed one
  EXPECT_EQ(fatal.load(), 1);
  (*s)->close();
  // A restart recovers from what is on disk: the acknowledged orders are there, none after.
  auto again = store::open_sqlite_store({path_});
  ASSERT_TRUE(again) << again.error().detail;
  for (const char* otn : {"a", "b"}) {
    auto d = (*again)->order_details("m1", otn);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->has_value()) << otn;
  }
  EXPECT_FALSE((*again)->order_details("m1", "d")->has_value());
  EXPECT_TRUE(insert_into(**again, "f"));
  (*again)->close();
  EXPECT_EQ(testing::text(path_, "PRAGMA integrity_check"), "ok");
}

// A commit is visible to readers before its fsync; when_durable holds an answer back until it
// is on disk.
TEST_F(SqliteStoreTest, WhenDurableWaitsForTheSyncOfEverythingAReadCouldSee) {
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false, holding = false;
  store::SqliteOptions options{path_};
  options.sync_wal = [&](int fd) {
    std::unique_lock lock(mu);
    holding = hold;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    holding = false;
    return ::fdatasync(fd) == 0 ? 0 : errno;
  };
  auto s = store::open_sqlite_store(options);
  ASSERT_TRUE(s) << s.error().detail;
  std::promise<core::Result<void>> nothing_pending;
  (*s)->when_durable([&](core::Result<void> r) { nothing_pending.set_value(r); });
  EXPECT_TRUE(nothing_pending.get_future().get());  // at once: nothing committed yet

  {
    std::lock_guard lock(mu);
    hold = true;
  }
  std::promise<core::Result<void>> applied;
  (*s)->submit([](store::Tx& tx) -> core::Result<void> {
    return tx.insert_order(order("a", core::OrderState::kPending)).map([](bool) {});
  }, [&](core::Result<void> r) { applied.set_value(r); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return holding; });  // committed, its sync not done
  }
  auto seen = (*s)->order_details("m1", "a");
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->has_value());  // the reader connection already sees the commit
  std::atomic<bool> answered{false};
  std::promise<core::Result<void>> durable;
  (*s)->when_durable([&](core::Result<void> r) {
    answered = true;
    durable.set_value(r);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(answered.load());
  {
    std::lock_guard lock(mu);
    hold = false;
  }
  cv.notify_all();
  EXPECT_TRUE(durable.get_future().get());
  EXPECT_TRUE(applied.get_future().get());
  (*s)->close();
}

// A bounded queue: while the writer is held up, work past the bound is refused at once
// (the provider gets a 503 and retries) instead of waiting past the provider's timeout.
TEST_F(SqliteStoreTest, AFullQueueShedsWorkAtOnceAndLosesNothingQueued) {
  store::SqliteOptions options{path_};
  options.max_queued = 5;
  std::atomic<int> shed{0};
  options.on_shed = [&] { ++shed; };
  auto s = store::open_sqlite_store(options);
  ASSERT_TRUE(s) << s.error().detail;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  std::promise<core::Result<void>> first;
  (*s)->submit([&](store::Tx&) -> core::Result<void> {
    entered.set_value();
    released.wait();  // the writer is stuck here
    return {};
  }, [&](core::Result<void> r) { first.set_value(r); });
  entered.get_future().wait();
  std::vector<std::promise<core::Result<void>>> done(12);
  for (int i = 0; i < 12; ++i) {
    (*s)->submit([i](store::Tx& tx) -> core::Result<void> {
      return tx.insert_order(order("q" + std::to_string(i), core::OrderState::kPending)).map([](bool) {});
    }, [&done, i](core::Result<void> r) { done[static_cast<std::size_t>(i)].set_value(r); });
  }
  // Refused ones answer before the writer moves.
  for (int i = 5; i < 12; ++i) {
    auto f = done[static_cast<std::size_t>(i)].get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(2)), std::future_status::ready) << i;
    auto r = f.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, core::ErrorCode::kOverloaded);
  }
  EXPECT_EQ(shed.load(), 7);
  release.set_value();
  EXPECT_TRUE(first.get_future().get());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(done[static_cast<std::size_t>(i)].get_future().get()) << i;
  (*s)->close();
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM orders"), 5);
}

// A result counts only while its claim's lease is the delivery's: a late result (the lease ran
// out and another claim, a replay or a success came first) is kept as an attempt and changes
// nothing; a delivered event can be replayed with the same webhook-id.
TEST_F(SqliteStoreTest, LateResultsNeverOverwriteAndDeliveredEventsReplay) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  int64_t event = 0;
  run(**s, [&](store::Tx& tx) -> core::Result<void> {
    auto id = add_event_and_delivery(tx, "A", "msg_same");
    if (!id) return tl::unexpected(id.error());
    event = *id;
    return {};
  });
  auto claim = [&](int64_t now, int64_t lease) {
    std::vector<store::ClaimedDelivery> got;
    run(**s, [&](store::Tx& tx) -> core::Result<void> {
      auto c = tx.claim_deliveries("shop", now, lease, 10);
      if (!c) return tl::unexpected(c.error());
      got = *c;
      return {};
    });
    return got;
  };
  auto finish = [&](store::Delivery d, store::DeliveryStatus status, int64_t at) {
    d.status = status;
    d.due_at_ms = at + 5000;
    d.updated_at_ms = at;
    run(**s, [d, at](store::Tx& tx) {
      return tx.finish_attempt(d, {d.id, at, status_code(d.status), "x", 1, "", ""});
    });
  };
  auto first = claim(100, 1100);
  ASSERT_EQ(first.size(), 1u);
  auto second = claim(1200, 2200);  // the first lease ran out: claimed again
  ASSERT_EQ(second.size(), 1u);
  finish(second[0].delivery, store::DeliveryStatus::kDelivered, 1300);
  finish(first[0].delivery, store::DeliveryStatus::kPending, 1400);  // late failure
  const std::string sql_status = "SELECT status FROM deliveries WHERE webhook_id = 'msg_same'";
  EXPECT_EQ(testing::text(path_, sql_status), "delivered");
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM delivery_attempts"), 2);
  // Replaying the delivered event schedules it again, same webhook-id.
  int replayed = 0;
  run(**s, [&](store::Tx& tx) -> core::Result<void> {
    auto n = tx.replay_deliveries(event, "", 0, 2000);
    if (!n) return tl::unexpected(n.error());
    replayed = *n;
    return {};
  });
  EXPECT_EQ(replayed, 1);
  auto again = claim(2000, 3000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].delivery.webhook_id, "msg_same");
  // A result of the delivered claim arriving now does not touch the new claim.
  finish(second[0].delivery, store::DeliveryStatus::kDead, 2100);
  EXPECT_EQ(testing::text(path_, sql_status), "delivering");
  (*s)->close();
}

// Every query the merchant API and /metrics run is answered from an index, never by reading
// a whole table (deliveries and the outbox grow without bound).
TEST_F(SqliteStoreTest, MerchantQueriesUseIndexesNotScans) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  (*s)->close();
  for (const auto& [name, sql] : store::sqlite::merchant_queries()) {
    std::string plan;
    for (const auto& row : testing::rows(path_, "EXPLAIN QUERY PLAN " + sql)) plan += row + "\n";
    EXPECT_EQ(plan.find("SCAN"), std::string::npos) << name << ":\n" << plan;
    EXPECT_NE(plan.find("SEARCH"), std::string::npos) << name << ":\n" << plan;
  }
}

// Deliveries per status are counted by triggers from the first row on, and recounted once
// when an older database is migrated.
TEST_F(SqliteStoreTest, DeliveryCountsFollowEveryStatusChange) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  run(**s, [&](store::Tx& tx) -> core::Result<void> {
    for (int i = 0; i < 3; ++i) {
      auto id = add_event_and_delivery(tx, "o" + std::to_string(i), "msg_" + std::to_string(i));
      if (!id) return tl::unexpected(id.error());
    }
    auto claimed = tx.claim_deliveries("shop", 10, 1000, 1);
    if (!claimed) return tl::unexpected(claimed.error());
    return {};
  });
  auto c = (*s)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->deliveries_by_status["pending"], 2);
  EXPECT_EQ(c->deliveries_by_status["delivering"], 1);
  EXPECT_EQ(c->outbox_pending, 3);
  (*s)->close();
  // As a version 3 database: the counts table is stale until the migration recounts it.
  exec(path_, "DELETE FROM delivery_counts; PRAGMA user_version=3;");
  auto again = store::open_sqlite_store({path_});
  ASSERT_TRUE(again) << again.error().detail;
  c = (*again)->counts();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->deliveries_by_status["pending"], 2);
  EXPECT_EQ(c->deliveries_by_status["delivering"], 1);
  (*again)->close();
}

TEST_F(SqliteStoreTest, DatabaseFilesAreOwnerOnly) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  for (const auto& f : {path_, path_ + "-wal"}) {
    EXPECT_EQ(fs::status(f).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write) << f;
  }
  (*s)->close();
}

class FixedClock final : public core::Clock {
 public:
  explicit FixedClock(int64_t ms) : ms_(ms) {}
  int64_t now_unix() const override { return ms_ / 1000; }
  int64_t now_ms() const override { return ms_; }

 private:
  int64_t ms_;
};

// Retention deletes settled rows past the window in small units and nothing unsettled:
// anomalies, unfinished and dead deliveries, recent rows, orders and the outbox stay.
TEST_F(SqliteStoreTest, RetentionPrunesOnlySettledOldRows) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  const int64_t day = 86400000, now = 400 * day;
  run(**s, [&](store::Tx& tx) -> core::Result<void> {
    auto inbox = [&](const std::string& id, store::InboxStatus status, int64_t at) {
      store::InboxEntry e;
      e.provider = "wechatpay_v3";
      e.merchant = "m1";
      e.notification_id = id;
      e.business_key = id;
      e.status = status;
      e.received_at_ms = at;
      return tx.insert_inbox(e);
    };
    for (int i = 0; i < 5; ++i) {  // old applied ones, more than one batch of 2
      if (auto r = inbox("old-applied-" + std::to_string(i), store::InboxStatus::kApplied, day); !r)
        return tl::unexpected(r.error());
    }
    if (auto r = inbox("old-noop", store::InboxStatus::kNoop, 2 * day); !r) return tl::unexpected(r.error());
    if (auto r = inbox("old-anomaly", store::InboxStatus::kAnomaly, 2 * day); !r) return tl::unexpected(r.error());
    if (auto r = inbox("new-applied", store::InboxStatus::kApplied, now - day); !r) return tl::unexpected(r.error());
    struct D { const char* id; store::DeliveryStatus status; int64_t created, updated; };
    for (const D& d : {D{"old-delivered", store::DeliveryStatus::kDelivered, day, day},
                       D{"old-pending", store::DeliveryStatus::kPending, day, day},
                       D{"old-dead", store::DeliveryStatus::kDead, day, day},
                       D{"late-delivered", store::DeliveryStatus::kDelivered, day, now - day},
                       D{"new-delivered", store::DeliveryStatus::kDelivered, now - day, now - day}}) {
      auto id = add_event_and_delivery(tx, d.id, d.id, d.status, d.created, d.updated);
      if (!id) return tl::unexpected(id.error());
    }
    return {};
  });
  exec(path_, "INSERT INTO delivery_attempts (delivery_id, at_ms, status, outcome, latency_ms, "
              "error, response) SELECT id, 1, 204, '2xx', 1, '', '' FROM deliveries");
  FixedClock clock(now);
  pipeline::RetentionOptions o;
  o.keep = std::chrono::hours(24 * 90);
  o.batch = 2;
  pipeline::Retention retention(**s, clock, o);
  auto n = retention.run_once();
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(*n, 8);  // 6 inbox rows, 1 delivery and its attempt
  (*s)->close();
  EXPECT_EQ(testing::rows(path_, "SELECT notification_id FROM inbox ORDER BY id"),
            (std::vector<std::string>{"old-anomaly", "new-applied"}));
  EXPECT_EQ(testing::rows(path_, "SELECT webhook_id FROM deliveries ORDER BY id"),
            (std::vector<std::string>{"old-pending", "old-dead", "late-delivered", "new-delivered"}));
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM delivery_attempts"), 4);
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM outbox"), 5);
  EXPECT_EQ(testing::scalar(path_, "SELECT n FROM delivery_counts WHERE status = 'delivered'"), 2);
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefusedAndLeftAlone) {
  exec(path_, "CREATE TABLE future (x); PRAGMA user_version=99;");
  auto s = store::open_sqlite_store({path_});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().detail.find("newer"), std::string::npos) << s.error().detail;
  EXPECT_EQ(testing::scalar(path_, "PRAGMA user_version"), 99);
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'orders'"), 0);
}

TEST_F(SqliteStoreTest, AVersionFourInboxGainsItsSourceColumnAndKeepsItsRows) {
  {
    auto s = store::open_sqlite_store({path_});
    ASSERT_TRUE(s) << s.error().detail;
    run(**s, [](store::Tx& tx) { return insert_applied(tx, "before", "{}"); });
    (*s)->close();
  }
  // Back to the version 4 layout: the same inbox without `source`.
  exec(path_, "ALTER TABLE inbox DROP COLUMN source; DROP TABLE payments; "
              "DROP TABLE idempotency_keys; PRAGMA user_version=4;");
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s) << s.error().detail;
  run(**s, [](store::Tx& tx) -> core::Result<void> {
    store::InboxEntry e;
    e.provider = "wechatpay_v3";
    e.merchant = "m1";
    e.notification_id = "query:1";
    e.business_key = "k-after";
    e.source = "query";
    return tx.insert_inbox(e).map([](auto) {});
  });
  (*s)->close();
  EXPECT_EQ(testing::rows(path_, "SELECT notification_id || '/' || source FROM inbox ORDER BY id"),
            (std::vector<std::string>{"before/callback", "query:1/query"}));
  EXPECT_EQ(testing::scalar(path_, "PRAGMA user_version"), 5);
}

TEST_F(SqliteStoreTest, APaymentIsStoredWholeAndShownWithItsOrder) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s);
  store::Payment p;
  p.merchant = "m1";
  p.out_trade_no = "o1";
  p.provider = "wechatpay_v3";
  p.method = "jsapi";
  p.request = R"({"amount":100})";
  p.status = store::PaymentStatus::kCreating;
  p.attempts = 1;
  p.created_at_ms = p.updated_at_ms = 5;
  run(**s, [p](store::Tx& tx) -> core::Result<void> {
    if (auto r = tx.insert_order(order("o1", core::OrderState::kPending)); !r) {
      return tl::unexpected(r.error());
    }
    return tx.put_payment(p);
  });
  p.status = store::PaymentStatus::kCreated;
  p.result = R"({"prepay_id":"wx1"})";
  p.updated_at_ms = 9;
  run(**s, [p](store::Tx& tx) -> core::Result<void> {
    auto found = tx.find_payment("m1", "o1");
    if (!found) return tl::unexpected(found.error());
    EXPECT_TRUE(*found);
    EXPECT_EQ((*found)->status, store::PaymentStatus::kCreating);
    EXPECT_FALSE(*tx.find_payment("m1", "o2"));
    return tx.put_payment(p);
  });
  auto d = (*s)->order_details("m1", "o1");
  ASSERT_TRUE(d && *d);
  ASSERT_TRUE((*d)->payment);
  const auto& got = *(*d)->payment;
  EXPECT_EQ(got.status, store::PaymentStatus::kCreated);
  EXPECT_EQ(got.result, R"({"prepay_id":"wx1"})");
  EXPECT_EQ(got.request, R"({"amount":100})");
  EXPECT_EQ(got.method, "jsapi");
  EXPECT_EQ(got.attempts, 1);
  EXPECT_EQ(got.created_at_ms, 5);
  EXPECT_EQ(got.updated_at_ms, 9);
}

TEST_F(SqliteStoreTest, AnIdempotencyKeyIsClaimedOnceAnsweredAndReplayed) {
  auto s = store::open_sqlite_store({path_});
  ASSERT_TRUE(s);
  auto claim = [&](const std::string& key, const std::string& hash, int64_t now) {
    store::IdempotencyClaim out;
    run(**s, [&](store::Tx& tx) -> core::Result<void> {
      auto c = tx.claim_idempotency_key("m1", key, hash, now, now + 1000);
      if (!c) return tl::unexpected(c.error());
      out = *c;
      return {};
    });
    return out;
  };
  EXPECT_EQ(claim("k1", "h1", 0).claim, store::KeyClaim::kNew);
  EXPECT_EQ(claim("k1", "h1", 10).claim, store::KeyClaim::kInProgress);
  EXPECT_EQ(claim("k1", "h2", 10).claim, store::KeyClaim::kMismatch);
  // The holder died: once its lease is over the key is taken over.
  EXPECT_EQ(claim("k1", "h1", 1001).claim, store::KeyClaim::kNew);
  run(**s, [](store::Tx& tx) { return tx.finish_idempotency_key("m1", "k1", 201, "{\"a\":1}"); });
  auto replay = claim("k1", "h1", 999999);
  EXPECT_EQ(replay.claim, store::KeyClaim::kReplay);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.response, "{\"a\":1}");
  EXPECT_EQ(claim("k1", "h2", 999999).claim, store::KeyClaim::kMismatch);
  // A finished key is never released; an unfinished one is forgotten.
  run(**s, [](store::Tx& tx) { return tx.release_idempotency_key("m1", "k1"); });
  EXPECT_EQ(claim("k1", "h1", 0).claim, store::KeyClaim::kReplay);
  EXPECT_EQ(claim("k2", "h1", 0).claim, store::KeyClaim::kNew);
  run(**s, [](store::Tx& tx) { return tx.release_idempotency_key("m1", "k2"); });
  EXPECT_EQ(claim("k2", "h9", 0).claim, store::KeyClaim::kNew);
  // Keys are per merchant.
  run(**s, [](store::Tx& tx) -> core::Result<void> {
    auto c = tx.claim_idempotency_key("m2", "k1", "other", 0, 1000);
    if (!c) return tl::unexpected(c.error());
    EXPECT_EQ(c->claim, store::KeyClaim::kNew);
    return {};
  });
}

}  // namespace
}  // namespace paygate

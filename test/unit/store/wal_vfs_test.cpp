#include "store/sqlite/wal_vfs.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "support/db.hpp"

namespace paygate {
namespace {

namespace fs = std::filesystem;
namespace sq = store::sqlite;

class WalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sq::register_wal_vfs());
    dir_ = fs::temp_directory_path() /
           ("paygate-walvfs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The store's writer set-up: the buffering VFS, WAL, synchronous=FULL.
  sqlite3* open_writer() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                              sq::kWalVfsName),
              SQLITE_OK);
    exec(db, "PRAGMA page_size=2048; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
             "PRAGMA wal_autocheckpoint=0; "
             "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v TEXT)");
    return db;
  }

  static int exec(sqlite3* db, const std::string& sql) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &msg);
    EXPECT_EQ(rc, SQLITE_OK) << (msg ? msg : "");
    sqlite3_free(msg);
    return rc;
  }

  // One transaction of n rows of `size` bytes, committed with the fsync deferred.
  static int insert_rows(sqlite3* db, int first, int n, int size) {
    sq::DeferWalSync deferred;
    exec(db, "BEGIN IMMEDIATE");
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO t (k, v) VALUES (?1, ?2)", -1, &st, nullptr);
    const std::string value(static_cast<std::size_t>(size), 'x');
    for (int i = first; i < first + n; ++i) {
      const std::string key = "key-" + std::to_string(i * 7919 % 100003) + "-" + std::to_string(i);
      sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_STATIC);
      EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return exec(db, "COMMIT");
  }

  std::string count_sql() const { return "SELECT COUNT(*) FROM t"; }

  fs::path dir_;
  std::string path_;
};

TEST_F(WalVfsTest, CommitReachesTheKernelInAFewWritesAndOtherConnectionsSeeIt) {
  sqlite3* w = open_writer();
  const auto before = sq::wal_vfs_stats();
  ASSERT_EQ(insert_rows(w, 0, 200, 300), SQLITE_OK);
  const auto after = sq::wal_vfs_stats();
  const auto writes = after.writes - before.writes;
  const auto flushes = after.flushes - before.flushes;
  EXPECT_GT(writes, 60);  // SQLite wrote every frame in two pieces
  // The transaction's WAL (well under 1 MiB) went out in 64 KiB pieces at the commit.
  EXPECT_GE(flushes, 1);
  EXPECT_LE(flushes, writes / 10);
  EXPECT_EQ(after.deferred_syncs - before.deferred_syncs, 1);

  // A second connection on SQLite's own VFS reads the committed rows from the WAL file.
  EXPECT_EQ(testing::scalar(path_, count_sql()), 200);
  ASSERT_EQ(insert_rows(w, 200, 50, 300), SQLITE_OK);
  EXPECT_EQ(testing::scalar(path_, count_sql()), 250);
  sqlite3_close(w);
  EXPECT_EQ(testing::scalar(path_, count_sql()), 250);
}

TEST_F(WalVfsTest, TransactionLargerThanTheBufferIsWrittenAsItGrows) {
  sqlite3* w = open_writer();
  const auto before = sq::wal_vfs_stats();
  ASSERT_EQ(insert_rows(w, 0, 6000, 1500), SQLITE_OK);  // ~ 20 MiB of WAL
  EXPECT_GT(sq::wal_vfs_stats().flushes - before.flushes, 100);
  EXPECT_EQ(testing::scalar(path_, count_sql()), 6000);
  sqlite3_close(w);
  EXPECT_EQ(testing::text(path_, "PRAGMA integrity_check"), "ok");
}

TEST_F(WalVfsTest, CommitsSurviveAProcessThatDiesWithoutClosing) {
  {
    sqlite3* w = open_writer();
    sqlite3_close(w);  // schema in place
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sqlite3* w = nullptr;
    sqlite3_open_v2(path_.c_str(), &w, SQLITE_OPEN_READWRITE, sq::kWalVfsName);
    sqlite3_exec(w, "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0", nullptr, nullptr,
                 nullptr);
    bool ok = true;
    for (int batch = 0; batch < 20 && ok; ++batch) ok = insert_rows(w, batch * 100, 100, 700) == 0;
    // The store fsyncs the WAL itself before acknowledging; then the process dies mid-flight:
    // an open transaction with frames still buffered, nothing closed.
    const int fd = ::open((path_ + "-wal").c_str(), O_RDONLY);
    ok = ok && fd >= 0 && ::fdatasync(fd) == 0;
    sqlite3_exec(w, "BEGIN IMMEDIATE; INSERT INTO t (k, v) VALUES ('uncommitted', 'x')", nullptr,
                 nullptr, nullptr);
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(testing::scalar(path_, count_sql()), 2000);
  EXPECT_EQ(testing::scalar(path_, "SELECT COUNT(*) FROM t WHERE k = 'uncommitted'"), 0);
  EXPECT_EQ(testing::text(path_, "PRAGMA integrity_check"), "ok");
}

TEST_F(WalVfsTest, WithoutDeferWalSyncTheCommitSyncsItself) {
  sqlite3* w = open_writer();
  exec(w, "INSERT INTO t (k, v) VALUES ('a', 'b')");  // autocommit, no DeferWalSync
  const auto before = sq::wal_vfs_stats();
  exec(w, "INSERT INTO t (k, v) VALUES ('c', 'd')");
  EXPECT_EQ(sq::wal_vfs_stats().deferred_syncs, before.deferred_syncs);
  {
    sq::DeferWalSync deferred;
    sq::DeferWalSync allowed(false);  // as around the store's inline checkpoint
    exec(w, "INSERT INTO t (k, v) VALUES ('e', 'f')");
  }
  EXPECT_EQ(sq::wal_vfs_stats().deferred_syncs, before.deferred_syncs);
  sqlite3_close(w);
  EXPECT_EQ(testing::scalar(path_, count_sql()), 3);
}

TEST_F(WalVfsTest, AWalRestartSyncsItsNewHeaderForRealEvenWhenCommitSyncsAreDeferred) {
  sqlite3* w = open_writer();
  ASSERT_EQ(insert_rows(w, 0, 100, 300), SQLITE_OK);
  // Another commit into the same WAL: nothing but the deferred commit sync.
  auto before = sq::wal_vfs_stats();
  ASSERT_EQ(insert_rows(w, 100, 100, 300), SQLITE_OK);
  auto after = sq::wal_vfs_stats();
  EXPECT_EQ(after.header_syncs, before.header_syncs);
  EXPECT_EQ(after.deferred_syncs - before.deferred_syncs, 1);

  // Everything copied into the database: the next write starts the WAL over at offset 0.
  int frames = 0, backfilled = 0;
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(w, "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &backfilled),
            SQLITE_OK);
  ASSERT_EQ(frames, backfilled);
  before = sq::wal_vfs_stats();
  ASSERT_EQ(insert_rows(w, 200, 10, 300), SQLITE_OK);
  after = sq::wal_vfs_stats();
  EXPECT_EQ(after.header_syncs - before.header_syncs, 1);  // the new header, synced first
  EXPECT_EQ(after.deferred_syncs - before.deferred_syncs, 1);  // the frames, left to the store
  sqlite3_close(w);
  EXPECT_EQ(testing::scalar(path_, count_sql()), 210);
}

TEST_F(WalVfsTest, ACheckpointUnderPacingWaitsForTheDiskPerChunkAndLosesNothing) {
  sqlite3* w = open_writer();
  ASSERT_EQ(insert_rows(w, 0, 2000, 300), SQLITE_OK);  // ~ 1 MiB of pages
  // The store's checkpointer: its own connection through the VFS, syncs for real.
  sqlite3* c = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &c, SQLITE_OPEN_READWRITE, sq::kWalVfsName), SQLITE_OK);
  exec(c, "PRAGMA synchronous=NORMAL");
  auto before = sq::wal_vfs_stats();
  int frames = 0, backfilled = 0;
  {
    sq::PaceDatabaseWrites paced(64 << 10);
    ASSERT_EQ(sqlite3_wal_checkpoint_v2(c, "main", SQLITE_CHECKPOINT_PASSIVE, &frames,
                                        &backfilled),
              SQLITE_OK);
  }
  ASSERT_EQ(frames, backfilled);
  // At least one wait per 64 KiB of the pages copied (2 KiB each; some frames repeat a page).
  const auto waits = sq::wal_vfs_stats().paced_waits - before.paced_waits;
  EXPECT_GE(waits, 8);
  EXPECT_LE(waits, int64_t{frames} * 2048 / (64 << 10) + 1);

  // Unpaced (the writer's inline copy, or any thread outside the scope): no wait at all.
  ASSERT_EQ(insert_rows(w, 2000, 2000, 300), SQLITE_OK);
  before = sq::wal_vfs_stats();
  ASSERT_EQ(sqlite3_wal_checkpoint_v2(c, "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &backfilled),
            SQLITE_OK);
  ASSERT_EQ(frames, backfilled);
  EXPECT_EQ(sq::wal_vfs_stats().paced_waits, before.paced_waits);

  sqlite3_close(c);
  sqlite3_close(w);
  EXPECT_EQ(testing::scalar(path_, count_sql()), 4000);
  EXPECT_EQ(testing::text(path_, "PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace paygate

#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "store/store.hpp"

namespace paygate::store {

struct SqliteOptions {
  std::string path;
  int max_batch = 512;             // most transactions folded into one commit
  int busy_timeout_ms = 2000;      // a locked database fails well inside the providers' 5 s
  // Units queued and not yet taken by the writer, at most; more are refused at once with
  // kOverloaded (a provider retries a 503) instead of waiting past the provider's timeout.
  int max_queued = 20000;
  std::function<void()> on_shed;  // each refused unit, for metrics
  // The writer's WAL frames go to the kernel in one write per commit (sqlite/wal_vfs.hpp);
  // false writes them the way SQLite does by default (two system calls per page).
  bool buffered_wal = true;
  // The checkpointer thread copies the WAL into the database once per wal_checkpoint_pages of
  // growth. Past wal_restart_pages it copies pass after pass until what is left is at most
  // wal_catch_up_pages (or two commits' worth, if commits are larger): the writer waits for
  // that last pass (a short pause) so its next transaction starts the WAL over. A quarter past
  // wal_restart_pages the writer copies the rest itself however long it takes: the file never
  // grows much beyond that.
  int wal_checkpoint_pages = 16000;
  int wal_catch_up_pages = 256;
  int wal_restart_pages = 64000;
  // The longest the writer waits for that last pass; if it takes longer, the writer goes on
  // and the checkpointer tries again.
  std::chrono::milliseconds wal_restart_wait{10};
  // The checkpointer waits for the disk after each this many bytes it writes to the database
  // (0: never), so a WAL fsync queues behind at most that much of a pass.
  int64_t checkpoint_pace_bytes = 256 << 10;
  // Observes each commit: units of work it carried, bytes it appended to the WAL, and how long
  // it took until durable.
  std::function<void(int batch, int64_t wal_bytes, double seconds, bool ok)> on_commit;
  // After each checkpoint: WAL frames, frames copied so far, SQLite's result code, and whether
  // the writer ran it (the checkpointer fell behind) rather than the checkpointer thread.
  std::function<void(int wal_frames, int backfilled, int rc, bool by_writer)> on_checkpoint;
  // Makes the WAL durable (fdatasync by default): 0, or the errno of a failed sync. A seam for
  // fault injection: the power-loss drill models the disk behind it.
  std::function<int(int wal_fd)> sync_wal;
  // Called once, from the store's sync thread, when a sync of the WAL fails. Nothing written
  // since the last good sync can be trusted (the kernel may have dropped the pages and cleared
  // the error), so the store fails every unit from then on and never checkpoints again; the
  // process should exit so SQLite recovers from what is really on disk.
  std::function<void(const core::Error&)> on_fatal;
};

// Embedded store: one writer thread batches queued work into one commit (a savepoint per unit);
// a second thread fdatasyncs the WAL and only then completes the batch, so the next batch runs
// while the disk works. Reads use their own connection.
[[nodiscard]] core::Result<std::unique_ptr<Store>> open_sqlite_store(SqliteOptions options);

}  // namespace paygate::store

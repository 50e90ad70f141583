#pragma once
#include <cstdint>

namespace paygate::store::sqlite {

// A VFS over SQLite's default one that gathers the WAL frames of a transaction in memory and
// hands them to the kernel in one write. SQLite writes each frame with two calls (header and
// page), and a system call costs microseconds in a VM: about a quarter of the writer's time
// went there.
//
// The database file is wrapped only to pace the checkpointer's writes (PaceDatabaseWrites);
// every other call, shared memory included, goes to the default VFS's file. The frames are written out before the WAL is synced, read, truncated, sized or
// closed. SQLite only publishes a commit (the wal-index header other connections read) after
// syncing its frames when synchronous=FULL, so no connection can see a frame that is not in
// the file yet, and a write error fails the commit. Frames still in memory at a crash belong
// to a transaction that never committed.
inline constexpr const char* kWalVfsName = "paygate-wal";

// Registers the VFS (once per process; not the default). False when SQLite has no default VFS.
bool register_wal_vfs();

// While alive on this thread, the commit-time sync of a wrapped WAL writes the frames out but
// leaves the fsync to the caller, who must fsync the WAL before acknowledging anything (the
// store's syncer thread does). Checkpoints must not run under it: a checkpoint's sync of the
// WAL has to be real before pages are copied into the database, so an inline checkpoint
// inside a commit opens DeferWalSync(false) around itself. A sync right after the WAL header
// was rewritten (a WAL restart) is always real.
class DeferWalSync {
 public:
  explicit DeferWalSync(bool defer = true);
  ~DeferWalSync();
  DeferWalSync(const DeferWalSync&) = delete;
  DeferWalSync& operator=(const DeferWalSync&) = delete;

 private:
  bool previous_;
};

// While alive on this thread, writes to a database file wait for the disk after every
// `chunk_bytes` (writeback only, no fsync). The checkpointer copies under it: unpaced, a pass
// queues thousands of random page writes at once, and every WAL fsync behind them waits.
class PaceDatabaseWrites {
 public:
  explicit PaceDatabaseWrites(int64_t chunk_bytes);
  ~PaceDatabaseWrites();
  PaceDatabaseWrites(const PaceDatabaseWrites&) = delete;
  PaceDatabaseWrites& operator=(const PaceDatabaseWrites&) = delete;

 private:
  int64_t previous_;
};

struct WalVfsStats {
  int64_t writes = 0;          // writes SQLite made to wrapped WAL files
  int64_t flushes = 0;         // writes that reached the kernel
  int64_t deferred_syncs = 0;  // commit syncs left to the caller
  int64_t header_syncs = 0;    // real syncs of a rewritten WAL header (one per WAL restart)
  int64_t paced_waits = 0;     // waits for the disk while a checkpoint wrote the database
};
WalVfsStats wal_vfs_stats();

}  // namespace paygate::store::sqlite

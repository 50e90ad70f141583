#include "store/sqlite/wal_vfs.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace paygate::store::sqlite {
namespace {

// Past this the buffer goes to the kernel even mid-transaction, so a huge transaction does not
// hold its whole WAL image in memory.
constexpr std::size_t kMaxBuffered = 4u << 20;
// The unix VFS writes at most 128 KiB - 1 per call and takes the length modulo 128 KiB, so a
// longer write would come back short (reported as a full disk); larger buffers go in pieces.
constexpr std::size_t kMaxWrite = 64u << 10;

thread_local bool t_defer_sync = false;
thread_local int64_t t_pace_bytes = 0;

std::atomic<int64_t> g_writes{0};
std::atomic<int64_t> g_flushes{0};
std::atomic<int64_t> g_deferred{0};
std::atomic<int64_t> g_header_syncs{0};
std::atomic<int64_t> g_paced_waits{0};

sqlite3_vfs* g_base = nullptr;  // the default VFS being wrapped
sqlite3_vfs g_vfs{};

// A wrapped WAL: our header, then the base VFS's file object. Only the thread that owns the
// connection touches it (SQLite serializes a connection's file calls), so no lock is needed.
struct WalFile {
  sqlite3_file base;  // pMethods = kWalMethods
  sqlite3_file* real;
  std::string* buf;   // frames not yet written, starting at offset
  sqlite3_int64 offset;
  bool header_unsynced;  // the WAL header was (re)written since the last real sync
};

sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f)->real; }

int flush(WalFile* w) {
  if (w->buf->empty()) return SQLITE_OK;
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < w->buf->size() && rc == SQLITE_OK; done += kMaxWrite) {
    const std::size_t n = std::min(kMaxWrite, w->buf->size() - done);
    rc = w->real->pMethods->xWrite(w->real, w->buf->data() + done, static_cast<int>(n),
                                   w->offset + static_cast<sqlite3_int64>(done));
    g_flushes.fetch_add(1, std::memory_order_relaxed);
  }
  w->offset += static_cast<sqlite3_int64>(w->buf->size());
  w->buf->clear();
  if (w->buf->capacity() > kMaxBuffered) std::string().swap(*w->buf);
  return rc;
}

int wal_close(sqlite3_file* f) {
  auto* w = reinterpret_cast<WalFile*>(f);
  const int flushed = flush(w);
  const int rc = w->real->pMethods->xClose(w->real);
  delete w->buf;
  w->buf = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

// Writes the buffered frames out, then lets the base file do `op`.
template <typename Op>
int after_flush(sqlite3_file* f, Op op) {
  auto* w = reinterpret_cast<WalFile*>(f);
  if (int rc = flush(w); rc != SQLITE_OK) return rc;
  return op(w->real);
}

int wal_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
  return after_flush(f, [&](sqlite3_file* r) { return r->pMethods->xRead(r, out, n, off); });
}

int wal_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
  auto* w = reinterpret_cast<WalFile*>(f);
  g_writes.fetch_add(1, std::memory_order_relaxed);
  if (off == 0) w->header_unsynced = true;
  const auto* p = static_cast<const char*>(data);
  const auto end = w->offset + static_cast<sqlite3_int64>(w->buf->size());
  if (!w->buf->empty() && off >= w->offset && off + n <= end) {
    // A frame of this transaction written again (SQLite rewrites checksums in place).
    std::memcpy(w->buf->data() + (off - w->offset), p, static_cast<std::size_t>(n));
    return SQLITE_OK;
  }
  if (!w->buf->empty() && off != end) {
    if (int rc = flush(w); rc != SQLITE_OK) return rc;
  }
  if (w->buf->empty()) w->offset = off;
  w->buf->append(p, static_cast<std::size_t>(n));
  if (w->buf->size() >= kMaxBuffered) return flush(w);
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return after_flush(f, [&](sqlite3_file* r) { return r->pMethods->xTruncate(r, size); });
}

// A deferred sync is only safe for frames: when SQLite starts the WAL over it writes a new
// header (new salts) at offset 0 and syncs it before any frame follows, so that a power cut
// can never leave new frames behind an old header, or old frames that match a header they
// were not written under, to be replayed over newer database pages (SQLite ticket
// ff5be73dee). That sync is always real; it comes once per WAL restart.
int wal_sync(sqlite3_file* f, int flags) {
  auto* w = reinterpret_cast<WalFile*>(f);
  return after_flush(f, [&](sqlite3_file* r) {
    if (!t_defer_sync || w->header_unsynced) {
      const int rc = r->pMethods->xSync(r, flags);
      if (rc == SQLITE_OK && w->header_unsynced) {
        w->header_unsynced = false;
        g_header_syncs.fetch_add(1, std::memory_order_relaxed);
      }
      return rc;
    }
    g_deferred.fetch_add(1, std::memory_order_relaxed);
    return SQLITE_OK;
  });
}

int wal_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return after_flush(f, [&](sqlite3_file* r) { return r->pMethods->xFileSize(r, size); });
}

int wal_lock(sqlite3_file* f, int level) {
  return after_flush(f, [&](sqlite3_file* r) { return r->pMethods->xLock(r, level); });
}

int wal_unlock(sqlite3_file* f, int level) {
  return after_flush(f, [&](sqlite3_file* r) { return r->pMethods->xUnlock(r, level); });
}

int wal_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

int wal_file_control(sqlite3_file* f, int op, void* arg) {
  return after_flush(f, [&](sqlite3_file* r) { return r->pMethods->xFileControl(r, op, arg); });
}

int wal_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }

int wal_device(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

const sqlite3_io_methods kWalMethods = {
    1,                  // no shared memory or mmap: those belong to the database file
    wal_close,          wal_read,       wal_write,          wal_truncate,
    wal_sync,           wal_file_size,  wal_lock,           wal_unlock,
    wal_check_reserved, wal_file_control, wal_sector_size,  wal_device,
    nullptr,            nullptr,        nullptr,            nullptr,
    nullptr,            nullptr};

// A wrapped database file: every call goes to the base file. Under PaceDatabaseWrites (the
// checkpointer) each chunk of pages written is pushed to the disk and waited for before the
// next, so a pass never leaves the disk a long queue that the WAL's fsyncs would wait behind.
struct DbFile {
  sqlite3_file base;  // pMethods = kDbMethods
  sqlite3_file* real;
  int pace_fd;          // a descriptor of our own for sync_file_range; -1: not paced
  int64_t unpaced;      // bytes written since the last wait
};

DbFile* db_of(sqlite3_file* f) { return reinterpret_cast<DbFile*>(f); }
sqlite3_file* db_real(sqlite3_file* f) { return db_of(f)->real; }

int db_close(sqlite3_file* f) {
  auto* d = db_of(f);
  if (d->pace_fd >= 0) ::close(d->pace_fd);
  d->pace_fd = -1;
  return d->real->pMethods->xClose(d->real);
}
int db_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
  return db_real(f)->pMethods->xRead(db_real(f), out, n, off);
}
int db_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
  auto* d = db_of(f);
  const int rc = d->real->pMethods->xWrite(d->real, data, n, off);
  if (rc != SQLITE_OK || t_pace_bytes <= 0 || d->pace_fd < 0) return rc;
  d->unpaced += n;
  if (d->unpaced >= t_pace_bytes) {
    d->unpaced = 0;
    // Writeback only: durability still comes from the checkpoint's fsync after the pass.
    (void)::sync_file_range(d->pace_fd, 0, 0,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                SYNC_FILE_RANGE_WAIT_AFTER);
    g_paced_waits.fetch_add(1, std::memory_order_relaxed);
  }
  return rc;
}
int db_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return db_real(f)->pMethods->xTruncate(db_real(f), size);
}
int db_sync(sqlite3_file* f, int flags) {
  db_of(f)->unpaced = 0;
  return db_real(f)->pMethods->xSync(db_real(f), flags);
}
int db_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return db_real(f)->pMethods->xFileSize(db_real(f), size);
}
int db_lock(sqlite3_file* f, int level) { return db_real(f)->pMethods->xLock(db_real(f), level); }
int db_unlock(sqlite3_file* f, int level) {
  return db_real(f)->pMethods->xUnlock(db_real(f), level);
}
int db_check_reserved(sqlite3_file* f, int* out) {
  return db_real(f)->pMethods->xCheckReservedLock(db_real(f), out);
}
int db_file_control(sqlite3_file* f, int op, void* arg) {
  return db_real(f)->pMethods->xFileControl(db_real(f), op, arg);
}
int db_sector_size(sqlite3_file* f) { return db_real(f)->pMethods->xSectorSize(db_real(f)); }
int db_device(sqlite3_file* f) {
  return db_real(f)->pMethods->xDeviceCharacteristics(db_real(f));
}
int db_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return db_real(f)->pMethods->xShmMap(db_real(f), region, size, extend, out);
}
int db_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return db_real(f)->pMethods->xShmLock(db_real(f), offset, n, flags);
}
void db_shm_barrier(sqlite3_file* f) { db_real(f)->pMethods->xShmBarrier(db_real(f)); }
int db_shm_unmap(sqlite3_file* f, int del) {
  return db_real(f)->pMethods->xShmUnmap(db_real(f), del);
}
int db_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return db_real(f)->pMethods->xFetch(db_real(f), off, n, out);
}
int db_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return db_real(f)->pMethods->xUnfetch(db_real(f), off, p);
}

const sqlite3_io_methods kDbMethods = {
    3,              db_close,       db_read,         db_write,        db_truncate,
    db_sync,        db_file_size,   db_lock,         db_unlock,       db_check_reserved,
    db_file_control, db_sector_size, db_device,      db_shm_map,      db_shm_lock,
    db_shm_barrier, db_shm_unmap,   db_fetch,        db_unfetch};

static_assert(sizeof(DbFile) <= sizeof(WalFile), "both fit the VFS's szOsFile");

int open_database(sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* d = db_of(f);
  d->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(WalFile));
  d->pace_fd = -1;
  d->unpaced = 0;
  d->base.pMethods = nullptr;
  const int rc = g_base->xOpen(g_base, name, d->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (d->real->pMethods) d->real->pMethods->xClose(d->real);
    return rc;
  }
  if (d->real->pMethods->iVersion < 3) {
    // Nothing to forward shared memory to: leave the base file as it is, unpaced.
    d->real->pMethods->xClose(d->real);
    return g_base->xOpen(g_base, name, f, flags, out_flags);
  }
  if (name) d->pace_fd = ::open(name, O_RDONLY | O_CLOEXEC);
  d->base.pMethods = &kDbMethods;
  return SQLITE_OK;
}

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  if (flags & SQLITE_OPEN_MAIN_DB) return open_database(name, f, flags, out_flags);
  if (!(flags & SQLITE_OPEN_WAL)) {
    // Everything else is the base VFS's own file object, methods and all.
    return g_base->xOpen(g_base, name, f, flags, out_flags);
  }
  auto* w = reinterpret_cast<WalFile*>(f);
  w->real = reinterpret_cast<sqlite3_file*>(w + 1);
  w->buf = nullptr;
  w->offset = 0;
  w->header_unsynced = false;
  w->base.pMethods = nullptr;
  const int rc = g_base->xOpen(g_base, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite closes a file with methods even when opening failed.
    if (w->real->pMethods) w->real->pMethods->xClose(w->real);
    return rc;
  }
  w->buf = new (std::nothrow) std::string();
  if (!w->buf) {
    w->real->pMethods->xClose(w->real);
    return SQLITE_NOMEM;
  }
  w->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_base->xDelete(g_base, name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_base->xAccess(g_base, name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_base->xFullPathname(g_base, name, n, out);
}
void* vfs_dlopen(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void vfs_dlerror(sqlite3_vfs*, int n, char* out) { g_base->xDlError(g_base, n, out); }
void (*vfs_dlsym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return g_base->xDlSym(g_base, h, sym);
}
void vfs_dlclose(sqlite3_vfs*, void* h) { g_base->xDlClose(g_base, h); }
int vfs_randomness(sqlite3_vfs*, int n, char* out) { return g_base->xRandomness(g_base, n, out); }
int vfs_sleep(sqlite3_vfs*, int us) { return g_base->xSleep(g_base, us); }
int vfs_current_time(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int vfs_last_error(sqlite3_vfs*, int n, char* out) {
  return g_base->xGetLastError(g_base, n, out);
}
int vfs_current_time64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_base->xCurrentTimeInt64(g_base, out);
}

}  // namespace

bool register_wal_vfs() {
  static const bool ok = [] {
    g_base = sqlite3_vfs_find(nullptr);
    if (!g_base || g_base->iVersion < 2) return false;
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(WalFile)) + g_base->szOsFile;
    g_vfs.mxPathname = g_base->mxPathname;
    g_vfs.zName = kWalVfsName;
    g_vfs.xOpen = vfs_open;
    g_vfs.xDelete = vfs_delete;
    g_vfs.xAccess = vfs_access;
    g_vfs.xFullPathname = vfs_full_pathname;
    g_vfs.xDlOpen = vfs_dlopen;
    g_vfs.xDlError = vfs_dlerror;
    g_vfs.xDlSym = vfs_dlsym;
    g_vfs.xDlClose = vfs_dlclose;
    g_vfs.xRandomness = vfs_randomness;
    g_vfs.xSleep = vfs_sleep;
    g_vfs.xCurrentTime = vfs_current_time;
    g_vfs.xGetLastError = vfs_last_error;
    g_vfs.xCurrentTimeInt64 = vfs_current_time64;
    return sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK;
  }();
  return ok;
}

DeferWalSync::DeferWalSync(bool defer) : previous_(t_defer_sync) { t_defer_sync = defer; }
DeferWalSync::~DeferWalSync() { t_defer_sync = previous_; }

PaceDatabaseWrites::PaceDatabaseWrites(int64_t chunk_bytes) : previous_(t_pace_bytes) {
  t_pace_bytes = chunk_bytes;
}
PaceDatabaseWrites::~PaceDatabaseWrites() { t_pace_bytes = previous_; }

WalVfsStats wal_vfs_stats() {
  return WalVfsStats{g_writes.load(std::memory_order_relaxed),
                     g_flushes.load(std::memory_order_relaxed),
                     g_deferred.load(std::memory_order_relaxed),
                     g_header_syncs.load(std::memory_order_relaxed),
                     g_paced_waits.load(std::memory_order_relaxed)};
}

}  // namespace paygate::store::sqlite

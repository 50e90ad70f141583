#include "support/crash_disk.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>

namespace paygate::testing {
namespace {

constexpr int64_t kSector = 512;
constexpr int64_t kSectorsPerPage = 8;  // 4 KiB: what a drive or the page cache loses whole

struct Unsynced {
  int64_t size_at_sync = -1;
  // sector -> its bytes at the last sync; nullopt when it lay past the end of the file.
  std::map<int64_t, std::optional<std::string>> before;
};

std::mutex g_mu;
sqlite3_vfs* g_base = nullptr;
sqlite3_vfs g_vfs{};
std::map<std::string, Unsynced> g_files;  // guarded by g_mu
std::set<std::string> g_databases;        // guarded by g_mu
bool g_dead = false;
int64_t g_cut_at = 0;
int64_t g_ops = 0;
CrashDisk::Op g_cut_kind = CrashDisk::Op::kOther;
std::map<CrashDisk::Op, int64_t> g_ops_by_kind;
CrashDisk::Op g_cut_on = CrashDisk::Op::kOther;

struct CrashFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* path;
  bool wal;
  bool tracked;
};

CrashFile* of(sqlite3_file* f) { return reinterpret_cast<CrashFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return of(f)->real; }

// g_mu held. True when this operation is the last before the power goes.
bool tick(CrashDisk::Op op) {
  ++g_ops;
  const int64_t n = ++g_ops_by_kind[op];
  if (g_cut_kind == CrashDisk::Op::kOther ? g_ops != g_cut_at
                                           : (op != g_cut_kind || n != g_cut_at)) {
    return false;
  }
  g_dead = true;
  g_cut_on = op;
  return true;
}

// g_mu held: keeps the synced content of every sector in [off, off + n) not yet kept.
void remember(CrashFile* c, int64_t off, int64_t n) {
  auto& u = g_files[*c->path];
  sqlite3_int64 size = 0;
  c->real->pMethods->xFileSize(c->real, &size);
  if (u.size_at_sync < 0) u.size_at_sync = size;
  for (int64_t s = off / kSector; s <= (off + n - 1) / kSector; ++s) {
    if (u.before.count(s)) continue;
    const int64_t start = s * kSector;
    if (start >= size) {
      u.before[s] = std::nullopt;
      continue;
    }
    std::string buf(static_cast<std::size_t>(kSector), '\0');
    c->real->pMethods->xRead(c->real, buf.data(), static_cast<int>(kSector), start);
    buf.resize(static_cast<std::size_t>(std::min<int64_t>(kSector, size - start)));
    u.before[s] = std::move(buf);
  }
}

int x_close(sqlite3_file* f) {
  auto* c = of(f);
  const int rc = c->real->pMethods->xClose(c->real);
  delete c->path;
  c->path = nullptr;
  return rc;
}
int x_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
  return real(f)->pMethods->xRead(real(f), out, n, off);
}
int x_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
  auto* c = of(f);
  if (!c->tracked) return c->real->pMethods->xWrite(c->real, data, n, off);
  std::lock_guard lock(g_mu);
  if (g_dead) return SQLITE_IOERR_WRITE;
  const bool cut = tick(c->wal ? (off == 0 ? CrashDisk::Op::kWalHeader : CrashDisk::Op::kWalAppend)
                               : CrashDisk::Op::kDbWrite);
  remember(c, off, n);
  const int rc = c->real->pMethods->xWrite(c->real, data, n, off);
  return cut ? SQLITE_IOERR_WRITE : rc;  // it reached the page cache; then the power went
}
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  auto* c = of(f);
  if (!c->tracked) return c->real->pMethods->xTruncate(c->real, size);
  std::lock_guard lock(g_mu);
  if (g_dead) return SQLITE_IOERR_TRUNCATE;
  if (tick(CrashDisk::Op::kOther)) return SQLITE_IOERR_TRUNCATE;
  sqlite3_int64 now = 0;
  c->real->pMethods->xFileSize(c->real, &now);
  if (now > size) remember(c, size, now - size);
  return c->real->pMethods->xTruncate(c->real, size);
}
int x_sync(sqlite3_file* f, int flags) {
  auto* c = of(f);
  if (!c->tracked) return c->real->pMethods->xSync(c->real, flags);
  std::lock_guard lock(g_mu);
  if (g_dead) return SQLITE_IOERR_FSYNC;
  if (tick(c->wal ? CrashDisk::Op::kWalSync : CrashDisk::Op::kDbSync)) return SQLITE_IOERR_FSYNC;
  const int rc = c->real->pMethods->xSync(c->real, flags);
  if (rc == SQLITE_OK) g_files.erase(*c->path);
  return rc;
}
int x_file_size(sqlite3_file* f, sqlite3_int64* out) {
  return real(f)->pMethods->xFileSize(real(f), out);
}
int x_lock(sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); }
int x_unlock(sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); }
int x_check_reserved(sqlite3_file* f, int* out) {
  return real(f)->pMethods->xCheckReservedLock(real(f), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); }
int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return real(f)->pMethods->xFetch(real(f), off, n, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return real(f)->pMethods->xUnfetch(real(f), off, p);
}

const sqlite3_io_methods kMethods = {
    3,           x_close,          x_read,         x_write,         x_truncate,
    x_sync,      x_file_size,      x_lock,         x_unlock,        x_check_reserved,
    x_file_control, x_sector_size, x_device,       x_shm_map,       x_shm_lock,
    x_shm_barrier, x_shm_unmap,    x_fetch,        x_unfetch};

int v_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* c = of(f);
  c->real = reinterpret_cast<sqlite3_file*>(c + 1);
  c->path = nullptr;
  c->base.pMethods = nullptr;
  const int rc = g_base->xOpen(g_base, name, c->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (c->real->pMethods) c->real->pMethods->xClose(c->real);
    return rc;
  }
  c->path = new std::string(name ? name : "");
  c->wal = (flags & SQLITE_OPEN_WAL) != 0;
  c->tracked = name != nullptr && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0;
  if (flags & SQLITE_OPEN_MAIN_DB) {
    std::lock_guard lock(g_mu);
    g_databases.insert(*c->path);
  }
  c->base.pMethods = &kMethods;
  return SQLITE_OK;
}
int v_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  std::lock_guard lock(g_mu);
  if (g_dead) return SQLITE_IOERR_DELETE;
  g_files.erase(name);
  return g_base->xDelete(g_base, name, sync_dir);
}
int v_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_base->xAccess(g_base, name, flags, out);
}
int v_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_base->xFullPathname(g_base, name, n, out);
}
void* v_dlopen(sqlite3_vfs*, const char* name) { return g_base->xDlOpen(g_base, name); }
void v_dlerror(sqlite3_vfs*, int n, char* out) { g_base->xDlError(g_base, n, out); }
void (*v_dlsym(sqlite3_vfs*, void* h, const char* sym))(void) {
  return g_base->xDlSym(g_base, h, sym);
}
void v_dlclose(sqlite3_vfs*, void* h) { g_base->xDlClose(g_base, h); }
int v_randomness(sqlite3_vfs*, int n, char* out) { return g_base->xRandomness(g_base, n, out); }
int v_sleep(sqlite3_vfs*, int us) { return g_base->xSleep(g_base, us); }
int v_current_time(sqlite3_vfs*, double* out) { return g_base->xCurrentTime(g_base, out); }
int v_last_error(sqlite3_vfs*, int n, char* out) { return g_base->xGetLastError(g_base, n, out); }
int v_current_time64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_base->xCurrentTimeInt64(g_base, out);
}

}  // namespace

const char* CrashDisk::name(Op op) {
  switch (op) {
    case Op::kWalAppend: return "WAL frames (group commit)";
    case Op::kWalHeader: return "WAL header (restart)";
    case Op::kDbWrite: return "database page (checkpoint)";
    case Op::kWalSync: return "WAL sync";
    case Op::kDbSync: return "database sync (checkpoint)";
    case Op::kOther: return "other";
  }
  return "?";
}

CrashDisk& CrashDisk::instance() {
  static CrashDisk disk;
  return disk;
}

bool CrashDisk::install() {
  static const bool ok = [] {
    g_base = sqlite3_vfs_find(nullptr);
    if (!g_base || g_base->iVersion < 2) return false;
    g_vfs.iVersion = 2;
    g_vfs.szOsFile = static_cast<int>(sizeof(CrashFile)) + g_base->szOsFile;
    g_vfs.mxPathname = g_base->mxPathname;
    g_vfs.zName = "paygate-crash-disk";
    g_vfs.xOpen = v_open;
    g_vfs.xDelete = v_delete;
    g_vfs.xAccess = v_access;
    g_vfs.xFullPathname = v_full_pathname;
    g_vfs.xDlOpen = v_dlopen;
    g_vfs.xDlError = v_dlerror;
    g_vfs.xDlSym = v_dlsym;
    g_vfs.xDlClose = v_dlclose;
    g_vfs.xRandomness = v_randomness;
    g_vfs.xSleep = v_sleep;
    g_vfs.xCurrentTime = v_current_time;
    g_vfs.xGetLastError = v_last_error;
    g_vfs.xCurrentTimeInt64 = v_current_time64;
    return sqlite3_vfs_register(&g_vfs, 1) == SQLITE_OK;
  }();
  return ok;
}

void CrashDisk::arm(int64_t cut_at, Op on) {
  std::lock_guard lock(g_mu);
  g_cut_at = cut_at;
  g_cut_kind = on;
  g_ops = 0;
  g_ops_by_kind.clear();
}

bool CrashDisk::dead() const {
  std::lock_guard lock(g_mu);
  return g_dead;
}

int64_t CrashDisk::ops(Op on) const {
  std::lock_guard lock(g_mu);
  if (on == Op::kOther) return g_ops;
  auto it = g_ops_by_kind.find(on);
  return it == g_ops_by_kind.end() ? 0 : it->second;
}

CrashDisk::Op CrashDisk::cut_on() const {
  std::lock_guard lock(g_mu);
  return g_cut_on;
}

int CrashDisk::sync(const std::string& path) {
  std::lock_guard lock(g_mu);
  if (g_dead || tick(Op::kWalSync)) return EIO;
  g_files.erase(path);
  return 0;
}

CrashDisk::Fate CrashDisk::power_loss(std::mt19937_64& rng) {
  std::lock_guard lock(g_mu);
  Fate fate;
  for (auto& [path, u] : g_files) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st{};
    ::fstat(fd, &st);
    const int64_t size = st.st_size;
    int64_t end = u.size_at_sync;  // the file's length after the power comes back
    auto restore = [&](int64_t sector, int64_t from) {
      // Bytes [from, sector end) of `sector` go back to what the last sync left.
      const int64_t start = sector * kSector;
      const auto& old = u.before[sector];
      std::string bytes = old ? *old : std::string();
      bytes.resize(static_cast<std::size_t>(kSector), '\0');
      const int64_t stop = std::min<int64_t>(start + kSector, size);
      if (stop > start + from) {
        (void)::pwrite(fd, bytes.data() + from, static_cast<std::size_t>(stop - start - from),
                       start + from);
      }
    };
    int64_t page = -1;
    int mode = 0;
    for (auto& [sector, old] : u.before) {
      if (sector / kSectorsPerPage != page) {
        page = sector / kSectorsPerPage;
        const int r = static_cast<int>(rng() % 10);
        mode = r < 4 ? 0 : r < 8 ? 1 : 2;  // written, lost, or sector by sector with a tear
      }
      int fate_of = mode == 2 ? static_cast<int>(rng() % 3) : mode;  // 0 kept, 1 lost, 2 torn
      if (sector * kSector >= size) continue;
      if (fate_of == 0) {
        ++fate.sectors_kept;
        end = std::max<int64_t>(end, std::min<int64_t>(size, (sector + 1) * kSector));
      } else if (fate_of == 1) {
        ++fate.sectors_lost;
        restore(sector, 0);
      } else {
        ++fate.sectors_torn;
        restore(sector, 1 + static_cast<int64_t>(rng() % (kSector - 1)));
        end = std::max<int64_t>(end, std::min<int64_t>(size, (sector + 1) * kSector));
      }
    }
    if (end < size) {
      (void)::ftruncate(fd, end);  // the tail never reached the disk
      ++fate.files_cut_short;
    }
    ::close(fd);
  }
  g_files.clear();
  for (const auto& db : g_databases) std::filesystem::remove(db + "-shm");
  g_databases.clear();
  g_dead = false;
  g_cut_at = 0;
  g_ops = 0;
  g_ops_by_kind.clear();
  return fate;
}

}  // namespace paygate::testing

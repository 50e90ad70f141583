#pragma once
// A disk that can lose power, for the power-loss drill. Installed as SQLite's default VFS (over
// the unix one) before any store opens, it passes every call through and remembers, for the
// database and WAL files, the content of each sector written since that file's last sync.
// At the cut point (the Nth write or sync from arming) it dies: every later write, sync,
// truncate or delete fails and changes nothing. power_loss() then decides the fate of every
// unsynced sector the way a power failure can: written, lost whole (4 KiB pages), or a sector
// torn part way. Synced data always survives.
#include <cstdint>
#include <random>
#include <string>

namespace paygate::testing {

class CrashDisk {
 public:
  // What the cut fell on.
  enum class Op { kWalAppend, kWalHeader, kDbWrite, kWalSync, kDbSync, kOther };
  static const char* name(Op op);

  struct Fate {
    int64_t sectors_kept = 0;
    int64_t sectors_lost = 0;
    int64_t sectors_torn = 0;
    int files_cut_short = 0;  // lost sectors at the end: the file is shorter
  };

  static CrashDisk& instance();
  // Makes this the default VFS. Call before the first SQLite connection of the process.
  bool install();

  // Counts writes and syncs from now; the `cut_at`th one of kind `on` (any kind: kOther) is the
  // last thing that happens (a write reaches the page cache, a sync does not happen).
  // 0: never (counting only).
  void arm(int64_t cut_at, Op on = Op::kOther);
  bool dead() const;
  int64_t ops(Op on = Op::kOther) const;  // since arm(), of one kind (kOther: all)
  Op cut_on() const;    // valid when dead()
  // The syncer's fdatasync seam for the file at `path`: 0, or EIO once dead.
  int sync(const std::string& path);

  // The power comes back: applies the fate of every unsynced sector to the files, deletes the
  // shared-memory files (SQLite rebuilds them), and passes everything through again.
  Fate power_loss(std::mt19937_64& rng);
};

}  // namespace paygate::testing

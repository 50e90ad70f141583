// LD_PRELOAD shim for the failed-sync drill: with PAYGATE_FAIL_WAL_SYNC_AFTER=N, the (N+1)th
// fdatasync of a SQLite WAL fails with EIO once, and later ones succeed, as after a writeback
// error the kernel has already reported and cleared. Like the kernel may, it drops what was
// written since the last good sync (the WAL is cut back to that size), so an acknowledgement
// that relied on those bytes shows up as a loss after the restart.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

std::atomic<long> g_calls{0};
std::mutex g_mu;
off_t g_synced_size = 0;

std::string path_of(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char buf[4096];
  const ssize_t n = ::readlink(link, buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

bool ends_with(const std::string& s, const char* tail) {
  const std::size_t n = std::strlen(tail);
  return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
}

long fail_after() {
  static const long n = [] {
    const char* v = std::getenv("PAYGATE_FAIL_WAL_SYNC_AFTER");
    return v ? std::atol(v) : -1L;
  }();
  return n;
}

}  // namespace

extern "C" int fdatasync(int fd) {
  using Fn = int (*)(int);
  static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "fdatasync"));
  const std::string path = path_of(fd);
  if (fail_after() < 0 || !ends_with(path, "-wal")) return real(fd);
  std::lock_guard lock(g_mu);
  if (++g_calls == fail_after() + 1) {
    if (::truncate(path.c_str(), g_synced_size) != 0) std::perror("fail_fsync: truncate");
    std::fprintf(stderr, "fail_fsync: failing WAL sync %ld (cut back to %lld bytes)\n",
                 g_calls.load(), static_cast<long long>(g_synced_size));
    errno = EIO;
    return -1;
  }
  const int rc = real(fd);
  struct stat st{};
  if (rc == 0 && ::fstat(fd, &st) == 0) g_synced_size = st.st_size;
  return rc;
}

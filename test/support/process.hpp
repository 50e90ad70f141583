#pragma once
// Real child processes for integration tests and benchmarks: spawn, wait, ports, files.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace paygate::testing {

// fork + execv; the child's stderr (and stdout unless `out` is given) goes to `log`.
// `env`: extra NAME=value entries for the child.
pid_t spawn(const std::vector<std::string>& args, const std::string& log,
            const std::string& out = {}, const std::vector<std::string>& env = {});
// Exit code, or 128 + signal.
int wait_exit(pid_t pid);
std::string slurp(const std::filesystem::path& p);
// A loopback port the kernel just handed out, so parallel runs do not collide.
int free_port();
// Waits for `path` to appear; false after `timeout`.
bool wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout);
// Peak resident set (VmHWM) of a live process in KiB, -1 when unreadable.
long peak_rss_kib(pid_t pid);
// CPU time a live process has used so far, in seconds (zeros when unreadable).
struct CpuTime {
  double user = 0;
  double system = 0;
  double runnable = 0;  // time spent ready to run but waiting for a core (thread figures only)
  double total() const { return user + system; }
};
CpuTime cpu_time(pid_t pid);
// CPU time per thread name (threads of the same name summed), with the time each waited for a
// core (/proc/.../schedstat).
std::map<std::string, CpuTime> thread_cpu_times(pid_t pid);

}  // namespace paygate::testing

#include "support/process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace paygate::testing {

pid_t spawn(const std::vector<std::string>& args, const std::string& log, const std::string& out,
            const std::vector<std::string>& env) {
  pid_t pid = fork();
  if (pid == 0) {
    for (const auto& e : env) {
      const auto eq = e.find('=');
      if (eq != std::string::npos) ::setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
    }
    if (!std::freopen(log.c_str(), "a", stderr)) _exit(126);
    if (!out.empty() && !std::freopen(out.c_str(), "w", stdout)) _exit(126);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

namespace {

CpuTime parse_stat(const std::string& path) {
  std::ifstream in(path);
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  CpuTime t;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) t.user = static_cast<double>(std::stoull(field)) / tick;
    if (i == 15) t.system = static_cast<double>(std::stoull(field)) / tick;
  }
  return t;
}

// schedstat: time on a core, time waiting on a run queue (both ns), timeslices.
double runnable_seconds(const std::string& path) {
  std::ifstream in(path);
  unsigned long long on_cpu = 0, waiting = 0;
  if (!(in >> on_cpu >> waiting)) return 0;
  return static_cast<double>(waiting) * 1e-9;
}

}  // namespace

CpuTime cpu_time(pid_t pid) { return parse_stat("/proc/" + std::to_string(pid) + "/stat"); }

std::map<std::string, CpuTime> thread_cpu_times(pid_t pid) {
  std::map<std::string, CpuTime> out;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    const CpuTime t = parse_stat((task.path() / "stat").string());
    out[name].user += t.user;
    out[name].system += t.system;
    out[name].runnable += runnable_seconds((task.path() / "schedstat").string());
  }
  return out;
}

}  // namespace paygate::testing

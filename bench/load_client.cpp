#include "load_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace paygate::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::size_t request = 0;  // index being sent/awaited
  bool busy = false;
  std::size_t written = 0;
  std::string in;
  Clock::time_point started;
  uint32_t armed = 0;  // epoll events registered for fd
};

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 && errno != EINPROGRESS) {
    close(fd);
    throw std::runtime_error(std::string("connect failed: ") + std::strerror(errno));
  }
  return fd;
}

// Length of one complete response at the front of `in` (0: incomplete); sets status and
// whether the server will close the connection.
std::size_t complete_response(const std::string& in, int& status, bool& closing) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  if (in.size() < 12) return 0;
  status = std::atoi(in.c_str() + 9);
  std::size_t length = 0;
  closing = false;
  std::size_t pos = in.find("\r\n") + 2;
  while (pos < end) {
    const auto eol = in.find("\r\n", pos);
    const std::string_view line(in.data() + pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length") length = std::stoul(std::string(value));
      if (name == "connection" && (value == "close" || value == "Close")) closing = true;
    }
    pos = eol + 2;
  }
  const std::size_t total = end + 4 + length;
  return in.size() >= total ? total : 0;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Time this thread has waited for a core (schedstat's second field, ns).
double thread_runnable_seconds() {
  std::ifstream in("/proc/thread-self/schedstat");
  unsigned long long on_cpu = 0, waiting = 0;
  if (!(in >> on_cpu >> waiting)) return 0;
  return static_cast<double>(waiting) * 1e-9;
}

}  // namespace

uint32_t LoadResult::percentile(double q) const {
  if (latencies_us.empty()) return 0;
  const auto i = static_cast<std::size_t>(q * (latencies_us.size() - 1) + 0.5);
  return latencies_us[std::min(i, latencies_us.size() - 1)];
}

LoadResult run_load(uint16_t port, const std::vector<std::string>& requests, int connections,
                    double rate_per_second) {
  LoadResult r;
  const bool open_loop = rate_per_second > 0;
  std::vector<std::size_t> idle;  // open loop: connections waiting for the next due request
  Clock::time_point t0;
  auto due = [&](std::size_t k) {
    return t0 + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * k / rate_per_second));
  };
  r.latencies_us.reserve(requests.size());
  const int ep = epoll_create1(0);
  std::vector<Conn> conns(static_cast<std::size_t>(connections));
  std::size_t next = 0;
  std::size_t outstanding = 0;

  // The load generator shares the gateway's 2 cores: no system call it does not need.
  auto arm = [&](std::size_t i, uint32_t events, bool add) {
    if (!add && conns[i].armed == events) return;
    conns[i].armed = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    epoll_ctl(ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, conns[i].fd, &ev);
  };
  // Writes as much of the current request as the socket takes; EPOLLOUT until it is all out.
  auto pump = [&](std::size_t i) -> bool {
    Conn& c = conns[i];
    const std::string& req = requests[c.request];
    while (c.written < req.size()) {
      const ssize_t n = ::send(c.fd, req.data() + c.written, req.size() - c.written, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) {
          arm(i, EPOLLIN | EPOLLOUT, false);
          return true;
        }
        return false;
      }
      c.written += static_cast<std::size_t>(n);
    }
    arm(i, EPOLLIN, false);
    return true;
  };
  auto start_next = [&](std::size_t i) {
    Conn& c = conns[i];
    const auto now = Clock::now();
    if (next >= requests.size() || (open_loop && due(next) > now)) {
      c.busy = false;
      if (open_loop && next < requests.size()) idle.push_back(i);
      return;
    }
    c.started = open_loop ? due(next) : now;
    c.request = next++;
    c.busy = true;
    c.written = 0;
    ++outstanding;
    if (!pump(i)) {
      ++r.transport_errors;
      --outstanding;
      c.busy = false;
    }
  };
  auto reopen = [&](std::size_t i) {
    epoll_ctl(ep, EPOLL_CTL_DEL, conns[i].fd, nullptr);
    close(conns[i].fd);
    conns[i].fd = connect_to(port);
    conns[i].in.clear();
    arm(i, EPOLLIN, true);
  };

  // Open loop: a timer for the next due request, so sends are not late by a poll interval.
  constexpr uint64_t kTimer = ~uint64_t{0};
  const int timer = open_loop ? timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK) : -1;
  if (open_loop) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTimer;
    epoll_ctl(ep, EPOLL_CTL_ADD, timer, &ev);
  }
  // Starts every request that is due on an idle connection; arms the timer for the next one.
  auto dispatch = [&] {
    while (!idle.empty() && next < requests.size() && due(next) <= Clock::now()) {
      const std::size_t i = idle.back();
      idle.pop_back();
      start_next(i);
    }
    if (next < requests.size() && !idle.empty()) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          due(next).time_since_epoch())
                          .count();
      itimerspec its{};
      its.it_value.tv_sec = ns / 1000000000;
      its.it_value.tv_nsec = ns % 1000000000;
      timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, nullptr);
    }
  };

  for (std::size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connect_to(port);
    arm(i, EPOLLIN, true);
  }
  t0 = Clock::now();
  const double cpu0 = thread_cpu_seconds();
  const double runnable0 = thread_runnable_seconds();
  for (std::size_t i = 0; i < conns.size(); ++i) start_next(i);
  if (open_loop) dispatch();
  std::vector<epoll_event> events(conns.size() + 1);
  char buf[16384];
  while (outstanding > 0 || (open_loop && next < requests.size())) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10000);
    if (n == 0) throw std::runtime_error("no response within 10 s");
    for (int k = 0; k < n; ++k) {
      if (events[k].data.u64 == kTimer) {
        uint64_t expirations = 0;
        (void)::read(timer, &expirations, sizeof expirations);
        continue;
      }
      const std::size_t i = events[k].data.u64;
      Conn& c = conns[i];
      if ((events[k].events & EPOLLOUT) && c.busy && !pump(i)) {
        ++r.transport_errors;
        --outstanding;
        reopen(i);
        start_next(i);
        continue;
      }
      if (!(events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      bool eof = false;
      for (;;) {
        const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
        if (got > 0) {
          c.in.append(buf, static_cast<std::size_t>(got));
          // A short read drained the socket; epoll reports anything that arrives later.
          if (static_cast<std::size_t>(got) < sizeof buf) break;
          continue;
        }
        if (got == 0 || errno != EAGAIN) eof = true;
        break;
      }
      int status = 0;
      bool closing = false;
      const std::size_t len = c.busy ? complete_response(c.in, status, closing) : 0;
      if (len > 0) {
        c.in.erase(0, len);
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                                             c.started);
        r.latencies_us.push_back(static_cast<uint32_t>(us.count()));
        ++r.statuses[status];
        ++r.completed;
        --outstanding;
        c.busy = false;
        if (closing || eof) reopen(i);
        start_next(i);
      } else if (eof) {
        if (c.busy) {
          ++r.transport_errors;
          --outstanding;
          c.busy = false;
        }
        reopen(i);
        start_next(i);
      }
    }
    if (open_loop) dispatch();
  }
  if (timer >= 0) close(timer);
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.cpu_seconds = thread_cpu_seconds() - cpu0;
  r.runnable_seconds = thread_runnable_seconds() - runnable0;
  for (auto& c : conns) close(c.fd);
  close(ep);
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  return r;
}

}  // namespace paygate::bench

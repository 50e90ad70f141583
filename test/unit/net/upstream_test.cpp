#include "net/upstream.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "support/tls_server.hpp"

namespace paygate {
namespace {

using namespace std::chrono_literals;

// Answers each request with the next canned answer (the last one repeats), one connection each.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::deque<std::string> answers) : answers_(std::move(answers)) {
    fd_ = testing::listen_on_loopback(port_);
    thread_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        (void)testing::read_http_request([c](char* b, int n) -> long { return ::read(c, b, n); });
        std::string answer;
        {
          std::lock_guard lock(mu_);
          answer = answers_.front();
          if (answers_.size() > 1) answers_.pop_front();
        }
        ++requests_;
        if (answer == "hang") {
          std::this_thread::sleep_for(700ms);
        } else {
          (void)!::write(c, answer.data(), answer.size());
        }
        ::close(c);
      }
    });
  }
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  std::mutex mu_;
  std::deque<std::string> answers_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
const std::string k503 = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const std::string k429 = "HTTP/1.1 429 Slow\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const std::string k400 = "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

// A port nothing listens on.
std::string closed_url() {
  int port = 0;
  const int fd = testing::listen_on_loopback(port);
  ::close(fd);
  return "http://127.0.0.1:" + std::to_string(port);
}

struct Fixture {
  core::SystemClock clock;
  std::unique_ptr<net::HttpClient> http = [] {
    net::HttpClientOptions o;
    o.allow_private_addresses = true;
    return net::make_http_client(o);
  }();
};

net::UpstreamOptions options(std::string primary, std::string backup = {}) {
  net::UpstreamOptions o;
  o.base_url = std::move(primary);
  o.backup_base_url = std::move(backup);
  o.backoff_base = 20ms;
  o.backoff_cap = 100ms;
  o.timeout = 400ms;
  o.connect_timeout = 300ms;
  o.breaker = {3, 60000ms, 60000ms};
  return o;
}

net::UpstreamResult run(net::Upstream& u, net::RetrySafety safety,
                        std::vector<std::string>* hosts = nullptr) {
  std::promise<net::UpstreamResult> p;
  net::UpstreamCall c;
  c.operation = "test";
  c.safety = safety;
  c.build = [hosts](std::string_view base) -> core::Result<net::HttpRequest> {
    if (hosts) hosts->emplace_back(base);
    net::HttpRequest r;
    r.method = "GET";
    r.url = std::string(base) + "/v3/thing";
    return r;
  };
  u.call(std::move(c), [&](net::UpstreamResult r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

TEST(Upstream, AnUnreachablePrimaryFailsOverToTheBackupAtOnce) {
  Fixture f;
  ScriptedServer backup({kOk});
  const auto primary = closed_url();
  net::Upstream u(*f.http, options(primary, backup.url()), f.clock);
  std::vector<std::string> hosts;
  auto r = run(u, net::RetrySafety::kIfNotSent, &hosts);
  EXPECT_EQ(r.outcome, net::CallOutcome::kAnswered);
  EXPECT_EQ(r.response.status, 200);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_TRUE(r.failed_over);
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0], primary);
  EXPECT_EQ(hosts[1], backup.url());
}

TEST(Upstream, AFiveHundredIsRetriedOnlyWhenARepeatIsHarmless) {
  Fixture f;
  {
    ScriptedServer s({k503, k503, kOk});
    net::Upstream u(*f.http, options(s.url()), f.clock);
    auto r = run(u, net::RetrySafety::kAlways);
    EXPECT_EQ(r.outcome, net::CallOutcome::kAnswered);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(s.requests(), 3);
  }
  {
    ScriptedServer s({k503, kOk});
    net::Upstream u(*f.http, options(s.url()), f.clock);
    auto r = run(u, net::RetrySafety::kIfNotSent);
    EXPECT_EQ(r.outcome, net::CallOutcome::kUnknown);  // it may have been done: query, never guess
    EXPECT_EQ(r.attempts, 1);
    EXPECT_EQ(s.requests(), 1);
  }
}

TEST(Upstream, RateLimitedWasNotProcessedAndIsRetriedWithBackOff) {
  Fixture f;
  ScriptedServer s({k429, kOk});
  net::Upstream u(*f.http, options(s.url()), f.clock);
  auto r = run(u, net::RetrySafety::kIfNotSent);
  EXPECT_EQ(r.outcome, net::CallOutcome::kAnswered);
  EXPECT_EQ(r.attempts, 2);
  // Never retried when a repeat could act twice.
  ScriptedServer once({k429, kOk});
  net::Upstream u2(*f.http, options(once.url()), f.clock);
  auto r2 = run(u2, net::RetrySafety::kNever);
  EXPECT_EQ(r2.outcome, net::CallOutcome::kRateLimited);
  EXPECT_EQ(once.requests(), 1);
}

TEST(Upstream, AClientErrorIsAnAnswerNotAFailure) {
  Fixture f;
  ScriptedServer s({k400});
  net::Upstream u(*f.http, options(s.url()), f.clock);
  auto r = run(u, net::RetrySafety::kAlways);
  EXPECT_EQ(r.outcome, net::CallOutcome::kAnswered);
  EXPECT_EQ(r.response.status, 400);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_FALSE(u.hosts()[0].open);
  EXPECT_EQ(u.hosts()[0].consecutive_failures, 0);
}

TEST(Upstream, AnEarlierAttemptThatMayHaveLandedKeepsTheOutcomeUnknown) {
  Fixture f;
  // The first attempt times out on the primary (maybe done), which opens its breaker; the
  // retry goes to the backup, where nothing listens (certainly not sent).
  ScriptedServer s({"hang"});
  auto o = options(s.url(), closed_url());
  o.max_attempts = 2;
  o.breaker = {1, 60000ms, 60000ms};
  net::Upstream u(*f.http, o, f.clock);
  auto r = run(u, net::RetrySafety::kAlways);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_TRUE(r.failed_over);
  EXPECT_FALSE(r.response.maybe_sent);  // the last attempt's own result
  EXPECT_EQ(r.outcome, net::CallOutcome::kUnknown);
}

TEST(Upstream, TheBreakerOpensAfterConsecutiveFailuresAndThenNothingIsSent) {
  Fixture f;
  ScriptedServer s({k503});
  net::Upstream u(*f.http, options(s.url()), f.clock);
  for (int i = 0; i < 3; ++i) {
    auto r = run(u, net::RetrySafety::kNever);
    EXPECT_EQ(r.outcome, net::CallOutcome::kUnknown);
  }
  EXPECT_TRUE(u.hosts()[0].open);
  const int before = s.requests();
  auto r = run(u, net::RetrySafety::kAlways);
  EXPECT_EQ(r.outcome, net::CallOutcome::kNotSent);
  EXPECT_EQ(r.attempts, 0);
  EXPECT_EQ(s.requests(), before);
}

TEST(Upstream, ABreakerHalfOpensAfterTheCoolDownAndOneSuccessClosesIt) {
  Fixture f;
  ScriptedServer s({k503, k503, k503, kOk});
  auto o = options(s.url());
  o.breaker = {3, 150ms, 150ms};
  net::Upstream u(*f.http, o, f.clock);
  for (int i = 0; i < 3; ++i) (void)run(u, net::RetrySafety::kNever);
  EXPECT_TRUE(u.hosts()[0].open);
  EXPECT_EQ(run(u, net::RetrySafety::kNever).outcome, net::CallOutcome::kNotSent);
  std::this_thread::sleep_for(200ms);
  auto probe = run(u, net::RetrySafety::kNever);
  EXPECT_EQ(probe.outcome, net::CallOutcome::kAnswered);
  EXPECT_FALSE(u.hosts()[0].open);
  EXPECT_EQ(u.hosts()[0].consecutive_failures, 0);
}

TEST(Upstream, WithThePrimaryOpenCallsGoToTheBackup) {
  Fixture f;
  ScriptedServer primary({k503});
  ScriptedServer backup({kOk});
  net::Upstream u(*f.http, options(primary.url(), backup.url()), f.clock);
  for (int i = 0; i < 3; ++i) (void)run(u, net::RetrySafety::kNever);
  ASSERT_TRUE(u.hosts()[0].open);
  auto r = run(u, net::RetrySafety::kNever);
  EXPECT_EQ(r.outcome, net::CallOutcome::kAnswered);
  EXPECT_EQ(r.host, backup.url());
  EXPECT_TRUE(r.failed_over);
}

TEST(Upstream, ARequestThatCannotBeBuiltIsNeverSent) {
  Fixture f;
  ScriptedServer s({kOk});
  net::Upstream u(*f.http, options(s.url()), f.clock);
  std::promise<net::UpstreamResult> p;
  net::UpstreamCall c;
  c.build = [](std::string_view) -> core::Result<net::HttpRequest> {
    return tl::unexpected(core::Error{core::ErrorCode::kInternal, "no key"});
  };
  u.call(std::move(c), [&](net::UpstreamResult r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  EXPECT_EQ(r.outcome, net::CallOutcome::kBuildFailed);
  EXPECT_EQ(r.error, "no key");
  EXPECT_EQ(s.requests(), 0);
  EXPECT_EQ(u.hosts()[0].in_flight, 0);
}

}  // namespace
}  // namespace paygate

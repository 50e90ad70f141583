// The durable store alone, in process: callbacks applied through the pipeline's transaction
// (inbox row, order, transition, outbox event) with the same row sizes as a WeChat Pay APIv3
// callback, 64 in flight, against a real SQLite file. No HTTP, no crypto: what one callback
// costs the writer and the fsync thread, and a baseline configuration in the same run.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/clock.hpp"
#include "crypto/random.hpp"
#include "pipeline/apply.hpp"
#include "pipeline/orders.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "support/process.hpp"

namespace fs = std::filesystem;
namespace pt = paygate::testing;
using namespace paygate;

namespace {

struct Callback {
  store::InboxEntry entry;
  core::PaymentEvent event;
};

std::string filler(std::size_t n) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto bytes = crypto::random_bytes(n);
  std::string out(n, 'A');
  for (std::size_t i = 0; i < n; ++i) out[i] = kAlphabet[static_cast<unsigned char>(bytes[i]) % 64];
  return out;
}

// Sizes as stored for a real APIv3 callback: headers ~740 B, body ~910 B, decoded ~400 B.
std::vector<Callback> make_callbacks(int round, int count) {
  std::vector<Callback> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    char otn[32];
    std::snprintf(otn, sizeof otn, "STORE-%d-%07d", round, i);
    Callback c;
    auto& e = c.event;
    e.kind = core::EventKind::kPaymentSucceeded;
    e.provider = "wechatpay_v3";
    e.notification_id = crypto::random_uuid();
    e.provider_event = "TRANSACTION.SUCCESS";
    e.mchid = "1900000001";
    e.appid = "wx0000000000000001";
    e.out_trade_no = otn;
    e.transaction_id = "42000" + std::to_string(1000000000LL + i) + "0000000000000";
    e.total = 100;
    e.currency = "CNY";
    e.success_time = "2026-11-24T09:37:50+08:00";
    auto& in = c.entry;
    in.provider = e.provider;
    in.merchant = "bench";
    in.notification_id = e.notification_id;
    in.business_key = e.business_key();
    in.event_type = e.provider_event;
    in.out_trade_no = e.out_trade_no;
    in.headers_json = "{\"Wechatpay-Signature\":\"" + filler(344) + "\",\"Wechatpay-Nonce\":\"" +
                      filler(32) + "\",\"other\":\"" + filler(330) + "\"}";
    in.body = "{\"resource\":{\"ciphertext\":\"" + filler(860) + "\"}}";
    in.decoded_json = "{\"notification_id\":\"" + e.notification_id + "\",\"payload\":\"" +
                      filler(330) + "\"}";
    in.received_at_ms = 1795484270000LL + i;
    out.push_back(std::move(c));
  }
  return out;
}

struct Figures {
  std::string name;
  double per_second = 0;
  double writer_us = 0;
  double fsync_us = 0;
  double wal_kib = 0;
  double batch = 0;
};

// Submits with at most `in_flight` outstanding, like that many keep-alive connections.
template <typename Submit>
double drive(int count, int in_flight, Submit submit) {
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  std::atomic<int> failed{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding < in_flight; });
      ++outstanding;
    }
    submit(i, [&](bool ok) {
      if (!ok) failed.fetch_add(1);
      std::lock_guard lock(mu);
      --outstanding;
      cv.notify_one();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outstanding == 0; });
  if (failed.load() > 0) {
    std::fprintf(stderr, "store_bench: %d units failed\n", failed.load());
    std::exit(1);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Figures run(const fs::path& dir, const std::string& name, bool buffered, int round, int count,
            int in_flight) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::atomic<int64_t> wal_bytes{0}, commits{0}, units{0};
  store::SqliteOptions options;
  options.path = (dir / "paygate.db").string();
  options.buffered_wal = buffered;
  options.on_commit = [&](int batch, int64_t wal, double, bool) {
    wal_bytes += wal;
    commits += 1;
    units += batch;
  };
  auto opened = store::open_sqlite_store(options);
  if (!opened) {
    std::fprintf(stderr, "store_bench: %s\n", opened.error().detail.c_str());
    std::exit(1);
  }
  auto& st = **opened;
  const core::SystemClock clock;
  auto callbacks = make_callbacks(round, count);
  drive(count, in_flight, [&](int i, auto done) {
    pipeline::NewOrder o;
    o.merchant = "bench";
    o.out_trade_no = callbacks[static_cast<std::size_t>(i)].event.out_trade_no;
    o.amount = 100;
    pipeline::register_order(st, clock, o, [done](auto r) { done(static_cast<bool>(r)); });
  });
  const pipeline::Identity id{"bench", "1900000001", {"wx0000000000000001"}};
  wal_bytes = 0;
  commits = 0;
  units = 0;
  const auto threads0 = pt::thread_cpu_times(::getpid());
  const double secs = drive(count, in_flight, [&](int i, auto done) {
    const Callback* c = &callbacks[static_cast<std::size_t>(i)];
    st.submit(
        [c, &id, &clock](store::Tx& tx) -> core::Result<void> {
          auto r = pipeline::record_and_apply(tx, c->entry, c->event, id, clock.now_ms());
          if (!r) return tl::unexpected(r.error());
          if (r->outcome != providers::Outcome::kApplied) {
            return core::fail(core::ErrorCode::kInternal, "not applied");
          }
          return {};
        },
        [done](core::Result<void> r) { done(static_cast<bool>(r)); });
  });
  const auto threads1 = pt::thread_cpu_times(::getpid());
  auto cpu = [&](const std::string& thread) {
    const auto a = threads0.find(thread), b = threads1.find(thread);
    if (b == threads1.end()) return 0.0;
    return 1e6 * (b->second.total() - (a == threads0.end() ? 0 : a->second.total())) / count;
  };
  Figures f;
  f.name = name;
  f.per_second = count / secs;
  f.writer_us = cpu("paygate-store");
  f.fsync_us = cpu("paygate-fsync");
  f.wal_kib = units > 0 ? static_cast<double>(wal_bytes) / 1024.0 / static_cast<double>(units) : 0;
  f.batch = commits > 0 ? static_cast<double>(units) / static_cast<double>(commits) : 0;
  st.close();
  fs::remove_all(dir);
  return f;
}

void print(const Figures& f) {
  std::printf("%-18s %8.0f callbacks/s   writer %5.1f us/callback   fsync thread %5.1f us/callback"
              "   %4.1f KiB WAL/callback   %5.1f per commit\n",
              f.name.c_str(), f.per_second, f.writer_us, f.fsync_us, f.wal_kib, f.batch);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"paygate store benchmark: callbacks applied in process, no HTTP"};
  int count = 40000;
  int rounds = 2;
  int in_flight = 64;
  app.add_option("--callbacks", count, "callbacks per run")->check(CLI::Range(100, 2000000));
  app.add_option("--rounds", rounds, "alternating rounds; best of each")->check(CLI::Range(1, 10));
  app.add_option("--in-flight", in_flight, "callbacks waiting at once")->check(CLI::Range(1, 4096));
  bool only_buffered = false;
  app.add_flag("--only-buffered", only_buffered, "skip the baseline (for profiling)");
  CLI11_PARSE(app, argc, argv);
  const fs::path root = fs::temp_directory_path() / ("paygate-store-bench-" + std::to_string(getpid()));
  Figures best_buffered, best_plain;
  for (int round = 0; round < rounds; ++round) {
    const bool flip = round % 2 == 1;
    for (bool plain : {flip, !flip}) {
      if (plain && only_buffered) continue;
      const auto f = run(root, plain ? "sqlite-default-wal" : "buffered-wal", !plain, round, count,
                         in_flight);
      print(f);
      auto& best = plain ? best_plain : best_buffered;
      if (f.per_second > best.per_second) best = f;
    }
  }
  std::printf("\nbest of %d round(s), %d callbacks, %d in flight:\n", rounds, count, in_flight);
  print(best_buffered);
  if (!only_buffered) {
    print(best_plain);
    std::printf("buffered / default WAL writes: throughput %.2f, writer CPU %.2f\n",
                best_buffered.per_second / best_plain.per_second,
                best_buffered.writer_us / best_plain.writer_us);
  }
  fs::remove_all(root);
  return 0;
}

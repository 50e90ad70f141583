#include "sim/driver.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <queue>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

namespace paygate::sim {
namespace {

using core::ErrorCode;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Task {
  SteadyClock::time_point due;
  std::size_t index;
  enum Kind { kMain, kDuplicate, kFaulty } kind;
  Fault fault;
  bool operator>(const Task& o) const { return due > o.due; }
};

}  // namespace

core::Result<Fault> parse_fault(const std::string& name) {
  if (name == "duplicate") return Fault::kDuplicate;
  if (name == "concurrent-duplicate") return Fault::kConcurrentDuplicate;
  if (name == "out-of-order") return Fault::kOutOfOrder;
  if (name == "tampered") return Fault::kTampered;
  if (name == "wrong-serial") return Fault::kWrongSerial;
  if (name == "stale") return Fault::kStale;
  if (name == "probe") return Fault::kProbe;
  if (name == "drop") return Fault::kDrop;
  return core::fail(ErrorCode::kInvalidArgument, "unknown fault " + name);
}

std::string DriveReport::to_json() const {
  json j = {{"requests", requests},
            {"notifications", deliveries.size()},
            {"acked", acked},
            {"extra_copies", extra_copies},
            {"faulty_rejected", faulty_rejected},
            {"faulty_accepted", faulty_accepted},
            {"duplicate_not_acked", duplicate_not_acked}};
  json list = json::array();
  for (const auto& d : deliveries) {
    list.push_back({{"id", d.id},
                    {"out_trade_no", d.out_trade_no},
                    {"event_type", d.event_type},
                    {"attempts", d.attempts},
                    {"acked", d.acked},
                    {"last_status", d.last_status}});
  }
  j["deliveries"] = std::move(list);
  return j.dump();
}

DriveReport drive(const Sender& sender, std::vector<SimNotification> notes, const DriveOptions& o) {
  const auto has = [&](Fault f) { return o.faults.count(f) > 0; };
  if (has(Fault::kOutOfOrder)) {
    std::shuffle(notes.begin(), notes.end(), std::mt19937(std::random_device{}()));
  }
  DriveReport report;
  report.deliveries.resize(notes.size());
  for (std::size_t i = 0; i < notes.size(); ++i) {
    report.deliveries[i] = Delivery{notes[i].id, notes[i].out_trade_no, notes[i].event_type};
  }

  std::mutex mu;
  std::condition_variable cv;
  std::priority_queue<Task, std::vector<Task>, std::greater<>> queue;
  std::size_t unresolved = notes.size();
  int64_t outstanding_extras = 0;
  const auto start = SteadyClock::now();
  for (std::size_t i = 0; i < notes.size(); ++i) {
    for (Fault f : {Fault::kTampered, Fault::kWrongSerial, Fault::kStale, Fault::kProbe}) {
      if (has(f) && sender.supports(f)) {
        queue.push(Task{start, i, Task::kFaulty, f});
        ++outstanding_extras;
      }
    }
    queue.push(Task{start, i, Task::kMain, Fault::kDuplicate});
    if (has(Fault::kConcurrentDuplicate)) {
      queue.push(Task{start, i, Task::kDuplicate, Fault::kConcurrentDuplicate});
      ++outstanding_extras;
    }
  }

  auto worker = [&] {
    HttpClient client;
    for (;;) {
      Task t;
      {
        std::unique_lock lock(mu);
        for (;;) {
          if (unresolved == 0 && outstanding_extras == 0) {
            cv.notify_all();
            return;
          }
          if (!queue.empty() && queue.top().due <= SteadyClock::now()) break;
          if (queue.empty()) cv.wait(lock);
          else cv.wait_until(lock, queue.top().due);
        }
        t = queue.top();
        queue.pop();
      }
      const auto& n = notes[t.index];
      const Outgoing out = sender.attempt(
          n, now_unix(), t.kind == Task::kFaulty ? std::optional<Fault>(t.fault) : std::nullopt);
      auto timeout = o.deadline;
      bool first_attempt;
      {
        std::lock_guard lock(mu);
        first_attempt = report.deliveries[t.index].attempts == 0;
      }
      if (t.kind == Task::kMain && first_attempt && has(Fault::kDrop)) {
        timeout = std::chrono::milliseconds(1);
      }
      auto r = client.request("POST", out.url, out.headers, out.body, timeout);
      const bool ok = sender.acknowledged(r) && r.seconds * 1000 <= o.deadline.count();
      std::lock_guard lock(mu);
      ++report.requests;
      if (t.kind == Task::kFaulty) {
        ++report.extra_copies;
        --outstanding_extras;
        if (sender.acknowledged(r)) {
          ++report.faulty_accepted;
        } else if (r.status != 0) {
          ++report.faulty_rejected;
        }
        cv.notify_all();
        continue;
      }
      if (t.kind == Task::kDuplicate) {
        ++report.extra_copies;
        --outstanding_extras;
        if (!ok) ++report.duplicate_not_acked;
        cv.notify_all();
        continue;
      }
      auto& d = report.deliveries[t.index];
      ++d.attempts;
      d.last_status = r.status;
      if (ok) {
        d.acked = true;
        ++report.acked;
        --unresolved;
        if (has(Fault::kDuplicate)) {
          queue.push(Task{SteadyClock::now(), t.index, Task::kDuplicate, Fault::kDuplicate});
          ++outstanding_extras;
        }
      } else if (static_cast<std::size_t>(d.attempts) <= sender.schedule().size()) {
        const auto delay = std::chrono::duration_cast<SteadyClock::duration>(
            sender.schedule()[d.attempts - 1] * o.time_scale);
        queue.push(Task{SteadyClock::now() + delay, t.index, Task::kMain, Fault::kDuplicate});
      } else {
        --unresolved;  // the provider gives up after the last retry
      }
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, o.concurrency); ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return report;
}

}  // namespace paygate::sim

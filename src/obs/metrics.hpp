#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace paygate::obs {

// Label values in the order the family declared its label names.
using Labels = std::vector<std::string>;

class Counter {
 public:
  void inc(const Labels& labels, double by = 1);
  double value(const Labels& labels) const;

 private:
  friend class Registry;
  Counter(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  void render(std::string& out) const;
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<Labels, double> values_;
};

class Histogram {
 public:
  void observe(const Labels& labels, double value);
  uint64_t count(const Labels& labels) const;

 private:
  friend class Registry;
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> buckets)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        buckets_(std::move(buckets)) {}
  struct Series {
    std::vector<uint64_t> counts;  // per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  void render(std::string& out) const;
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  mutable std::mutex mu_;
  std::map<Labels, Series> series_;
};

// Prometheus text exposition (format 0.0.4). Families are created at wiring; hot paths hold
// references. Gauges that mirror stored state are produced at scrape time by collectors.
class Registry {
 public:
  Counter& counter(std::string name, std::string help, std::vector<std::string> label_names);
  Histogram& histogram(std::string name, std::string help, std::vector<std::string> label_names,
                       std::vector<double> buckets);
  // A collector appends complete families (HELP/TYPE/samples) to the exposition.
  void add_collector(std::function<void(std::string&)> collector);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Counter>> counters_;
  std::vector<std::unique_ptr<Histogram>> histograms_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

// Escapes a label value for the text format.
std::string escape_label(const std::string& v);
std::string format_double(double v);

// The metric families paygate exposes, created once and shared.
struct Metrics {
  explicit Metrics(Registry& r);
  Registry& registry;
  Counter& callbacks;            // provider, outcome
  Histogram& reply_seconds;      // provider
  Counter& anomalies;            // provider, code
  Counter& rejections;           // provider, reason
  Histogram& commit_batch_size;  //
  Histogram& commit_seconds;     //
  Counter& commits;              // result
  Counter& wal_bytes;            //
  // result: complete (WAL fully copied), partial, busy; by: checkpointer, or writer (only
  // when the checkpointer fell a quarter past the restart size behind)
  Counter& checkpoints;
  Counter& http_requests;        // route, status
  Counter& connection_events;    // event: evicted, refused, accept_error, handler_error
  Counter& store_shed;           // work refused because the store's queue was full
  Counter& released_on_registration;  // callbacks that came before their order, applied at it
  Counter& provider_calls;            // provider, operation, outcome (ok, refused, unknown, ...)
  Histogram& provider_call_seconds;   // provider, operation: retries and back-off included
  Counter& provider_call_attempts;    // provider, operation: HTTP attempts (retries show here)
  Counter& provider_failovers;        // provider: calls whose last attempt went to the backup
};

}  // namespace paygate::obs

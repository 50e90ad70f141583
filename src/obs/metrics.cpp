#include "obs/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace paygate::obs {
namespace {

void render_labels(std::string& out, const std::vector<std::string>& names, const Labels& values,
                   const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escape_label(values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!first) out += ',';
    out += extra;
  }
  out += '}';
}

}  // namespace

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_double(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void Counter::inc(const Labels& labels, double by) {
  std::lock_guard lock(mu_);
  values_[labels] += by;
}

double Counter::value(const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Counter::render(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [labels, v] : values_) {
    out += name_;
    render_labels(out, label_names_, labels);
    out += ' ' + format_double(v) + '\n';
  }
}

void Histogram::observe(const Labels& labels, double value) {
  std::lock_guard lock(mu_);
  auto& s = series_[labels];
  if (s.counts.empty()) s.counts.assign(buckets_.size(), 0);
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (value <= buckets_[i]) {
      ++s.counts[i];
      break;
    }
  }
  ++s.count;
  s.sum += value;
}

uint64_t Histogram::count(const Labels& labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.count;
}

void Histogram::render(std::string& out) const {
  out += "# HELP " + name_ + " " + help_ + "\n# TYPE " + name_ + " histogram\n";
  std::lock_guard lock(mu_);
  for (const auto& [labels, s] : series_) {
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      cumulative += s.counts[i];
      out += name_ + "_bucket";
      render_labels(out, label_names_, labels, "le=\"" + format_double(buckets_[i]) + "\"");
      out += ' ' + std::to_string(cumulative) + '\n';
    }
    out += name_ + "_bucket";
    render_labels(out, label_names_, labels, "le=\"+Inf\"");
    out += ' ' + std::to_string(s.count) + '\n';
    out += name_ + "_sum";
    render_labels(out, label_names_, labels);
    out += ' ' + format_double(s.sum) + '\n';
    out += name_ + "_count";
    render_labels(out, label_names_, labels);
    out += ' ' + std::to_string(s.count) + '\n';
  }
}

Counter& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  counters_.emplace_back(new Counter(std::move(name), std::move(help), std::move(labels)));
  return *counters_.back();
}

Histogram& Registry::histogram(std::string name, std::string help,
                               std::vector<std::string> labels, std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  histograms_.emplace_back(
      new Histogram(std::move(name), std::move(help), std::move(labels), std::move(buckets)));
  return *histograms_.back();
}

void Registry::add_collector(std::function<void(std::string&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& c : counters_) c->render(out);
  for (const auto& h : histograms_) h->render(out);
  for (const auto& c : collectors_) c(out);
  return out;
}

Metrics::Metrics(Registry& r)
    : registry(r),
      callbacks(r.counter("paygate_callbacks_total", "Provider callbacks by outcome.",
                          {"provider", "outcome"})),
      reply_seconds(r.histogram("paygate_callback_reply_seconds",
                                "Time from a complete callback request to its reply.",
                                {"provider"},
                                {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                 1, 2.5, 5})),
      anomalies(r.counter("paygate_callback_anomalies_total",
                          "Authentic callbacks that did not fit the stored order.",
                          {"provider", "code"})),
      rejections(r.counter("paygate_callback_rejections_total",
                           "Callbacks rejected before any effect, by reason.",
                           {"provider", "reason"})),
      commit_batch_size(r.histogram("paygate_store_commit_batch_size",
                                    "Units of work carried by one durable commit.", {},
                                    {1, 2, 4, 8, 16, 32, 64, 128, 256, 512})),
      commit_seconds(r.histogram("paygate_store_commit_seconds",
                                 "Duration of one batched transaction including fsync.", {},
                                 {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})),
      commits(r.counter("paygate_store_commits_total", "Batched commits by result.",
                        {"result"})),
      wal_bytes(r.counter("paygate_store_wal_bytes_total",
                          "Bytes of database pages appended to the SQLite WAL by commits.", {})),
      checkpoints(r.counter("paygate_store_checkpoints_total",
                            "WAL checkpoints by result and by which thread ran them.",
                            {"result", "by"})),
      http_requests(r.counter("paygate_http_requests_total", "HTTP requests by route and status.",
                              {"route", "status"})),
      connection_events(r.counter(
          "paygate_connection_events_total",
          "Idle connections closed to make room (evicted), connections refused for lack of room, "
          "accept errors (out of descriptors), handlers that failed (answered 500).",
          {"event"})),
      store_shed(r.counter("paygate_store_shed_total",
                           "Units of work refused at once because the store's queue was full "
                           "(callbacks answered 503, providers retry).",
                           {})),
      released_on_registration(r.counter(
          "paygate_callbacks_released_on_registration_total",
          "Callbacks that arrived before their order was registered, applied when it was.",
          {})),
      provider_calls(r.counter("paygate_provider_calls_total",
                               "Calls paygate made to a provider's API, by how their answer read "
                               "(ok, refused, unknown, not_found, not_sent, error).",
                               {"provider", "operation", "outcome"})),
      provider_call_seconds(r.histogram(
          "paygate_provider_call_seconds",
          "Duration of a provider API call, retries and back-off included.",
          {"provider", "operation"}, {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})),
      provider_call_attempts(r.counter("paygate_provider_call_attempts_total",
                                       "HTTP attempts of provider API calls (retries included).",
                                       {"provider", "operation"})),
      provider_failovers(r.counter("paygate_provider_failovers_total",
                                   "Provider API calls answered through the backup host.",
                                   {"provider"})) {}

}  // namespace paygate::obs

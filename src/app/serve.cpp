#include "app/serve.hpp"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "app/settings.hpp"
#include "http/api.hpp"
#include "pipeline/retention.hpp"
#include "obs/log.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "net/http_client.hpp"
#include "webhooks/worker.hpp"

namespace paygate::app {

// The composition root: the only place that names concrete classes.
int serve(const std::string& config_path, bool verify_only, const std::string& port_file,
          bool allow_readable_secrets) {
  auto settings = load_settings(config_path, allow_readable_secrets);
  if (!settings) {
    std::cerr << "paygate: bad config: " << settings.error().detail << "\n";
    return 2;
  }
  obs::set_log_level(obs::parse_level(settings->log_level));
  core::SystemClock clock;
  obs::Registry registry;
  obs::Metrics metrics(registry);

  std::unique_ptr<store::Store> store;
  // A failed WAL sync stops the gateway: nothing more is acknowledged, and the supervisor's
  // restart lets SQLite recover from what is really on disk.
  std::atomic<http::HttpServer*> running{nullptr};
  std::atomic<bool> store_failed{false};
  if (!verify_only) {
    store::SqliteOptions so;
    so.path = settings->sqlite_path;
    so.on_commit = [&metrics](int batch, int64_t wal_bytes, double secs, bool ok) {
      metrics.commit_batch_size.observe({}, batch);
      metrics.wal_bytes.inc({}, static_cast<double>(wal_bytes));
      metrics.commit_seconds.observe({}, secs);
      metrics.commits.inc({ok ? "ok" : "failed"});
    };
    so.on_checkpoint = [&metrics](int frames, int backfilled, int rc, bool by_writer) {
      metrics.checkpoints.inc({rc != 0 ? "busy" : frames == backfilled ? "complete" : "partial",
                               by_writer ? "writer" : "checkpointer"});
    };
    so.max_queued = settings->store_max_queued;
    so.on_shed = [&metrics] { metrics.store_shed.inc({}); };
    so.on_fatal = [&running, &store_failed](const core::Error& e) {
      store_failed = true;
      obs::Log(obs::Level::kError, "store failed")
          .str("error", e.detail)
          .str("action", "answering 500 to everything, stopping; restart to recover");
      if (auto* s = running.load()) s->stop();
    };
    auto opened = store::open_sqlite_store(std::move(so));
    if (!opened) {
      std::cerr << "paygate: cannot open store " << settings->sqlite_path << ": "
                << opened.error().detail << "\n";
      return 1;
    }
    store = std::move(*opened);
    registry.add_collector([&store](std::string& out) {
      auto c = store->counts();
      if (!c) return;
      out += "# HELP paygate_orders Orders by state.\n# TYPE paygate_orders gauge\n";
      for (const char* s : {"PENDING", "PAID", "PARTIALLY_REFUNDED", "REFUNDED", "CLOSED"}) {
        auto it = c->orders_by_state.find(s);
        out += "paygate_orders{state=\"" + std::string(s) + "\"} " +
               std::to_string(it == c->orders_by_state.end() ? 0 : it->second) + "\n";
      }
      out += "# HELP paygate_inbox_anomalies Stored callbacks held as anomalies.\n"
             "# TYPE paygate_inbox_anomalies gauge\npaygate_inbox_anomalies " +
             std::to_string(c->anomalies) + "\n";
      out += "# HELP paygate_outbox_pending Outbox events not yet routed to merchant endpoints.\n"
             "# TYPE paygate_outbox_pending gauge\npaygate_outbox_pending " +
             std::to_string(c->outbox_pending) + "\n";
      out += "# HELP paygate_webhook_deliveries Unfinished and dead-lettered merchant deliveries.\n"
             "# TYPE paygate_webhook_deliveries gauge\n";
      for (const char* s : {"pending", "delivering", "dead"}) {
        auto it = c->deliveries_by_status.find(s);
        out += "paygate_webhook_deliveries{status=\"" + std::string(s) + "\"} " +
               std::to_string(it == c->deliveries_by_status.end() ? 0 : it->second) + "\n";
      }
    });
  }

  // Merchant delivery runs beside the callback path, sharing only the store's queue.
  std::vector<webhooks::Endpoint> endpoints;
  for (auto& m : settings->merchants) {
    for (auto& e : m.webhooks) endpoints.push_back(std::move(e));
  }
  std::vector<http::EndpointInfo> endpoint_infos;
  for (const auto& e : endpoints) endpoint_infos.push_back({e.id, e.merchant, e.url, e.events});
  std::unique_ptr<net::HttpClient> transport;
  std::unique_ptr<webhooks::DeliveryWorker> worker;
  if (store && !endpoints.empty()) {
    net::HttpClientOptions http;
    http.allow_private_addresses = settings->webhooks.allow_private_addresses;
    http.max_response_bytes = 512;  // what an attempt keeps of the merchant's answer
    http.user_agent = "paygate-webhooks/1";
    transport = net::make_http_client(std::move(http));
    worker = std::make_unique<webhooks::DeliveryWorker>(*store, *transport, clock, registry,
                                                        std::move(endpoints),
                                                        settings->webhooks.worker);
  }

  // Payments out: one HTTP client for every provider API (its own thread), an Upstream (hosts,
  // breakers, retries) per merchant and provider.
  std::unique_ptr<net::HttpClient> provider_transport;
  std::map<std::pair<std::string, std::string>, pipeline::ProviderLink> links;
  for (auto& m : settings->merchants) {
    if (!m.wechatpay_v3_out || !m.wechatpay_v3 || !store) continue;
    if (!provider_transport) {
      net::HttpClientOptions o;
      o.allow_private_addresses = true;  // provider hosts come from the operator's config
      o.max_response_bytes = 1 << 20;
      o.user_agent = "paygate/1";
      o.thread_name = "paygate-api";
      provider_transport = net::make_http_client(std::move(o));
    }
    pipeline::ProviderLink link;
    link.api = std::make_shared<providers::wechatpay_v3::Client>(*m.wechatpay_v3,
                                                                 m.wechatpay_v3_out->api);
    link.upstream = std::make_shared<net::Upstream>(*provider_transport,
                                                    m.wechatpay_v3_out->upstream, clock);
    link.identity = {m.id, m.wechatpay_v3->mchid, m.wechatpay_v3->appids};
    links.emplace(std::pair{m.id, std::string("wechatpay_v3")}, std::move(link));
  }
  std::unique_ptr<pipeline::Payments> payments;
  if (!links.empty()) {
    payments = std::make_unique<pipeline::Payments>(
        *store, clock, metrics,
        [&links](std::string_view merchant, std::string_view provider) -> const pipeline::ProviderLink* {
          auto it = links.find({std::string(merchant), std::string(provider)});
          return it == links.end() ? nullptr : &it->second;
        });
  }

  http::ApiConfig api;
  api.payments = payments.get();
  for (auto& m : settings->merchants) {
    api.tokens.emplace(m.id, m.api_token);
    if (m.wechat_mp) {
      api.messages.push_back(http::MessageRoute{
          m.id, std::make_unique<providers::wechat_mp::Endpoint>(std::move(*m.wechat_mp))});
    }
    if (m.wechatpay_v2) {
      pipeline::Identity id{m.id, m.wechatpay_v2->mchid, m.wechatpay_v2->appids};
      api.callbacks.push_back(http::CallbackRoute{
          "wechatpay/v2",
          std::make_unique<providers::wechatpay_v2::Adapter>(std::move(*m.wechatpay_v2)), id, ""});
    }
    if (m.alipay) {
      pipeline::Identity id{m.id, m.alipay->seller_id, {m.alipay->app_id}};
      std::string redirect = m.alipay->return_redirect_url;
      api.callbacks.push_back(http::CallbackRoute{
          "alipay", std::make_unique<providers::alipay::Adapter>(std::move(*m.alipay)), id,
          std::move(redirect)});
    }
    if (m.wechatpay_v3) {
      pipeline::Identity id{m.id, m.wechatpay_v3->mchid, m.wechatpay_v3->appids};
      api.callbacks.push_back(http::CallbackRoute{
          "wechatpay/v3",
          std::make_unique<providers::wechatpay_v3::Adapter>(std::move(*m.wechatpay_v3)), id, ""});
    }
  }
  api.endpoints = std::move(endpoint_infos);
  if (worker) api.wake_deliveries = [w = worker.get()] { w->wake(); };
  pipeline::CallbackPipeline pipeline(store.get(), clock, metrics);
  pipeline::MessagePipeline messages(store.get(), clock, metrics);
  http::Api handler(std::move(api), store.get(), pipeline, messages, clock, metrics);
  auto opts = settings->server;
  opts.on_protocol_error = [&metrics](int status) {
    metrics.http_requests.inc({"protocol", std::to_string(status)});
  };
  opts.on_connection_event = [&metrics](const char* event) {
    metrics.connection_events.inc({event});
  };
  auto server = http::HttpServer::create(opts, handler);
  if (!server) {
    std::cerr << "paygate: " << server.error().detail << "\n";
    return 1;
  }
  const uint16_t port = (*server)->port();
  if (!port_file.empty()) {
    // Written whole then renamed, so a watcher never reads a half-written port.
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  const auto limits = http::connection_limits(opts);
  obs::Log(obs::Level::kInfo, "listening")
      .str("address", opts.address)
      .num("port", port)
      .num("max_connections", limits.max_connections)
      .num("max_connections_per_address", limits.max_connections_per_address)
      .str("store", verify_only ? "off (verify-only)" : settings->sqlite_path);
  if (worker) worker->start();
  std::unique_ptr<pipeline::Retention> retention;
  if (store && settings->retention_days > 0) {
    pipeline::RetentionOptions ro;
    ro.keep = std::chrono::hours(24) * settings->retention_days;
    retention = std::make_unique<pipeline::Retention>(*store, clock, ro);
    retention->start();
  }
  running = server->get();
  if (store_failed) (*server)->stop();  // failed before the server was known
  (*server)->run();
  running = nullptr;
  if (retention) retention->stop();
  if (worker) {
    // Attempts still running after the grace keep their lease and are sent again after restart.
    worker->stop(std::min(opts.drain_timeout, std::chrono::milliseconds(5000)));
    transport.reset();
    worker.reset();
  }
  // Calls still in flight end as "shutting down" (not sent or unknown) and are recorded first.
  provider_transport.reset();
  if (store) store->close();
  if (store_failed) {
    obs::Log(obs::Level::kError, "stopped after a store failure").num("exit_code", kExitStoreFailed);
    return kExitStoreFailed;
  }
  obs::Log(obs::Level::kInfo, "stopped");
  return 0;
}

}  // namespace paygate::app

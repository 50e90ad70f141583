#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/secret.hpp"
#include "http/server.hpp"
#include "http/target.hpp"
#include "obs/metrics.hpp"
#include "pipeline/callback_pipeline.hpp"
#include "pipeline/messages.hpp"
#include "pipeline/payments.hpp"
#include "providers/provider.hpp"
#include "store/store.hpp"

namespace paygate::http {

// One merchant's callback endpoint for one provider: /notify/<path>/<merchant>.
struct CallbackRoute {
  std::string path;  // e.g. "wechatpay/v3"
  std::unique_ptr<providers::CallbackAdapter> adapter;
  pipeline::Identity identity;
  std::string return_redirect_url;  // browser returns go here once verified (optional)
};

// A WeChat Official Account's server URL: /wechat/mp/<merchant>.
struct MessageRoute {
  std::string merchant;
  std::unique_ptr<providers::wechat_mp::Endpoint> endpoint;
};

// A merchant webhook endpoint as the API shows it (no secrets).
struct EndpointInfo {
  std::string id;
  std::string merchant;
  std::string url;
  std::vector<std::string> events;  // empty = all
  bool wants(std::string_view event_type) const;
};

struct ApiConfig {
  std::map<std::string, core::Secret> tokens;  // merchant -> bearer token
  std::vector<CallbackRoute> callbacks;
  std::vector<MessageRoute> messages;
  std::vector<EndpointInfo> endpoints;
  std::function<void()> wake_deliveries;  // after a replay or an endpoint is enabled
  pipeline::Payments* payments = nullptr;  // payments out; null when no merchant has them
};

// Routes requests to health, metrics, the /v1 merchant API and provider callbacks. Holds no
// Beast types. /v1 requires the merchant's bearer token; callback routes are public (their
// signatures authenticate them).
class Api final : public HttpHandler {
 public:
  Api(ApiConfig config, store::Store* store, pipeline::CallbackPipeline& pipeline,
      pipeline::MessagePipeline& messages, const core::Clock& clock, obs::Metrics& metrics);
  void handle(HttpRequest request, Respond respond) override;

 private:
  void callback(HttpRequest& req, const std::vector<std::string>& seg, Respond& respond);
  void wechat_mp(HttpRequest& req, const std::vector<std::string>& seg, Respond& respond);
  void browser_return(HttpRequest& req, const std::vector<std::string>& seg, Respond& respond);
  void create_order(HttpRequest& req, const std::string& caller, Respond& respond);
  void get_order(const std::vector<std::string>& seg, const std::string& caller, Respond& respond);
  void list_anomalies(const std::string& caller, Respond& respond);
  void redrive(const std::vector<std::string>& seg, const std::string& caller, Respond& respond);
  void ready(Respond& respond);
  // Payments out (payments_api.cpp).
  void create_payment(const HttpRequest& req, const std::string& caller, Respond respond);
  void get_payment(const std::vector<std::string>& seg, const std::string& caller,
                   Respond& respond);
  void sync_payment(const std::vector<std::string>& seg, const std::string& caller,
                    Respond respond, bool close);
  void create_refund(const HttpRequest& req, const std::string& caller, Respond respond);
  void get_refund(const std::vector<std::string>& seg, const std::string& caller,
                  Respond& respond);
  void sync_refund(const std::vector<std::string>& seg, const std::string& caller,
                   Respond respond);
  // Runs `run` once per Idempotency-Key: a repeat of the same request gets the first answer
  // (kept in the store), the same key with another request 422, a repeat while the first
  // still runs 409. Answers of 5xx are not kept (nothing was decided: a retry runs again).
  void idempotent(const HttpRequest& req, const std::string& caller, Respond respond,
                  std::function<void(Respond)> run);
  // Sends `r`, built from a read, once everything the read could see is durable (503 if the
  // store fails first): a merchant never acts on a payment a power cut could still erase.
  void answer_durable(const Respond& respond, HttpResponse r) const;
  // Merchant webhooks (events_api.cpp).
  void list_events(const HttpRequest& req, const std::string& caller, Respond& respond);
  void get_event(const std::vector<std::string>& seg, const std::string& caller, Respond& respond);
  void replay_event(const std::vector<std::string>& seg, const std::string& caller,
                    Respond& respond);
  void list_endpoints(const std::string& caller, Respond& respond);
  void replay_endpoint(const HttpRequest& req, const std::vector<std::string>& seg,
                       const std::string& caller, Respond& respond);
  void set_endpoint_enabled(const std::vector<std::string>& seg, const std::string& caller,
                            bool enabled, Respond& respond);
  const EndpointInfo* find_endpoint(std::string_view id, std::string_view merchant) const;
  // The merchant whose token the request carries; empty when none matches.
  std::string authenticate(const HttpRequest& req) const;
  const CallbackRoute* find_route(std::string_view path, std::string_view merchant) const;
  // The route of a stored callback's provider name ("wechatpay_v3").
  const CallbackRoute* route_of_provider(std::string_view provider,
                                         std::string_view merchant) const;

  ApiConfig config_;
  store::Store* store_;
  pipeline::CallbackPipeline& pipeline_;
  pipeline::MessagePipeline& messages_;
  const core::Clock& clock_;
  obs::Metrics& metrics_;
  // /readyz: the last durable heartbeat, so probes cost at most one write per second.
  std::atomic<int64_t> ready_at_ms_{0};
  std::atomic<bool> heartbeat_in_flight_{false};
};

}  // namespace paygate::http

#pragma once
#include <string>

#include "core/clock.hpp"
#include "obs/metrics.hpp"
#include "pipeline/callback_pipeline.hpp"
#include "providers/form.hpp"
#include "providers/wechat_mp/endpoint.hpp"
#include "store/store.hpp"

namespace paygate::pipeline {

struct MessageRequest {
  std::string account;  // paygate merchant id owning the Official Account
  providers::FormParams query;
  std::string body;
  std::string request_id;
};

// WeChat Official Account messages: verify (and decrypt) -> one transaction: inbox (dedupe
// by MsgId, or FromUserName + CreateTime for events) and an outbox event wechat_mp.message /
// wechat_mp.event -> commit -> reply `success`. Message contents are never logged.
class MessagePipeline {
 public:
  MessagePipeline(store::Store* store, const core::Clock& clock, obs::Metrics& metrics)
      : store_(store), clock_(clock), metrics_(metrics) {}

  void handle(const providers::wechat_mp::Endpoint& endpoint, MessageRequest request,
              ReplyFn reply);

 private:
  store::Store* store_;
  const core::Clock& clock_;
  obs::Metrics& metrics_;
};

// The outbox payload for one message.
std::string message_payload(const std::string& account, const providers::wechat_mp::Message& m);

}  // namespace paygate::pipeline

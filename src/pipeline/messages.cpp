#include "pipeline/messages.hpp"

#include <chrono>
#include <memory>

#include "core/json_out.hpp"

namespace paygate::pipeline {
namespace {

using core::ErrorCode;
using Clock = std::chrono::steady_clock;
constexpr const char* kProvider = "wechat_mp";

providers::Reply text(int status, std::string body) {
  return providers::Reply{status, "text/plain", std::move(body)};
}

int status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kStoreUnavailable:
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kBadSignature:
    case ErrorCode::kStaleTimestamp:
    case ErrorCode::kDecryptFailed:
    case ErrorCode::kMissingHeader:
      return 401;
    default:
      return 400;
  }
}

std::string fields_json(const providers::FormParams& fields) {
  core::JsonOut j;
  j.begin_object();
  for (const auto& [k, v] : fields) j.str(k, v);
  j.end_object();
  return j.take();
}

}  // namespace

std::string message_payload(const std::string& account, const providers::wechat_mp::Message& m) {
  core::JsonOut j;
  j.begin_object()
      .str("type", m.is_event ? "wechat_mp.event" : "wechat_mp.message")
      .str("account", account)
      .str("dedupe_key", m.dedupe_key)
      .str("msg_type", m.msg_type)
      .str_or_null("event", m.event)
      .str("from_user", m.from_user)
      .str("to_user", m.to_user)
      .num("create_time", m.create_time)
      .begin_object("fields");
  for (const auto& [k, v] : m.fields) j.str(k, v);
  j.end_object().end_object();
  return j.take();
}

void MessagePipeline::handle(const providers::wechat_mp::Endpoint& endpoint,
                             MessageRequest request, ReplyFn reply) {
  const auto start = Clock::now();
  auto finish = [this, start, account = request.account, request_id = request.request_id](
                    const ReplyFn& reply, providers::Reply r, std::string outcome,
                    std::string reason) {
    answer(metrics_, reply,
           CallbackRecord{kProvider, account, request_id, start, std::move(outcome),
                          std::move(reason), "", ""},
           std::move(r));
  };

  auto msg = endpoint.accept(request.query, request.body, clock_.now_unix());
  if (!msg) {
    const auto code = msg.error().code;
    metrics_.rejections.inc({kProvider, std::string(core::to_string(code))});
    finish(reply, text(status_for(code), ""), "rejected", std::string(core::to_string(code)));
    return;
  }
  if (store_ == nullptr) {
    finish(reply, text(200, "success"), "verified", "");
    return;
  }
  switch (endpoint.seen(*msg, clock_.now_unix())) {
    case providers::wechat_mp::Endpoint::Seen::kRepeat:
      // The same signed request again (WeChat repeating one already stored, or a replay).
      finish(reply, text(200, "success"), "duplicate", "replay");
      return;
    case providers::wechat_mp::Endpoint::Seen::kOtherMessage:
      // A signature already used with another message: a captured query, a forged body.
      metrics_.rejections.inc({kProvider, "replayed_signature"});
      finish(reply, text(401, ""), "rejected", "replayed_signature");
      return;
    case providers::wechat_mp::Endpoint::Seen::kNew:
      break;
  }
  struct State {
    store::InboxEntry entry;
    store::OutboxEvent outbox;
    bool duplicate = false;
  };
  auto st = std::make_shared<State>();
  auto& e = st->entry;
  e.provider = kProvider;
  e.merchant = request.account;
  e.notification_id = msg->dedupe_key;
  e.business_key = msg->dedupe_key;
  e.event_type = msg->is_event ? "event:" + msg->event : msg->msg_type;
  e.out_trade_no = "";
  {
    core::JsonOut q;
    q.begin_object();
    for (const auto& [k, v] : request.query) q.str(k, v);
    q.end_object();
    e.headers_json = q.take();  // the signed query parameters, for audit
  }
  e.body = std::move(request.body);
  e.decoded_json = fields_json(msg->fields);
  e.status = store::InboxStatus::kApplied;
  e.received_at_ms = clock_.now_ms();
  auto& ob = st->outbox;
  ob.merchant = request.account;
  ob.out_trade_no = "mp:" + msg->from_user;  // events of one user stay in order
  ob.event_type = msg->is_event ? "wechat_mp.event" : "wechat_mp.message";
  ob.payload = message_payload(request.account, *msg);
  ob.created_at_ms = e.received_at_ms;

  providers::wechat_mp::Message replay;
  replay.replay_key = msg->replay_key;
  replay.dedupe_key = msg->dedupe_key;
  store_->submit(
      [st](store::Tx& tx) -> core::Result<void> {
        auto id = tx.insert_inbox(st->entry);  // writes nothing on a duplicate
        if (!id) return tl::unexpected(id.error());
        if (!*id) {
          st->duplicate = true;
          return {};
        }
        st->outbox.inbox_id = **id;
        if (auto r = tx.add_outbox(st->outbox); !r) return tl::unexpected(r.error());
        return {};
      },
      [this, st, &endpoint, replay, reply = std::move(reply), finish](
          core::Result<void> committed) {
        if (!committed) {
          const int status = committed.error().code == core::ErrorCode::kOverloaded ? 503 : 500;
          finish(reply, text(status, ""), "error", committed.error().detail);
          return;
        }
        endpoint.remember(replay, clock_.now_unix());
        // WeChat needs `success` (or an empty body) within 5 s; passive replies are not sent.
        finish(reply, text(200, "success"), st->duplicate ? "duplicate" : "applied", "");
      });
}

}  // namespace paygate::pipeline

#pragma once
#include <optional>
#include <string_view>
#include <vector>

#include "store/sqlite/db.hpp"
#include "store/store.hpp"

// Merchant-delivery queries, shared by the writer's transactions and the reader connection.
namespace paygate::store::sqlite {

// The outbox columns in the order read_outbox expects them.
extern const char* const kOutboxColumns;
OutboxEvent read_outbox(const Stmt& s);

core::Result<std::vector<OutboxEvent>> unrouted_outbox(Db& db, int limit);
// Everything up to `outbox_id` has been fanned out.
core::Result<void> mark_routed(Db& db, int64_t outbox_id);
core::Result<int64_t> unrouted_count(Db& db);
core::Result<bool> insert_delivery(Db& db, const Delivery& d);
core::Result<std::vector<ClaimedDelivery>> claim_deliveries(Db& db, std::string_view endpoint,
                                                            int64_t now_ms, int64_t lease_until_ms,
                                                            int limit);
core::Result<void> finish_attempt(Db& db, const Delivery& d, const DeliveryAttempt& a);
core::Result<void> release_deliveries(Db& db, const std::vector<int64_t>& ids, int64_t now_ms);
core::Result<void> set_endpoint_state(Db& db, const EndpointState& s);
core::Result<std::optional<EndpointState>> endpoint_state(Db& db, std::string_view endpoint);
core::Result<std::vector<EndpointState>> endpoint_states(Db& db);
core::Result<int> replay_deliveries(Db& db, int64_t outbox_id, std::string_view endpoint,
                                    int64_t since_ms, int64_t now_ms);
core::Result<std::vector<OutboxEvent>> list_events(Db& db, const EventFilter& f);
core::Result<std::optional<EventDetails>> event_details(Db& db, int64_t id);
core::Result<std::map<std::string, int64_t>> deliveries_by_status(Db& db);
// The merchant API's and /metrics' queries by name, for checking their plans.
std::vector<std::pair<std::string, std::string>> merchant_queries();

}  // namespace paygate::store::sqlite

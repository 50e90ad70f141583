#include "store/store.hpp"

namespace paygate::store {

std::string_view to_string(InboxStatus s) {
  switch (s) {
    case InboxStatus::kProcessing: return "processing";
    case InboxStatus::kApplied: return "applied";
    case InboxStatus::kNoop: return "noop";
    case InboxStatus::kAnomaly: return "anomaly";
  }
  return "processing";
}

}  // namespace paygate::store

#pragma once
#include <string_view>

#include "core/error.hpp"
#include "providers/form.hpp"

namespace paygate::providers {

// A flat XML document as WeChat sends it: <root><name>value</name>...</root>, values as text
// or CDATA. Hardened: a DOCTYPE or entity declaration anywhere is refused (no entity can be
// expanded, no external resource read), elements nested below the children are refused, a
// repeated name is refused, and the input is bounded by `max_bytes`. Names keep document order.
[[nodiscard]] core::Result<FormParams> parse_flat_xml(std::string_view text,
                                                      std::string_view root,
                                                      std::size_t max_bytes = 64 * 1024);

}  // namespace paygate::providers

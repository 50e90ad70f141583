#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace paygate::core {

bool iequals(std::string_view a, std::string_view b);

// HTTP header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // First value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto& [n, v] : fields_) {
      if (iequals(n, name)) return std::string_view(v);
    }
    return std::nullopt;
  }
  // How many fields named `name` arrived: a signed header that comes twice is ambiguous (a proxy
  // may read the other copy) and must be refused, not resolved by picking one.
  std::size_t count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& [f, v] : fields_) n += iequals(f, name) ? 1 : 0;
    return n;
  }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = char(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = char(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace paygate::core

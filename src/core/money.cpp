#include "core/money.hpp"

namespace paygate::core {

Result<int64_t> yuan_to_fen(std::string_view yuan) {
  const auto dot = yuan.find('.');
  const std::string_view whole = yuan.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : yuan.substr(dot + 1);
  auto digits = [](std::string_view s) {
    for (char c : s) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  };
  if (whole.empty() || whole.size() > 12 || !digits(whole) ||
      (dot != std::string_view::npos && (frac.empty() || frac.size() > 2 || !digits(frac)))) {
    return fail(ErrorCode::kMalformed, "amount is not a decimal yuan value");
  }
  int64_t fen = 0;
  for (char c : whole) fen = fen * 10 + (c - '0');
  fen *= 100;
  if (frac.size() >= 1) fen += (frac[0] - '0') * 10;
  if (frac.size() == 2) fen += frac[1] - '0';
  return fen;
}

}  // namespace paygate::core

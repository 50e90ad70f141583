#include "providers/payments.hpp"

namespace paygate::providers {

namespace {
constexpr std::pair<PayMethod, std::string_view> kMethods[] = {
    {PayMethod::kJsapi, "jsapi"}, {PayMethod::kNative, "native"},       {PayMethod::kH5, "h5"},
    {PayMethod::kApp, "app"},     {PayMethod::kPrecreate, "precreate"}, {PayMethod::kPage, "page"},
    {PayMethod::kWap, "wap"}};
}  // namespace

std::string_view to_string(PayMethod m) {
  for (const auto& [k, name] : kMethods) {
    if (k == m) return name;
  }
  return "";
}

std::optional<PayMethod> parse_pay_method(std::string_view s) {
  for (const auto& [k, name] : kMethods) {
    if (name == s) return k;
  }
  return std::nullopt;
}

std::string_view to_string(AnswerKind k) {
  switch (k) {
    case AnswerKind::kOk: return "ok";
    case AnswerKind::kRefused: return "refused";
    case AnswerKind::kUnknown: return "unknown";
    case AnswerKind::kNotFound: return "not_found";
  }
  return "unknown";
}

}  // namespace paygate::providers

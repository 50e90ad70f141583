#include "core/json_out.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace paygate {
namespace {

TEST(JsonOut, InvalidUtf8IsReplacedSoTheOutputIsAlwaysJson) {
  const std::string cases[] = {"\xff", "a\xc3(b", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
                               "\xe6\xb5", "ok \xe6\xb5\x8b \xf0\x9f\x98\x80"};
  for (const auto& c : cases) {
    core::JsonOut j;
    j.begin_object().str("v", c).end_object();
    const std::string out = j.take();
    ASSERT_TRUE(nlohmann::json::accept(out)) << out;
    const auto v = nlohmann::json::parse(out)["v"].get<std::string>();
    EXPECT_TRUE(core::is_valid_utf8(v));
    EXPECT_EQ(v == c, core::is_valid_utf8(c)) << out;  // valid text passes unchanged
  }
  EXPECT_TRUE(core::is_valid_utf8("\xe6\xb5\x8b\xf0\x9f\x98\x80"));
  EXPECT_FALSE(core::is_valid_utf8("\xe0\x80\x80"));  // overlong
}

}  // namespace
}  // namespace paygate

#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace paygate::testing {

// The first column of the first row of `sql` on a read-only connection; -1 when there is none.
int64_t scalar(const std::filesystem::path& db, const std::string& sql);
// The same as text; empty when there is none.
std::string text(const std::filesystem::path& db, const std::string& sql);
// Every row of `sql`, its columns joined by '|'.
std::vector<std::string> rows(const std::filesystem::path& db, const std::string& sql);

}  // namespace paygate::testing

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "obs/log.hpp"

namespace paygate::obs {
namespace {

namespace fs = std::filesystem;

// Points the process's stderr at a file for the test, as a gateway's log is in production.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("paygate-log-" + std::to_string(::getpid()));
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  void TearDown() override {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    fs::remove(path_);
  }
  std::vector<nlohmann::json> lines() const {
    std::ifstream in(path_);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  fs::path path_;
  int saved_ = -1;
};

TEST_F(LogTest, LinesFromManyThreadsArriveWholeAndInEachThreadsOrder) {
  constexpr int kThreads = 4, kLines = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) Log(Level::kInfo, "line").num("t", t).num("i", i);
    });
  }
  for (auto& th : threads) th.join();
  const auto got = lines();
  ASSERT_EQ(got.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const auto& l : got) {
    const int t = l["t"];
    ASSERT_EQ(l["i"], next[t]) << "thread " << t;
    ++next[t];
  }
}

TEST_F(LogTest, LinesBelowTheLevelAreDropped) {
  set_log_level(Level::kWarn);
  Log(Level::kInfo, "quiet");
  Log(Level::kError, "loud").str("why", "disk \"full\"\n");
  set_log_level(Level::kInfo);
  const auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["msg"], "loud");
  EXPECT_EQ(got[0]["level"], "error");
  EXPECT_EQ(got[0]["why"], "disk \"full\"\n");
}

}  // namespace
}  // namespace paygate::obs

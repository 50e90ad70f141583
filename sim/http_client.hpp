#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace paygate::sim {

struct HttpResult {
  long status = 0;      // 0 when no HTTP answer came (connection error, timeout)
  std::string body;
  std::string error;    // transport error text
  double seconds = 0;
};

// A blocking libcurl client reusing its connection (keep-alive); one per thread.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResult request(const std::string& method, const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body, std::chrono::milliseconds timeout);

 private:
  void* curl_;
};

}  // namespace paygate::sim

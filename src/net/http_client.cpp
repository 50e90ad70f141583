#include "net/http_client.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace paygate::net {

namespace {

bool internal_v4(uint32_t a) {  // host byte order
  const auto in = [a](uint32_t net, int bits) {
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
  };
  // The IANA IPv4 special-purpose registry, less the globally reachable blocks that are
  // ordinary hosts in practice (none are left: every listed block is refused).
  return in(0x00000000, 8) ||    // 0.0.0.0/8 this network
         in(0x0A000000, 8) ||    // 10/8 private
         in(0x64400000, 10) ||   // 100.64/10 shared (CGNAT)
         in(0x7F000000, 8) ||    // 127/8 loopback
         in(0xA9FE0000, 16) ||   // 169.254/16 link-local (cloud metadata)
         in(0xAC100000, 12) ||   // 172.16/12 private
         in(0xC0000000, 24) ||   // 192.0.0/24 IETF protocol assignments
         in(0xC0000200, 24) ||   // 192.0.2/24 TEST-NET-1
         in(0xC0586300, 24) ||   // 192.88.99/24 6to4 relay anycast
         in(0xC0A80000, 16) ||   // 192.168/16 private
         in(0xC6120000, 15) ||   // 198.18/15 benchmarking
         in(0xC6336400, 24) ||   // 198.51.100/24 TEST-NET-2
         in(0xCB007100, 24) ||   // 203.0.113/24 TEST-NET-3
         in(0xE0000000, 4) ||    // 224/4 multicast
         in(0xF0000000, 4);      // 240/4 reserved, broadcast
}

uint32_t v4_at(const uint8_t* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
}

struct Transfer {
  HttpRequest request;
  ResponseFn done;
  curl_slist* headers = nullptr;
  HttpResponse response;
  std::size_t keep = 0;
  bool allow_private = false;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point not_before;
};

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' ||
                        v.back() == '\n')) {
    v.remove_suffix(1);
  }
  return v;
}

size_t on_body(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  const size_t len = size * n;
  auto& body = t->response.body;
  const size_t room = t->keep - std::min(t->keep, body.size());
  body.append(data, std::min(len, room));
  // The rest is read and dropped; the timeout bounds an endless body.
  if (len > room) t->response.truncated = true;
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* p) {
  auto* t = static_cast<Transfer*>(p);
  const std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->response.headers.clear();  // a new response (an interim 1xx came before the final one)
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return size * n;  // the blank line
  t->response.headers.emplace_back(std::string(line.substr(0, colon)),
                                   std::string(trim(line.substr(colon + 1))));
  return size * n;
}

curl_socket_t on_open_socket(void* p, curlsocktype, curl_sockaddr* addr) {
  auto* t = static_cast<Transfer*>(p);
  if (!t->allow_private && is_internal_address(&addr->addr)) {
    t->response.refused_address = true;
    return CURL_SOCKET_BAD;
  }
  return ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

// Failures that happen before a byte of the request can have left.
bool certainly_unsent(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_OUT_OF_MEMORY:
      return true;
    default:
      return false;
  }
}

class CurlClient final : public HttpClient {
 public:
  explicit CurlClient(HttpClientOptions o) : o_(std::move(o)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 256L);
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), o_.thread_name.substr(0, 15).c_str());
      run();
    });
  }
  ~CurlClient() override {
    stopping_ = true;
    curl_multi_wakeup(multi_);
    thread_.join();
    curl_multi_cleanup(multi_);
  }

  void send(HttpRequest request, ResponseFn done) override {
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->done = std::move(done);
    t->not_before = std::chrono::steady_clock::now() + t->request.start_after;
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(t));
    }
    curl_multi_wakeup(multi_);
  }

 private:
  bool has_slot() const { return active_.size() < std::max<std::size_t>(1, o_.max_in_flight); }

  void fail_now(std::unique_ptr<Transfer> t, std::string why) {
    t->response.error = std::move(why);
    t->done(std::move(t->response));
  }

  void start(std::unique_ptr<Transfer> t) {
    const auto& m = t->request.method;
    if (m != "GET" && m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") {
      return fail_now(std::move(t), "unsupported method");
    }
    CURL* e = curl_easy_init();
    if (!e) return fail_now(std::move(t), "cannot create a transfer");
    t->keep = t->request.max_response_bytes ? t->request.max_response_bytes
                                            : o_.max_response_bytes;
    t->allow_private = o_.allow_private_addresses;
    for (const auto& [k, v] : t->request.headers) {
      t->headers = curl_slist_append(t->headers, (k + ": " + v).c_str());
    }
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!o_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, o_.ca_file.c_str());
    if (const auto& cert = t->request.client_certificate) {
      curl_blob c{const_cast<char*>(cert->cert_pem.data()), cert->cert_pem.size(),
                  CURL_BLOB_COPY};
      curl_blob k{const_cast<char*>(cert->key_pem.reveal().data()), cert->key_pem.size(),
                  CURL_BLOB_COPY};
      curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &c);
      curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &k);
      curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (m == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
      if (m != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m.c_str());
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(t->request.body.size()));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, o_.user_agent.c_str());
    const long timeout = static_cast<long>(t->request.timeout.count());
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     std::min(timeout, static_cast<long>(t->request.connect_timeout.count())));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    t->started = std::chrono::steady_clock::now();
    curl_multi_add_handle(multi_, e);
    active_.insert(e);
    t.release();  // owned by the multi handle until it completes
  }

  void finish(CURL* e, CURLcode rc) {
    Transfer* raw = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &raw);
    std::unique_ptr<Transfer> t(raw);
    curl_multi_remove_handle(multi_, e);
    active_.erase(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    // Zero until the request began to go out (connected, TLS done).
    curl_off_t pretransfer = 0;
    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
    auto& r = t->response;
    r.status = rc == CURLE_OK ? status : 0;
    r.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    r.maybe_sent = rc == CURLE_OK || (!certainly_unsent(rc) && !r.refused_address &&
                                      pretransfer > 0);
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
      r.error = "shutting down";
    } else if (rc != CURLE_OK) {
      r.error = r.refused_address ? "address not allowed (private, loopback or link-local)"
                                  : curl_easy_strerror(rc);
      r.headers.clear();
      r.body.clear();
      r.truncated = false;
    }
    r.latency = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t->started);
    curl_easy_cleanup(e);
    curl_slist_free_all(t->headers);
    t->done(std::move(r));
  }

  // Moves new requests to `waiting_`, or to `delayed_` until their back-off ends; returns how
  // long until the next delayed one is due (at most `limit`).
  int take_new(int limit) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu_);
      for (auto& t : queue_) {
        if (t->not_before > now) {
          delayed_.emplace(t->not_before, std::move(t));
        } else {
          waiting_.push_back(std::move(t));
        }
      }
      queue_.clear();
    }
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      waiting_.push_back(std::move(delayed_.begin()->second));
      delayed_.erase(delayed_.begin());
    }
    if (delayed_.empty()) return limit;
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(delayed_.begin()->first - now);
    return static_cast<int>(std::clamp<int64_t>(wait.count(), 1, limit));
  }

  void run() {
    while (!stopping_) {
      int poll_ms = take_new(1000);
      while (!waiting_.empty() && has_slot()) {
        auto t = std::move(waiting_.front());
        waiting_.pop_front();
        start(std::move(t));
      }
      int running = 0;
      curl_multi_perform(multi_, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg == CURLMSG_DONE) finish(m->easy_handle, m->data.result);
      }
      if (!waiting_.empty() && has_slot()) {
        continue;  // a slot came free
      }
      int fds = 0;
      curl_multi_poll(multi_, nullptr, 0, poll_ms, &fds);
    }
    // Shutting down: nothing that did not finish is reported as done.
    {
      std::lock_guard lock(mu_);
      for (auto& t : queue_) waiting_.push_back(std::move(t));
      queue_.clear();
    }
    for (auto& [at, t] : delayed_) waiting_.push_back(std::move(t));
    delayed_.clear();
    for (auto& t : waiting_) fail_now(std::move(t), "shutting down");
    waiting_.clear();
    while (!active_.empty()) finish(*active_.begin(), CURLE_ABORTED_BY_CALLBACK);
  }

  HttpClientOptions o_;
  CURLM* multi_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::deque<std::unique_ptr<Transfer>> queue_;  // guarded by mu_
  // The client thread's only:
  std::deque<std::unique_ptr<Transfer>> waiting_;  // over max_in_flight, in order
  std::multimap<std::chrono::steady_clock::time_point, std::unique_ptr<Transfer>> delayed_;
  std::set<CURL*> active_;
};

}  // namespace

bool is_internal_address(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(addr);
    return internal_v4(ntohl(v4->sin_addr.s_addr));
  }
  if (addr->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(addr);
    const uint8_t* b = v6->sin6_addr.s6_addr;
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMapped, 12) == 0) return internal_v4(v4_at(b + 12));  // ::ffff:0:0/96
    static const uint8_t kZero[12] = {};
    if (std::memcmp(b, kZero, 12) == 0) return true;  // ::/96: ::, ::1, IPv4-compatible
    // IPv4 embedded by a translator or tunnel reaches whatever IPv4 address it carries.
    static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (std::memcmp(b, kNat64, 12) == 0) return true;  // 64:ff9b::/96 NAT64
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1) {
      return true;  // 64:ff9b:1::/48 local-use NAT64
    }
    if (b[0] == 0x20 && b[1] == 0x02) return true;  // 2002::/16 6to4
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return true;  // 2001::/32 Teredo
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true;  // 2001:db8::/32
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] < 0x20) return true;  // 2001::/23 IETF
    if (b[0] == 0x01 && b[1] == 0x00 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 &&
        b[6] == 0 && b[7] == 0) {
      return true;  // 100::/64 discard-only
    }
    if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) return true;  // 3fff::/20 documentation
    if (b[0] == 0x5f && b[1] == 0x00) return true;            // 5f00::/16 SRv6 SIDs
    if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 unique local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10 link-local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;  // fec0::/10 site-local (deprecated)
    if (b[0] == 0xff) return true;                           // multicast
    return false;
  }
  return true;  // unknown families are not called
}

std::vector<std::string_view> HttpResponse::header_values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) {
      out.emplace_back(v);
    }
  }
  return out;
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  const auto values = header_values(name);
  if (values.size() != 1) return std::nullopt;
  return values.front();
}

std::unique_ptr<HttpClient> make_http_client(HttpClientOptions options) {
  return std::make_unique<CurlClient>(std::move(options));
}

}  // namespace paygate::net

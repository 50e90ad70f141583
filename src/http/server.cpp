// The only translation unit that includes Beast/Asio for serving.
#include "http/server.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <sys/resource.h>
#include <thread>
#include <unordered_map>

#include "obs/log.hpp"

namespace paygate::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

struct Conn {
  Conn(tcp::socket s, std::string address) : stream(std::move(s)), address(std::move(address)) {}
  beast::tcp_stream stream;
  const std::string address;
  std::atomic<bool> busy{false};      // reading or answering a request
  std::atomic<bool> evicted{false};   // chosen to make room; closing
  std::atomic<int64_t> idle_since{0};  // steady clock, ns
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What a handler that threw is answered with; the connection is closed after it.
HttpResponse handler_failed(const char* what, const ServerOptions& options) {
  std::string detail(what);
  if (detail.size() > 200) detail.resize(200);
  obs::Log(obs::Level::kError, "handler failed").str("error", detail);
  if (options.on_connection_event) options.on_connection_event("handler_error");
  HttpResponse r{500, "application/json",
                 R"({"error":{"code":"internal","message":"internal error"}})", {}};
  r.close = true;
  return r;
}

template <typename Token>
auto async_handle(HttpHandler& handler, const ServerOptions& options, HttpRequest req,
                  Token&& token) {
  return asio::async_initiate<Token, void(HttpResponse)>(
      [&handler, &options](auto completion, HttpRequest req) {
        using C = decltype(completion);
        auto shared = std::make_shared<C>(std::move(completion));
        auto ex = asio::get_associated_executor(*shared);
        // Exactly one answer, whatever the handler does: a second is dropped, a throw is a 500.
        auto answered = std::make_shared<std::atomic<bool>>(false);
        try {
          handler.handle(std::move(req), Respond([shared, ex, answered,
                                                  &options](Respond::Make make) {
                           if (answered->exchange(true)) return;
                           asio::post(ex, [shared, make = std::move(make), &options]() mutable {
                             HttpResponse r;
                             try {
                               r = make();
                             } catch (const std::exception& e) {
                               r = handler_failed(e.what(), options);
                             }
                             (*shared)(std::move(r));
                           });
                         }));
        } catch (const std::exception& e) {
          if (!answered->exchange(true)) {
            asio::post(ex, [shared, r = handler_failed(e.what(), options)]() mutable {
              (*shared)(std::move(r));
            });
          }
        }
      },
      token, std::move(req));
}

class BeastServer final : public HttpServer {
 public:
  BeastServer(ServerOptions options, HttpHandler& handler)
      : options_(std::move(options)),
        handler_(handler),
        contexts_(make_contexts(std::max(1, options_.threads))),
        control_(asio::make_strand(*contexts_.front())),
        acceptor_(control_),
        signals_(control_, SIGINT, SIGTERM),
        limits_(connection_limits(options_)) {}

  core::Result<void> listen() {
    beast::error_code ec;
    auto addr = asio::ip::make_address(options_.address, ec);
    if (ec) return core::fail(core::ErrorCode::kInvalidArgument, "bad listen address");
    tcp::endpoint ep(addr, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return core::fail(core::ErrorCode::kInvalidArgument,
                        "cannot listen on " + options_.address + ":" +
                            std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return {};
  }

  uint16_t port() const override { return port_; }

  void run() override {
    signals_.async_wait([this](const beast::error_code& ec, int) {
      if (!ec) begin_drain();
    });
    asio::co_spawn(control_, accept_loop(), asio::detached);
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> busy;
    for (auto& ctx : contexts_) busy.push_back(asio::make_work_guard(*ctx));
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i) {
      threads.emplace_back([ctx = contexts_[i].get()] { ctx->run(); });
    }
    contexts_.front()->run();
    for (auto& t : threads) t.join();
  }

  void stop() override {
    asio::post(control_, [this] { begin_drain(); });
  }

 private:
  asio::awaitable<void> accept_loop() {
    asio::steady_timer backoff(control_);
    for (;;) {
      // Each connection lives on one thread's context: no strands, no locks between threads.
      auto& ctx = *contexts_[next_context_++ % contexts_.size()];
      auto [ec, sock] = co_await acceptor_.async_accept(ctx, kTuple);
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        // Out of descriptors (EMFILE, ENFILE) or buffers: retrying at once would spin on the
        // same error. Close the longest-idle connections (a batch: the listen backlog may hold
        // many more idle ones ahead of a real client) and wait a little.
        event("accept_error");
        {
          std::lock_guard lock(mu_);
          for (int i = 0; i < 32 && evict_idle_locked({}); ++i) {
          }
        }
        backoff.expires_after(std::chrono::milliseconds(20));
        co_await backoff.async_wait(kTuple);
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      std::string address;
      if (auto ep = sock.remote_endpoint(ec); !ec) address = ep.address().to_string();
      auto conn = std::make_shared<Conn>(std::move(sock), std::move(address));
      conn->idle_since = now_ns();
      const uint64_t id = next_id_++;
      {
        std::lock_guard lock(mu_);
        const bool full = static_cast<int>(conns_.size()) >= limits_.max_connections;
        const bool address_full =
            per_address_[conn->address] >= limits_.max_connections_per_address;
        if ((full || address_full) &&
            !evict_idle_locked(address_full ? conn->address : std::string())) {
          event("refused");
          if (per_address_[conn->address] == 0) per_address_.erase(conn->address);
          conn->stream.socket().close(ec);
          continue;
        }
        conns_.emplace(id, conn);
        ++per_address_[conn->address];
      }
      auto ex = conn->stream.get_executor();
      asio::co_spawn(ex, session(conn, id), asio::detached);
    }
  }

  void event(const char* what) {
    if (options_.on_connection_event) options_.on_connection_event(what);
  }

  // Closes the connection that has waited longest for a request (of `address`, when given).
  // mu_ held. False when every connection is busy.
  bool evict_idle_locked(const std::string& address) {
    std::shared_ptr<Conn> victim;
    int64_t oldest = 0;
    for (auto& [id, c] : conns_) {
      if (c->busy || c->evicted || (!address.empty() && c->address != address)) continue;
      const int64_t since = c->idle_since.load();
      if (!victim || since < oldest) {
        victim = c;
        oldest = since;
      }
    }
    if (!victim) return false;
    victim->evicted = true;
    event("evicted");
    asio::post(victim->stream.get_executor(), [victim] {
      beast::error_code ec;
      if (!victim->busy) victim->stream.socket().cancel(ec);
    });
    return true;
  }

  void finish_conn(uint64_t id, const std::string& address) {
    std::lock_guard lock(mu_);
    conns_.erase(id);
    auto it = per_address_.find(address);
    if (it != per_address_.end() && --it->second <= 0) per_address_.erase(it);
  }

  asio::awaitable<void> session(std::shared_ptr<Conn> conn, uint64_t id) {
    auto& stream = conn->stream;
    beast::flat_buffer buffer;
    const std::string& remote = conn->address;
    for (;;) {
      if (draining_ || conn->evicted) break;
      if (buffer.size() == 0) {
        // Idle until the next request's first byte: the only state in which a connection may
        // be closed to make room for another.
        conn->idle_since = now_ns();
        conn->busy = false;
        if (conn->evicted) break;
        stream.expires_after(options_.idle_timeout);
        auto [iec, in] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
        if (iec) break;
        buffer.commit(in);
      }
      conn->busy = true;
      const auto deadline = std::chrono::steady_clock::now() + options_.request_timeout;
      auto within = [&](std::chrono::milliseconds limit) {
        return std::min(deadline, std::chrono::steady_clock::now() + limit);
      };
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(options_.body_limit);
      stream.expires_at(within(options_.header_timeout));
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      if (hec) {
        if (hec == bhttp::error::header_limit) co_await reply_error(stream, 431);
        else if (hec == bhttp::error::body_limit) co_await reply_error(stream, 413);
        else if (hec != bhttp::error::end_of_stream && hec != beast::error::timeout &&
                 hec != asio::error::operation_aborted && hec != asio::error::eof &&
                 hec != asio::error::connection_reset && buffer.size() > 0)
          co_await reply_error(stream, 400);
        break;
      }
      if (auto len = parser.content_length(); len && *len > options_.body_limit) {
        co_await reply_error(stream, 413);
        break;
      }
      stream.expires_at(within(options_.body_timeout));
      auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      if (bec) {
        if (bec == bhttp::error::body_limit) co_await reply_error(stream, 413);
        else if (bec != beast::error::timeout && bec != bhttp::error::end_of_stream &&
                 bec != asio::error::eof && bec != asio::error::connection_reset &&
                 bec != asio::error::operation_aborted)
          co_await reply_error(stream, 400);
        break;
      }
      auto req = parser.release();
      const bool keep_alive = req.keep_alive();
      const unsigned version = req.version();
      HttpRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req) r.headers.add(std::string(f.name_string()), std::string(f.value()));
      r.body = std::move(req.body());
      r.remote = remote;
      stream.expires_never();
      HttpResponse resp =
          co_await async_handle(handler_, options_, std::move(r), asio::use_awaitable);
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(resp.status), version};
      res.set(bhttp::field::server, "paygate");
      if (!resp.content_type.empty()) res.set(bhttp::field::content_type, resp.content_type);
      for (const auto& [n, v] : resp.headers) res.set(n, v);
      res.body() = std::move(resp.body);
      res.keep_alive(keep_alive && !draining_ && !resp.close);
      res.prepare_payload();
      stream.expires_after(options_.body_timeout);
      auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    finish_conn(id, conn->address);
  }

  asio::awaitable<void> reply_error(beast::tcp_stream& stream, int status) {
    if (options_.on_protocol_error) options_.on_protocol_error(status);
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = std::string(R"({"code":"FAIL","message":")") +
                 (status == 413   ? "body too large"
                  : status == 431 ? "headers too large"
                                  : "malformed request") +
                 "\"}";
    res.keep_alive(false);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(5));
    co_await bhttp::async_write(stream, res, kTuple);
  }

  void begin_drain() {
    if (draining_.exchange(true)) return;
    std::size_t open;
    {
      std::lock_guard lock(mu_);
      open = conns_.size();
    }
    obs::Log(obs::Level::kInfo, "draining").num("connections", static_cast<int64_t>(open));
    beast::error_code ec;
    acceptor_.close(ec);
    signals_.cancel(ec);
    close_idle();
    drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
    wait_drained();
  }

  void close_idle() {
    std::lock_guard lock(mu_);
    for (auto& [id, conn] : conns_) {
      asio::post(conn->stream.get_executor(), [conn] {
        // The session may have closed the socket already; the throwing overload would abort.
        beast::error_code ec;
        if (!conn->busy) conn->stream.socket().cancel(ec);
      });
    }
  }

  void wait_drained() {
    auto timer = std::make_shared<asio::steady_timer>(control_, std::chrono::milliseconds(20));
    timer->async_wait([this, timer](const beast::error_code&) {
      std::size_t left;
      {
        std::lock_guard lock(mu_);
        left = conns_.size();
      }
      if (left == 0 || std::chrono::steady_clock::now() > drain_deadline_) {
        for (auto& ctx : contexts_) ctx->stop();
        return;
      }
      close_idle();
      wait_drained();
    });
  }

  ServerOptions options_;
  HttpHandler& handler_;
  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

  std::vector<std::unique_ptr<asio::io_context>> contexts_;  // one per I/O thread
  std::size_t next_context_ = 0;  // accept loop only
  // The acceptor, the signals and the drain run on one strand: the acceptor is not safe to
  // close from one thread while another starts the next accept on it.
  asio::strand<asio::io_context::executor_type> control_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_id_{1};
  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Conn>> conns_;
  std::unordered_map<std::string, int> per_address_;  // open connections per client address
  const ConnectionLimits limits_;
  std::chrono::steady_clock::time_point drain_deadline_;
};

}  // namespace

ConnectionLimits connection_limits(const ServerOptions& options) {
  ConnectionLimits l{options.max_connections, options.max_connections_per_address};
  if (l.max_connections <= 0) {
    rlimit nofile{};
    const long limit = ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
                           ? static_cast<long>(nofile.rlim_cur)
                           : 65536;
    // Kept back for the store's files, the webhook transport's sockets, logs and the listener.
    l.max_connections = static_cast<int>(std::clamp(limit - 64, 16L, 100000L));
  }
  if (l.max_connections_per_address <= 0) {
    l.max_connections_per_address = std::max(4, l.max_connections / 4);
  }
  return l;
}

core::Result<std::unique_ptr<HttpServer>> HttpServer::create(ServerOptions options,
                                                             HttpHandler& handler) {
  auto server = std::make_unique<BeastServer>(std::move(options), handler);
  if (auto r = server->listen(); !r) return tl::unexpected(r.error());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace paygate::http

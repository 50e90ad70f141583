// The only translation unit that includes Beast/Asio for serving.
#include "http/server.hpp"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
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
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  std::atomic<bool> busy{false};
};

template <typename Token>
auto async_handle(HttpHandler& handler, HttpRequest req, Token&& token) {
  return asio::async_initiate<Token, void(HttpResponse)>(
      [&handler](auto completion, HttpRequest req) {
        using C = decltype(completion);
        auto shared = std::make_shared<C>(std::move(completion));
        auto ex = asio::get_associated_executor(*shared);
        handler.handle(std::move(req), Respond([shared, ex](Respond::Make make) {
                         asio::post(ex, [shared, make = std::move(make)]() mutable {
                           (*shared)(make());
                         });
                       }));
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
        signals_(control_, SIGINT, SIGTERM) {}

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
    for (;;) {
      // Each connection lives on one thread's context: no strands, no locks between threads.
      auto& ctx = *contexts_[next_context_++ % contexts_.size()];
      auto [ec, sock] = co_await acceptor_.async_accept(ctx, kTuple);
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        continue;
      }
      sock.set_option(tcp::no_delay(true), ec);
      auto conn = std::make_shared<Conn>(std::move(sock));
      const uint64_t id = next_id_++;
      {
        std::lock_guard lock(mu_);
        conns_.emplace(id, conn);
      }
      auto ex = conn->stream.get_executor();
      asio::co_spawn(ex, session(conn, id), asio::detached);
    }
  }

  void finish_conn(uint64_t id) {
    std::lock_guard lock(mu_);
    conns_.erase(id);
  }

  asio::awaitable<void> session(std::shared_ptr<Conn> conn, uint64_t id) {
    auto& stream = conn->stream;
    beast::flat_buffer buffer;
    std::string remote;
    {
      beast::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    for (;;) {
      if (draining_) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(options_.body_limit);
      stream.expires_after(options_.header_timeout);
      conn->busy = false;
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      conn->busy = true;
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
      stream.expires_after(options_.body_timeout);
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
      HttpResponse resp = co_await async_handle(handler_, std::move(r), asio::use_awaitable);
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(resp.status), version};
      res.set(bhttp::field::server, "paygate");
      if (!resp.content_type.empty()) res.set(bhttp::field::content_type, resp.content_type);
      for (const auto& [n, v] : resp.headers) res.set(n, v);
      res.body() = std::move(resp.body);
      res.keep_alive(keep_alive && !draining_);
      res.prepare_payload();
      stream.expires_after(options_.body_timeout);
      auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
      if (wec || !res.keep_alive()) break;
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    finish_conn(id);
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
  std::chrono::steady_clock::time_point drain_deadline_;
};

}  // namespace

core::Result<std::unique_ptr<HttpServer>> HttpServer::create(ServerOptions options,
                                                             HttpHandler& handler) {
  auto server = std::make_unique<BeastServer>(std::move(options), handler);
  if (auto r = server->listen(); !r) return tl::unexpected(r.error());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace paygate::http

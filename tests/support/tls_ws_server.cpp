#include "tls_ws_server.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "sigkit/peer_id.hpp"
#include "sigkit/proto/message.hpp"
#include "sigkit/rooms/room_registry.hpp"

namespace sigkit::test {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ws_stream = websocket::stream<asio::ssl::stream<tcp::socket>>;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

// Everything runs on the server's one thread: no locks.
struct tls_ws_server::impl {
  struct session : std::enable_shared_from_this<session> {
    session(impl& s, tcp::socket socket) : server(s), ws(std::move(socket), s.tls) {}

    impl& server;
    ws_stream ws;
    rooms::member self;
    std::string room;
    std::deque<std::string> outbox;
    bool writing = false;

    void send(std::string frame) {
      outbox.push_back(std::move(frame));
      if (!writing) asio::co_spawn(server.io, write_loop(shared_from_this()), asio::detached);
    }

    // One write in flight; `keep` holds the session meanwhile.
    asio::awaitable<void> write_loop([[maybe_unused]] std::shared_ptr<session> keep) {
      writing = true;
      while (!outbox.empty()) {
        auto frame = std::move(outbox.front());
        outbox.pop_front();
        ws.text(true);
        auto [ec, n] = co_await ws.async_write(asio::buffer(frame), use_tuple);
        if (ec) break;
      }
      outbox.clear();
      writing = false;
    }

    asio::awaitable<void> run([[maybe_unused]] std::shared_ptr<session> keep) {
      auto [tls_ec] = co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server, use_tuple);
      if (tls_ec) co_return;
      {
        const char* sni = SSL_get_servername(ws.next_layer().native_handle(), TLSEXT_NAMETYPE_host_name);
        std::lock_guard lock(server.sni_mutex);
        server.last_sni = sni ? sni : "";
      }
      auto [accept_ec] = co_await ws.async_accept(use_tuple);
      if (accept_ec) co_return;
      self = {random_peer_id(), ++server.last_handle, {}};
      server.members[self.handle] = weak_from_this();
      ++server.welcomed;
      send(proto::encode_welcome(self.id, "tls-test/1", {25000, 60000}));
      beast::flat_buffer buffer;
      for (;;) {
        buffer.clear();
        auto [ec, n] = co_await ws.async_read(buffer, use_tuple);
        if (ec) break;
        auto decoded = proto::decode(beast::buffers_to_string(buffer.data()));
        if (!decoded) continue;
        auto out = server.registry.handle(self, room, *decoded);
        if (out.joined) room = *out.joined;
        if (out.left) room.clear();
        server.deliver(out);
      }
      server.deliver(server.registry.disconnect(self, room));
      server.members.erase(self.handle);
    }
  };

  impl(const std::string& cert_path, const std::string& key_path)
      : tls(asio::ssl::context::tls_server), acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    tls.use_certificate_chain_file(cert_path);
    tls.use_private_key_file(key_path, asio::ssl::context::pem);
    asio::co_spawn(io, accept_loop(), asio::detached);
    thread = std::thread([this] { io.run(); });
  }

  ~impl() {
    io.stop();
    thread.join();
    members.clear();
    // The sessions' suspended coroutines go with the io_context.
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      auto s = std::make_shared<session>(*this, std::move(socket));
      asio::co_spawn(io, s->run(s), asio::detached);
    }
  }

  void deliver(const rooms::outcome& out) {
    for (const auto& d : out.deliveries)
      if (auto it = members.find(d.to); it != members.end())
        if (auto to = it->second.lock()) to->send(*d.frame);
  }

  asio::io_context io;  // first, so it goes last: it holds the sessions' coroutines
  asio::ssl::context tls;
  tcp::acceptor acceptor;
  std::thread thread;
  rooms::room_registry registry{0};
  std::unordered_map<rooms::member_handle, std::weak_ptr<session>> members;
  rooms::member_handle last_handle = 0;
  std::atomic<std::uint64_t> welcomed{0};
  std::mutex sni_mutex;  // the test's thread reads last_sni
  std::string last_sni;
};

tls_ws_server::tls_ws_server(const std::string& cert_path, const std::string& key_path)
    : impl_(std::make_unique<impl>(cert_path, key_path)) {}
tls_ws_server::~tls_ws_server() = default;

std::uint16_t tls_ws_server::port() const { return impl_->acceptor.local_endpoint().port(); }
std::string tls_ws_server::url(const std::string& host) const {
  return "wss://" + host + ":" + std::to_string(port()) + "/ws";
}
std::uint64_t tls_ws_server::welcomed() const { return impl_->welcomed.load(); }
std::string tls_ws_server::last_server_name() const {
  std::lock_guard lock(impl_->sni_mutex);
  return impl_->last_sni;
}

}  // namespace sigkit::test

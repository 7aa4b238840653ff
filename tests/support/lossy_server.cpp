#include "lossy_server.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "sigkit/peer_id.hpp"
#include "sigkit/proto/message.hpp"
#include "sigkit/rooms/room_registry.hpp"

namespace sigkit::test {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using ws_stream = websocket::stream<tcp::socket>;
}  // namespace

// One thread per connection and blocking I/O: simple enough to be obviously
// right apart from the one loss it is built to commit.
struct lossy_server::impl {
  explicit impl(std::uint64_t drop) : drop_relay(drop), acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept_thread = std::thread([this] { accept_loop(); });
  }
  ~impl() {
    stopping = true;
    // close() does not wake a thread blocked in accept() or read() on Linux;
    // shutdown() does.
    ::shutdown(acceptor.native_handle(), SHUT_RDWR);
    {
      std::lock_guard lock(mutex);
      for (auto& [id, ws] : sockets) ::shutdown(beast::get_lowest_layer(*ws).native_handle(), SHUT_RDWR);
    }
    if (accept_thread.joinable()) accept_thread.join();
    for (auto& t : sessions) t.join();
    beast::error_code ignored;
    acceptor.close(ignored);
  }

  void accept_loop() {
    while (!stopping) {
      beast::error_code ec;
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (ec) return;
      sessions.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  void send(rooms::member_handle to, const std::string& frame) {
    auto it = sockets.find(to);
    if (it == sockets.end()) return;
    beast::error_code ignored;
    it->second->text(true);
    it->second->write(asio::buffer(frame), ignored);
  }

  void apply(const rooms::outcome& out) {  // with `mutex` held
    for (const auto& d : out.deliveries) send(d.to, *d.frame);
  }

  void serve(tcp::socket socket) {
    auto ws = std::make_shared<ws_stream>(std::move(socket));
    beast::error_code ec;
    ws->accept(ec);
    if (ec) return;
    rooms::member self;
    std::string room;
    {
      std::lock_guard lock(mutex);
      self = {random_peer_id(), ++last_handle, {}};
      sockets[self.handle] = ws;
      send(self.handle, proto::encode_welcome(self.id, "lossy/1", {25000, 60000}));
    }
    for (;;) {
      beast::flat_buffer buffer;
      ws->read(buffer, ec);
      if (ec) break;
      auto decoded = proto::decode(beast::buffers_to_string(buffer.data()));
      std::lock_guard lock(mutex);
      if (!decoded) continue;
      // Only candidates count, so that the loss never stalls a negotiation (an
      // offer or answer lost would change what else gets sent) whatever order
      // the rooms happen to run in.
      if (decoded->type == proto::message_type::candidate && ++relays == drop_relay) continue;  // the loss
      auto out = registry.handle(self, room, *decoded);
      if (out.joined) room = *out.joined;
      if (out.left) room.clear();
      apply(out);
    }
    std::lock_guard lock(mutex);
    apply(registry.disconnect(self, room));
    sockets.erase(self.handle);
  }

  const std::uint64_t drop_relay;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread accept_thread;
  std::vector<std::thread> sessions;
  std::atomic<bool> stopping{false};
  std::mutex mutex;  // guards registry, sockets, relays and writes
  rooms::room_registry registry{0};
  std::map<rooms::member_handle, std::shared_ptr<ws_stream>> sockets;
  rooms::member_handle last_handle = 0;
  std::uint64_t relays = 0;
};

lossy_server::lossy_server(std::uint64_t drop_relay) : impl_(std::make_unique<impl>(drop_relay)) {}
lossy_server::~lossy_server() = default;
std::uint16_t lossy_server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace sigkit::test

// The server's per-message hot path, without sockets: decode a client frame,
// decide who receives it, and build the frame each receiver gets. The I/O
// around it is measured by sigbench; this isolates the protocol core.
#include <benchmark/benchmark.h>

#include <string>

#include "sigkit/proto/message.hpp"
#include "sigkit/rooms/room_registry.hpp"

namespace {

// A trickled ICE candidate, the most frequent message in a negotiation.
const std::string candidate_frame =
    R"({"type":"candidate","to":"BBBBBBBBBBBB","candidate":{"candidate":"candidate:842163049 1 udp 1677729535 )"
    R"(192.0.2.10 54321 typ srflx raddr 10.0.0.2 rport 54321 generation 0","sdpMid":"0","sdpMLineIndex":0}})";

std::string offer_frame(std::size_t sdp_bytes) {
  std::string sdp = "v=0\\r\\n";
  while (sdp.size() < sdp_bytes) sdp += "a=rtpmap:111 opus/48000/2\\r\\n";
  return R"({"type":"offer","to":"BBBBBBBBBBBB","sdp":")" + sdp + R"("})";
}

void decode_candidate(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(sigkit::proto::decode(candidate_frame));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * candidate_frame.size()));
}
BENCHMARK(decode_candidate);

void decode_offer(benchmark::State& state) {
  auto frame = offer_frame(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(sigkit::proto::decode(frame));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(decode_offer)->Arg(2000)->Arg(8000);

// decode + routing decision + the receiver's frame, in a room of two.
void relay_candidate(benchmark::State& state) {
  sigkit::rooms::room_registry registry(2);
  const sigkit::rooms::member a{"AAAAAAAAAAAA", 1, {}}, b{"BBBBBBBBBBBB", 2, {}};
  auto join = *sigkit::proto::decode(R"({"type":"join","room":"bench"})");
  registry.handle(a, "", join);
  registry.handle(b, "", join);
  for (auto _ : state) {
    auto message = sigkit::proto::decode(candidate_frame);
    benchmark::DoNotOptimize(registry.handle(a, "bench", *message));
  }
}
BENCHMARK(relay_candidate);

// A broadcast in a room of `n`: one frame built, shared by every receiver.
void broadcast_message(benchmark::State& state) {
  sigkit::rooms::room_registry registry(0);
  auto n = state.range(0);
  std::vector<sigkit::rooms::member> peers;
  auto join = *sigkit::proto::decode(R"({"type":"join","room":"bench"})");
  for (int i = 0; i < n; ++i) {
    peers.push_back({"peer" + std::to_string(1000000 + i), static_cast<sigkit::rooms::member_handle>(i), {}});
    registry.handle(peers.back(), "", join);
  }
  const std::string frame = R"({"type":"message","text":"hello everyone"})";
  for (auto _ : state) {
    auto message = sigkit::proto::decode(frame);
    benchmark::DoNotOptimize(registry.handle(peers.front(), "bench", *message));
  }
}
BENCHMARK(broadcast_message)->Arg(2)->Arg(6)->Arg(50);

}  // namespace

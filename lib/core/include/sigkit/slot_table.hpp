// The table an event loop keeps its connections in: fixed slots allocated a
// chunk at a time (so a slot never moves and a handle can name it), reused
// last freed first (so the hot ones stay in cache). T has a `slot` member,
// set once when its chunk is made. sigserve's connections and sigbench's
// simulated peers both live in one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sigkit {

template <class T, std::size_t chunk_size = 1024>
class slot_table {
 public:
  T& allocate() {
    if (free_.empty()) {
      auto base = static_cast<std::uint32_t>(chunks_.size() * chunk_size);
      chunks_.push_back(std::make_unique<T[]>(chunk_size));
      for (std::size_t i = chunk_size; i-- > 0;) {
        chunks_.back()[i].slot = base + static_cast<std::uint32_t>(i);
        free_.push_back(base + static_cast<std::uint32_t>(i));
      }
    }
    auto slot = free_.back();
    free_.pop_back();
    return (*this)[slot];
  }
  void release(const T& item) { free_.push_back(item.slot); }

  bool holds(std::uint32_t slot) const noexcept { return slot / chunk_size < chunks_.size(); }
  T& operator[](std::uint32_t slot) noexcept { return chunks_[slot / chunk_size][slot % chunk_size]; }

  // Every slot, used or free.
  template <class F>
  void for_each(F&& f) {
    for (auto& chunk : chunks_)
      for (std::size_t i = 0; i < chunk_size; ++i) f(chunk[i]);
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::vector<std::uint32_t> free_;
};

}  // namespace sigkit

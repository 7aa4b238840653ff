// The bytes a connection keeps between passes of its loop: an unfinished
// request head or frame it read, or frames its socket would not take yet.
// Empty, and holding no memory, when idle; 16 bytes of bookkeeping, where a
// std::string is 32 and a std::vector 24. sigserve's connections and
// sigbench's simulated peers both keep theirs in one.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace sigkit {

class byte_buffer {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  std::span<char> bytes() noexcept { return {data_.get(), size_}; }
  std::string_view view() const noexcept { return {data_.get(), size_}; }

  // Room for n more bytes at the end, returned for the caller to fill.
  std::span<char> grow(std::size_t n) {
    std::size_t need = size_ + n;
    if (need > capacity_) {
      std::size_t grown = capacity_ ? capacity_ : 256;
      while (grown < need) grown *= 2;
      auto bigger = std::make_unique<char[]>(grown);
      if (size_) std::memcpy(bigger.get(), data_.get(), size_);
      data_ = std::move(bigger);
      capacity_ = static_cast<std::uint32_t>(grown);
    }
    std::span<char> tail{data_.get() + size_, n};
    size_ = static_cast<std::uint32_t>(need);
    return tail;
  }
  void append(std::string_view more) {
    if (!more.empty()) std::memcpy(grow(more.size()).data(), more.data(), more.size());
  }
  // Drops the first n bytes; the memory goes when nothing is left.
  void consume(std::size_t n) noexcept {
    if (n >= size_) {
      release();
      return;
    }
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= static_cast<std::uint32_t>(n);
  }
  void release() noexcept {
    data_.reset();
    size_ = capacity_ = 0;
  }

 private:
  std::unique_ptr<char[]> data_;
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = 0;
};

}  // namespace sigkit

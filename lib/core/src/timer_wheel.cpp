#include "sigkit/timer_wheel.hpp"

#include <bit>

namespace sigkit {

void timer_wheel::entry::unlink() noexcept {
  if (!prev_) return;
  prev_->next_ = next_;
  next_->prev_ = prev_;
  prev_ = next_ = nullptr;
}

timer_wheel::timer_wheel(std::size_t slot_count, tick start)
    : slots_(std::bit_ceil(slot_count < 2 ? std::size_t{2} : slot_count)),
      mask_(slots_.size() - 1),
      now_(start) {
  for (auto& head : slots_) head.prev_ = head.next_ = &head;
}

timer_wheel::~timer_wheel() {
  // Entries outlive the wheel only in teardown; leave them unlinked rather
  // than pointing into freed sentinels.
  for (auto& head : slots_) {
    while (head.next_ != &head) head.next_->unlink();
    head.prev_ = head.next_ = nullptr;
  }
}

void timer_wheel::link(entry& head, entry& e) noexcept {
  e.prev_ = head.prev_;
  e.next_ = &head;
  head.prev_->next_ = &e;
  head.prev_ = &e;
}

void timer_wheel::schedule(entry& e, tick due) noexcept {
  e.unlink();
  e.due_ = due;
  // A deadline already passed fires at the next advance.
  link(slot(due > now_ ? due : now_ + 1), e);
}

}  // namespace sigkit

// Deadlines for many connections on one event loop, without a timer per
// connection: a hashed timing wheel (Varghese and Lauck, 1987). Each entry
// is an intrusive node inside the object it times, so scheduling allocates
// nothing; the loop advances the wheel from one periodic timer.
//
// Time is counted in ticks (the loop chooses the tick length). An entry due
// at tick t sits in slot t % slot_count; advancing to `now` visits each slot
// passed and fires the entries whose tick has come, leaving the ones due in
// a later revolution. Entries may be re-scheduled from inside the callback.
//
// Deadlines are meant to be lazy: an object that saw activity need not move
// its entry; when the entry fires, the object checks its real deadline and
// schedules itself again if it is not yet due (as Netty's idle handlers do).
// That keeps the hot path (a message arriving) free of wheel operations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sigkit {

class timer_wheel {
 public:
  using tick = std::uint64_t;

  // Embed one in each timed object. Not copyable: the wheel links to it.
  class entry {
   public:
    entry() = default;
    entry(const entry&) = delete;
    entry& operator=(const entry&) = delete;
    ~entry() { unlink(); }

    bool scheduled() const noexcept { return prev_ != nullptr; }
    tick due() const noexcept { return due_; }
    void unlink() noexcept;

   private:
    friend class timer_wheel;
    entry* prev_ = nullptr;
    entry* next_ = nullptr;
    tick due_ = 0;
  };

  // slot_count is rounded up to a power of two.
  explicit timer_wheel(std::size_t slot_count = 512, tick start = 0);
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;
  ~timer_wheel();

  tick now() const noexcept { return now_; }

  // (Re)schedules `e` to fire at tick `due`; a tick already passed fires at
  // the next advance().
  void schedule(entry& e, tick due) noexcept;
  void cancel(entry& e) noexcept { e.unlink(); }

  // Moves time forward to `to` and calls on_due(entry&) for every entry whose
  // tick is <= `to`, each once, in no particular order within a tick. An
  // entry is unlinked before its callback runs.
  template <class F>
  void advance(tick to, F&& on_due);

  // on_due must not throw: the loop that drives the wheel catches at each
  // connection's boundary, inside the callback.

 private:
  void link(entry& head, entry& e) noexcept;
  entry& slot(tick t) noexcept { return slots_[t & mask_]; }

  std::vector<entry> slots_;  // each a sentinel of a circular list
  tick mask_;
  tick now_;
};

template <class F>
void timer_wheel::advance(tick to, F&& on_due) {
  // Never walk more than one revolution: beyond that every slot has been seen.
  tick from = now_ + 1;
  if (to < from) return;
  tick last = to - from >= mask_ ? from + mask_ : to;
  for (tick t = from; t <= last; ++t) {
    entry& head = slot(t);
    // Detach the slot's list first, so entries re-scheduled into this same
    // slot by a callback wait for their own tick.
    entry pending;
    if (head.next_ != &head) {
      pending.next_ = head.next_;
      pending.prev_ = head.prev_;
      pending.next_->prev_ = &pending;
      pending.prev_->next_ = &pending;
      head.next_ = head.prev_ = &head;
    } else {
      continue;
    }
    while (pending.next_ != &pending) {
      entry& e = *pending.next_;
      if (e.due_ > to) {
        // A later revolution: back into its slot.
        e.unlink();
        link(head, e);
        continue;
      }
      e.unlink();
      on_due(e);
    }
    pending.prev_ = pending.next_ = nullptr;
  }
  now_ = to;
}

}  // namespace sigkit

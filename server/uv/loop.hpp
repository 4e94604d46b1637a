// One libuv loop with the per-loop resources its handles share: the UDP receive slots, a check
// handle that ends every iteration (the owner's flush hook, then objects queued for deletion), and
// an async handle that runs tasks posted from other threads, and a readiness set for sockets.
//
// Receive slots: UDP sockets read whole batches (recvmmsg) into slots that stay valid until the
// iteration ends, so what the core queues may point into them (zero-copy relay) and the owner can
// send everything at once from the flush hook (sendmmsg). The slots are one anonymous mapping:
// only the pages datagrams touch become resident.
//
// Readiness set: the loop's own epoll set, itself polled by libuv, so that a relay socket costs
// one system call to watch and none to forget (closing its fd removes it). A uv_poll_t costs
// five over its life: libuv probes the fd with an add and a delete, sets O_NONBLOCK again,
// deletes before its first add, and deletes when stopped. That is most of the system calls of
// an allocation that lives for a moment.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "protocol/stun/byte_io.hpp"

namespace turnpike::server::uv {

class Loop {
 public:
  // UDP payloads are at most 65507 bytes: one slot holds any datagram.
  static constexpr std::size_t kSlotSize = 65536;
  static constexpr std::size_t kSlotCount = 256;

  // Something watched in the readiness set.
  class Watcher {
   public:
    // events: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP. May destroy the watcher (see forget).
    virtual void onReady(std::uint32_t events) = 0;

   protected:
    ~Watcher() = default;
  };
  // Events for one round of a dispatch (dispatchReady); more wait for the next round.
  static constexpr std::size_t kReadyBatch = 256;
  // One dispatch reads the readiness set up to this many times, while it finds something ready
  // and has received fewer than kRoundsUntil datagrams (dispatchReady).
  static constexpr std::size_t kMaxReadyRounds = 16;
  static constexpr std::size_t kRoundsUntil = 192;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  [[nodiscard]] uv_loop_t* get() { return loop_.get(); }
  // The time the readiness set last reported something: for what Watcher::onReady does, one
  // clock read per round instead of one per datagram. Not later than the reads it covers.
  [[nodiscard]] std::chrono::steady_clock::time_point readyTime() const { return ready_time_; }
  // recvmmsg headers for `wanted` free receive slots, contiguous (each header's iovec is its slot,
  // its msg_name a source address buffer: built once, not per read); runs the flush hook and
  // recycles every slot first when fewer are left. Call only outside datagram callbacks (before
  // a read). Then commitSlots() with the number actually filled.
  [[nodiscard]] std::span<mmsghdr> reserveSlots(std::size_t wanted);
  // Marks `used` reserved slots filled (their data and source addresses stay valid until the
  // iteration ends) and resets the source lengths recvmmsg wrote, for the next read.
  void commitSlots(std::size_t used);

  // Called at the end of every loop iteration, and when the receive slots run out: the owner
  // sends what it queued. Data in the slots stays valid until the hook has returned.
  void setFlushHook(std::function<void()> hook) { flush_hook_ = std::move(hook); }

  // Watches fd (non-blocking) for readability, and writability too when `writable`;
  // level-triggered. Returns 0 or a negative errno. rewatch changes what is watched.
  [[nodiscard]] int watch(int fd, Watcher& watcher, bool writable);
  int rewatch(int fd, Watcher& watcher, bool writable);
  // No more events for `watcher`, including any already read in this wake-up. Call it once
  // for every successful watch(), then close the fd (which takes it out of the set: the fd must not
  // have been duplicated).
  void forget(const Watcher& watcher);

  // Frees `object` on the next loop iteration, outside any of its own callbacks.
  void deleteLater(std::shared_ptr<void> object);

  // Runs `task` on the loop thread soon; callable from any thread. Tasks run in the order
  // posted. Returns false (and drops the task) once closeHandles() has run.
  bool post(std::function<void()> task);

  // Runs until no handle is active.
  void run();
  // Closes the loop's own handles (check, async) so that run() can return once the owner has
  // closed its handles too. Call on the loop thread.
  void closeHandles();
  // Closes the loop's own handles, runs until every close callback has fired and closes the
  // loop. Call after run() has returned, never from inside a callback. Returns the number of
  // handles still open (0 when shutdown was clean).
  [[nodiscard]] int shutdown();

 private:
  struct LoopDeleter {
    void operator()(uv_loop_t* loop) const;
  };
  std::unique_ptr<uv_loop_t, LoopDeleter> loop_;
  void endIteration();
  void flushAndRecycle();
  void dispatchReady();
  // epoll_ctl ADD or MOD of fd for watcher; 0 or a negative errno.
  int control(int operation, int fd, Watcher& watcher, bool writable);

  std::byte* slots_ = nullptr;  // kSlotCount * kSlotSize, mmap'ed
  std::size_t slots_used_ = 0;
  // Per slot: the recvmmsg header, its iovec and the source address it receives.
  std::unique_ptr<mmsghdr[]> slot_headers_;
  std::unique_ptr<iovec[]> slot_vectors_;
  std::unique_ptr<sockaddr_storage[]> slot_sources_;
  std::function<void()> flush_hook_;
  uv_check_t* check_ = nullptr;
  uv_async_t* async_ = nullptr;
  int epoll_fd_ = -1;
  uv_poll_t* ready_poll_ = nullptr;  // libuv's watch on epoll_fd_
  std::array<epoll_event, kReadyBatch> ready_{};
  std::size_t ready_count_ = 0;  // events read by the dispatch running now
  std::size_t ready_next_ = 0;   // the next of them to hand out
  std::size_t watchers_ = 0;     // watch() calls not yet forgotten
  std::size_t dispatched_ = 0;   // datagrams received by the dispatch running now
  std::chrono::steady_clock::time_point ready_time_{};
  std::vector<std::shared_ptr<void>> graveyard_;
  std::mutex tasks_mutex_;  // guards tasks_, tasks_closed_ and sending on async_
  std::vector<std::function<void()>> tasks_;
  bool tasks_closed_ = false;
  bool shut_down_ = false;
};

}  // namespace turnpike::server::uv

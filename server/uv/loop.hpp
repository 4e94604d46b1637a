// One libuv loop with the per-loop resources its handles share: the UDP receive buffer, a check
// handle that frees objects queued for deletion, and an async handle that runs tasks posted from
// other threads.
#pragma once

#include <uv.h>

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "protocol/stun/byte_io.hpp"

namespace turnpike::server::uv {

class Loop {
 public:
  // UDP payloads are at most 65507 bytes; one buffer per loop serves every socket on it.
  static constexpr std::size_t kReceiveBufferSize = 65536;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  [[nodiscard]] uv_loop_t* get() { return loop_.get(); }
  [[nodiscard]] protocol::MutableBytes receiveBuffer() { return *receive_buffer_; }

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
  std::unique_ptr<std::array<std::byte, kReceiveBufferSize>> receive_buffer_;
  uv_check_t* check_ = nullptr;
  uv_async_t* async_ = nullptr;
  std::vector<std::shared_ptr<void>> graveyard_;
  std::mutex tasks_mutex_;  // guards tasks_, tasks_closed_ and sending on async_
  std::vector<std::function<void()>> tasks_;
  bool tasks_closed_ = false;
  bool shut_down_ = false;
};

}  // namespace turnpike::server::uv

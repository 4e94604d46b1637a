#include "server/uv/loop.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "server/log.hpp"
#include "server/uv/handles.hpp"

namespace turnpike::server::uv {

void Loop::LoopDeleter::operator()(uv_loop_t* loop) const { delete loop; }

Loop::Loop() : loop_(new uv_loop_t), check_(new uv_check_t), async_(new uv_async_t) {
  void* slots = ::mmap(nullptr, kSlotCount * kSlotSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (slots == MAP_FAILED) {
    throw std::bad_alloc();
  }
  slots_ = static_cast<std::byte*>(slots);
  slot_headers_ = std::make_unique<mmsghdr[]>(kSlotCount);
  slot_vectors_ = std::make_unique<iovec[]>(kSlotCount);
  slot_sources_ = std::make_unique<sockaddr_storage[]>(kSlotCount);
  for (std::size_t i = 0; i < kSlotCount; ++i) {
    slot_vectors_[i] = {slots_ + i * kSlotSize, kSlotSize};
    slot_headers_[i].msg_hdr = {.msg_name = &slot_sources_[i],
                                .msg_namelen = sizeof(sockaddr_storage),
                                .msg_iov = &slot_vectors_[i],
                                .msg_iovlen = 1,
                                .msg_control = nullptr,
                                .msg_controllen = 0,
                                .msg_flags = 0};
  }
  uv_loop_init(loop_.get());
  uv_check_init(loop_.get(), check_);
  check_->data = this;
  // Every iteration ends here; unreferenced, so it alone does not keep the loop running.
  uv_check_start(check_, [](uv_check_t* handle) {
    if (auto* self = static_cast<Loop*>(handle->data); self != nullptr) {
      self->endIteration();
    }
  });
  uv_unref(asHandle(check_));
  uv_async_init(loop_.get(), async_, [](uv_async_t* handle) {
    auto* self = static_cast<Loop*>(handle->data);
    if (self == nullptr) {
      return;
    }
    std::vector<std::function<void()>> tasks;
    {
      const std::lock_guard lock(self->tasks_mutex_);
      tasks.swap(self->tasks_);
    }
    for (auto& task : tasks) {
      task();
    }
  });
  async_->data = this;
}

Loop::~Loop() {
  if (!shut_down_) {
    (void)shutdown();
  }
  ::munmap(slots_, kSlotCount * kSlotSize);
}

std::span<mmsghdr> Loop::reserveSlots(std::size_t wanted) {
  wanted = std::min(wanted, kSlotCount);
  if (kSlotCount - slots_used_ < wanted) {
    flushAndRecycle();
  }
  return {&slot_headers_[slots_used_], wanted};
}

void Loop::commitSlots(std::size_t used) {
  // recvmmsg wrote the source length of each filled header.
  for (std::size_t i = slots_used_; i < slots_used_ + used; ++i) {
    slot_headers_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
  }
  slots_used_ += used;
}

void Loop::flushAndRecycle() {
  if (flush_hook_) {
    flush_hook_();
  }
  slots_used_ = 0;
}

void Loop::endIteration() {
  flushAndRecycle();
  if (!graveyard_.empty()) {
    // Swap first: destructors may queue more objects, freed at the end of the next iteration.
    std::vector<std::shared_ptr<void>> dead;
    dead.swap(graveyard_);
    dead.clear();
  }
}

void Loop::deleteLater(std::shared_ptr<void> object) {
  graveyard_.push_back(std::move(object));  // freed when this iteration ends
}

bool Loop::post(std::function<void()> task) {
  const std::lock_guard lock(tasks_mutex_);
  if (tasks_closed_) {
    return false;
  }
  tasks_.push_back(std::move(task));
  uv_async_send(async_);
  return true;
}

void Loop::run() { uv_run(loop_.get(), UV_RUN_DEFAULT); }

void Loop::closeHandles() {
  {
    const std::lock_guard lock(tasks_mutex_);
    tasks_closed_ = true;
    tasks_.clear();
  }
  closeAndDelete(check_);
  closeAndDelete(async_);
  check_ = nullptr;
  async_ = nullptr;
}

int Loop::shutdown() {
  shut_down_ = true;
  graveyard_.clear();
  closeHandles();
  uv_run(loop_.get(), UV_RUN_DEFAULT);
  graveyard_.clear();
  int open = 0;
  uv_walk(
      loop_.get(),
      [](uv_handle_t* handle, void* arg) {
        ++*static_cast<int*>(arg);
        TP_LOG(kError, "handle still open at shutdown: ", uv_handle_type_name(handle->type));
      },
      &open);
  if (open == 0) {
    uv_loop_close(loop_.get());
  } else {
    (void)loop_.release();  // handles still point into it: leak rather than free under them
  }
  return open;
}

}  // namespace turnpike::server::uv

#include "server/uv/loop.hpp"

#include <sys/mman.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <system_error>

#include "server/log.hpp"
#include "server/uv/handles.hpp"

namespace turnpike::server::uv {

void Loop::LoopDeleter::operator()(uv_loop_t* loop) const { delete loop; }

Loop::Loop()
    : loop_(new uv_loop_t),
      check_(new uv_check_t),
      async_(new uv_async_t),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_create1");
  }
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
  ready_poll_ = new uv_poll_t;
  if (const int rc = uv_poll_init(loop_.get(), ready_poll_, epoll_fd_); rc != 0) {
    throw std::system_error(-rc, std::generic_category(), "uv_poll_init on the readiness set");
  }
  ready_poll_->data = this;
  uv_poll_start(ready_poll_, UV_READABLE, [](uv_poll_t* handle, int /*status*/, int /*events*/) {
    if (auto* self = static_cast<Loop*>(handle->data); self != nullptr) {
      self->dispatchReady();
    }
  });
  // Referenced only while something is watched, as a uv_poll_t per socket would be.
  uv_unref(asHandle(ready_poll_));
}

Loop::~Loop() {
  if (!shut_down_) {
    (void)shutdown();
  }
  ::munmap(slots_, kSlotCount * kSlotSize);
  ::close(epoll_fd_);
}

int Loop::control(int operation, int fd, Watcher& watcher, bool writable) {
  epoll_event event{};
  event.events = EPOLLIN | (writable ? EPOLLOUT : 0U);
  event.data.ptr = &watcher;
  return ::epoll_ctl(epoll_fd_, operation, fd, &event) == 0 ? 0 : -errno;
}

int Loop::watch(int fd, Watcher& watcher, bool writable) {
  if (const int rc = control(EPOLL_CTL_ADD, fd, watcher, writable); rc != 0) {
    return rc;
  }
  if (watchers_++ == 0 && ready_poll_ != nullptr) {
    uv_ref(asHandle(ready_poll_));
  }
  return 0;
}

int Loop::rewatch(int fd, Watcher& watcher, bool writable) {
  return control(EPOLL_CTL_MOD, fd, watcher, writable);
}

void Loop::forget(const Watcher& watcher) {
  if (watchers_ > 0 && --watchers_ == 0 && ready_poll_ != nullptr) {
    uv_unref(asHandle(ready_poll_));
  }
  // Events already read for it must not reach it: it may be gone by then.
  for (std::size_t i = ready_next_; i < ready_count_; ++i) {
    if (ready_[i].data.ptr == &watcher) {
      ready_[i].data.ptr = nullptr;
    }
  }
}

void Loop::dispatchReady() {
  // Rounds until nothing is ready, so that what one wake-up read goes out in one flush (Worker:
  // fewer, fuller sendmmsg calls, and the receivers woken fewer times). Another round only while
  // this dispatch has read fewer than kRoundsUntil datagrams: the loop's other handles (streams,
  // timers) wait for that many datagrams more than they did for one round, at most.
  dispatched_ = 0;
  for (std::size_t round = 0; round < kMaxReadyRounds; ++round) {
    // syscall(): glibc's epoll_wait is a cancellation point, which costs two calls around it.
    // epoll_pwait with no signal mask is epoll_wait on every architecture (arm64 has only it).
    const long count = ::syscall(SYS_epoll_pwait, epoll_fd_, ready_.data(),
                                 static_cast<int>(ready_.size()), /*timeout=*/0, nullptr, 0);
    if (count <= 0) {
      return;  // nothing (more) ready; EINTR is a round with nothing either
    }
    ready_time_ = std::chrono::steady_clock::now();
    ready_count_ = static_cast<std::size_t>(count);
    for (ready_next_ = 0; ready_next_ < ready_count_;) {
      const epoll_event& event = ready_[ready_next_++];
      if (auto* watcher = static_cast<Watcher*>(event.data.ptr); watcher != nullptr) {
        watcher->onReady(event.events);
      }
    }
    ready_count_ = 0;
    ready_next_ = 0;
    if (dispatched_ >= kRoundsUntil) {
      return;
    }
  }
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
  dispatched_ += used;
}

void Loop::flushAndRecycle() {
  if (flush_hook_) {
    flush_hook_();
  }
  slots_used_ = 0;
}

void Loop::endIteration() {
  flushAndRecycle();
  logFlush();  // the lines this iteration logged, in one write
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
  closeAndDelete(ready_poll_);
  check_ = nullptr;
  async_ = nullptr;
  ready_poll_ = nullptr;
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

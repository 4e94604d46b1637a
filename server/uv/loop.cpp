#include "server/uv/loop.hpp"

#include "server/log.hpp"
#include "server/uv/handles.hpp"

namespace turnpike::server::uv {

void Loop::LoopDeleter::operator()(uv_loop_t* loop) const { delete loop; }

Loop::Loop()
    : loop_(new uv_loop_t),
      receive_buffer_(std::make_unique<std::array<std::byte, kReceiveBufferSize>>()),
      check_(new uv_check_t),
      async_(new uv_async_t) {
  uv_loop_init(loop_.get());
  uv_check_init(loop_.get(), check_);
  check_->data = this;
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
}

void Loop::deleteLater(std::shared_ptr<void> object) {
  graveyard_.push_back(std::move(object));
  if (check_ != nullptr && uv_is_active(asHandle(check_)) == 0) {
    uv_check_start(check_, [](uv_check_t* handle) {
      auto* self = static_cast<Loop*>(handle->data);
      if (self == nullptr) {
        return;
      }
      // Swap first: destructors may queue more objects.
      std::vector<std::shared_ptr<void>> dead;
      dead.swap(self->graveyard_);
      dead.clear();
      if (self->graveyard_.empty()) {
        uv_check_stop(handle);
      }
    });
  }
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

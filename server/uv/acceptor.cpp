#include "server/uv/acceptor.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "server/log.hpp"

namespace turnpike::server::uv {

Acceptor::Acceptor(Loop& loop, int fd, AcceptorCallbacks& callbacks, Options options)
    : callbacks_(callbacks),
      options_(options),
      fd_(fd),
      poll_(new uv_poll_t),
      retry_timer_(new uv_timer_t) {
  uv_timer_init(loop.get(), retry_timer_);
  retry_timer_->data = this;
  if (options_.spare) {
    restoreSpare();
  }
}

Acceptor::~Acceptor() {
  closeAndDelete(retry_timer_);
  // uv_close stops polling at once, so the socket can be closed right after.
  closeAndDelete(poll_);
  ::close(fd_);
  if (spare_fd_ >= 0) {
    ::close(spare_fd_);
  }
}

std::expected<std::unique_ptr<Acceptor>, UvError> Acceptor::start(Loop& loop, int fd,
                                                                  AcceptorCallbacks& callbacks,
                                                                  Options options) {
  std::unique_ptr<Acceptor> acceptor(new Acceptor(loop, fd, callbacks, options));
  if (const int rc = uv_poll_init(loop.get(), acceptor->poll_, fd); rc != 0) {
    // The handle was never initialised: free it here, not through uv_close.
    delete std::exchange(acceptor->poll_, nullptr);
    return std::unexpected(UvError{"uv_poll_init", rc});
  }
  acceptor->poll_->data = acceptor.get();
  // libuv opens a spare fd per loop with the loop's first stream handle, which without
  // uv_listen() would be the first accepted connection: open it now, so that the process's fd
  // count does not grow with the first connection.
  auto* first_stream = new uv_tcp_t;
  uv_tcp_init(loop.get(), first_stream);
  closeAndDelete(first_stream);
  if (const int rc = uv_poll_start(acceptor->poll_, UV_READABLE, onReadable); rc != 0) {
    return std::unexpected(UvError{"uv_poll_start", rc});
  }
  return acceptor;
}

void Acceptor::onReadable(uv_poll_t* poll, int status, int /*events*/) {
  auto* self = static_cast<Acceptor*>(poll->data);
  if (self == nullptr) {
    return;
  }
  if (status < 0) {
    ++self->accept_errors_;
    return;
  }
  self->acceptPending();
}

void Acceptor::acceptPending() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      callbacks_.onAcceptedFd(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) {
      continue;
    }
    if (errno == EMFILE || errno == ENFILE) {
      if (!shedWaiting()) {
        pause();
      }
      return;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ++accept_errors_;
    }
    break;
  }
  if (options_.spare && spare_fd_ < 0) {
    restoreSpare();  // fds were to be had just now
  }
}

bool Acceptor::shedWaiting() {
  if (spare_fd_ < 0) {
    return false;
  }
  ::close(std::exchange(spare_fd_, -1));
  // Bounded: the backlog, plus what arrives meanwhile.
  bool drained = false;
  for (int i = 0; i < 4 * options_.backlog; ++i) {
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      ++shed_connections_;
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) {
      continue;
    }
    drained = errno == EAGAIN || errno == EWOULDBLOCK;
    break;
  }
  TP_LOG(kDebug, "tcp listener fd ", fd_, ": out of file descriptors, ", shed_connections_,
         " connections closed on accept so far");
  restoreSpare();
  return drained;
}

void Acceptor::restoreSpare() {
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (spare_fd_ < 0 && uv_is_active(asHandle(retry_timer_)) == 0) {
    // Another thread has the fd: try again in a while rather than at the next connection,
    // which may come when the fds have run out again.
    uv_timer_start(retry_timer_, onRetry, static_cast<std::uint64_t>(kOutOfFdsPause.count()), 0);
  }
}

void Acceptor::pause() {
  ++pauses_;
  paused_ = true;
  uv_poll_stop(poll_);
  uv_timer_start(retry_timer_, onRetry, static_cast<std::uint64_t>(kOutOfFdsPause.count()), 0);
}

void Acceptor::onRetry(uv_timer_t* timer) {
  auto* self = static_cast<Acceptor*>(timer->data);
  if (self == nullptr) {
    return;
  }
  if (self->paused_) {
    self->paused_ = false;
    (void)uv_poll_start(self->poll_, UV_READABLE, onReadable);
  }
  if (self->options_.spare && self->spare_fd_ < 0) {
    self->restoreSpare();
  }
}

}  // namespace turnpike::server::uv

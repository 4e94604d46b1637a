// The accept loop of a listening TCP socket, shared by the client listeners (TcpListener) and
// the RFC 6062 relay listeners (TcpRelayListener): its own accept4() loop on a uv_poll_t rather
// than uv_listen(). libuv 1.44's accept loop spins when the process is out of fds and its
// per-loop spare fd was lost to another thread (uv__emfile_trick, "not reliable in a
// multi-threaded environment"): it calls accept() and the connection callback with UV_EMFILE
// again and again, and Linux's accept() fails with EMFILE before it even looks at the queue, so
// the worker serves nothing until some other thread frees an fd. Here, out of fds, an acceptor
// with a spare fd of its own closes it to accept and close what waits, and when even that fails
// (or it has no spare) it stops polling for kOutOfFdsPause. A spare taken by another thread is
// taken back as soon as an fd can be had (retried every kOutOfFdsPause).
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>

#include "server/uv/handles.hpp"
#include "server/uv/loop.hpp"

namespace turnpike::server::uv {

class AcceptorCallbacks {
 public:
  // A new connection's socket (non-blocking, close-on-exec). The callee owns it.
  virtual void onAcceptedFd(int fd) = 0;

 protected:
  ~AcceptorCallbacks() = default;
};

class Acceptor {
 public:
  // Accepted per readiness callback before the loop gets to its other handles.
  static constexpr int kAcceptBatch = 64;
  // Out of fds with no spare to shed connections with: how long the acceptor stops polling;
  // also how often it tries to get a lost spare back.
  static constexpr std::chrono::milliseconds kOutOfFdsPause{100};

  struct Options {
    // Keep a spare fd (/dev/null) to shed waiting connections with when out of fds. Without
    // one (a listener per TCP allocation, which must not cost two fds), connections wait in
    // the kernel's backlog while the acceptor pauses.
    bool spare = true;
    // For the log line when connections are shed.
    int backlog = 1024;
  };

  // Takes ownership of `fd`, a listening socket, and starts polling it.
  [[nodiscard]] static std::expected<std::unique_ptr<Acceptor>, UvError> start(
      Loop& loop, int fd, AcceptorCallbacks& callbacks, Options options);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  [[nodiscard]] int fd() const { return fd_; }
  [[nodiscard]] std::uint64_t acceptErrors() const { return accept_errors_; }
  // Connections accepted and closed at once because the process was out of fds.
  [[nodiscard]] std::uint64_t shedConnections() const { return shed_connections_; }
  // Times polling stopped because the process was out of fds and nothing could be shed.
  [[nodiscard]] std::uint64_t pauses() const { return pauses_; }

 private:
  Acceptor(Loop& loop, int fd, AcceptorCallbacks& callbacks, Options options);
  static void onReadable(uv_poll_t* poll, int status, int events);
  static void onRetry(uv_timer_t* timer);
  void acceptPending();
  // Out of fds: closes the spare fd, accepts and closes every waiting connection, opens the
  // spare again. False when there was no spare, or the freed fd went to another thread before
  // the queue was empty.
  bool shedWaiting();
  // Opens the spare, or arms the retry timer when no fd can be had.
  void restoreSpare();
  // Stops polling until the retry timer fires.
  void pause();

  AcceptorCallbacks& callbacks_;
  Options options_;
  int fd_;  // the listening socket, owned
  uv_poll_t* poll_;
  uv_timer_t* retry_timer_;
  bool paused_ = false;
  int spare_fd_ = -1;  // /dev/null, closed to make room when out of fds
  std::uint64_t accept_errors_ = 0;
  std::uint64_t shed_connections_ = 0;
  std::uint64_t pauses_ = 0;
};

}  // namespace turnpike::server::uv

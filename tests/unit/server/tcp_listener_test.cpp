// TcpListener when the process is out of file descriptors (EMFILE), on a real libuv loop.
//
// libuv keeps one spare fd per loop: when accept() fails with EMFILE, uv_listen's accept loop
// closes the spare, accepts and closes what waits, and opens the spare again
// (uv__emfile_trick). Its own comment says the trick is "not reliable in a multi-threaded
// environment": if another thread takes the freed fd first, the spare is gone, and from then on
// libuv 1.44 calls accept() and the connection callback with UV_EMFILE in a loop -- Linux's
// accept() fails with EMFILE before it looks at the queue -- so the worker spins at 100% and
// serves nothing until another thread frees an fd. turnpike has several threads opening fds
// (workers' relay sockets, the HTTP thread), and the reliability suite's 2-worker runs out of
// fds lost the spare within a second. TcpListener therefore accepts on its own (uv_poll_t and
// accept4) with its own spare; these tests check both ways out of EMFILE: shedding with the
// spare, and pausing when there is no spare.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <vector>

#include "server/uv/loop.hpp"
#include "server/uv/tcp.hpp"
#include "server/uv/tcp_relay.hpp"

namespace turnpike::server::uv {
namespace {

using namespace std::chrono_literals;

// The sanitizer runtimes need fds of their own: UBSan's vptr check opens a pipe to probe memory
// and aborts the process when it cannot. These tests run the process out of fds.
void skipWhenSanitized() {
#ifdef TURNPIKE_SANITIZED
  GTEST_SKIP() << "sanitizer runtimes fail without fds";
#endif
}

struct Accepted : TcpListenerCallbacks, TcpConnectionCallbacks {
  void onAccepted(std::unique_ptr<TcpConnection> connection) override {
    connections.push_back(std::move(connection));
  }
  void onFrame(TcpConnection& /*connection*/, const protocol::Frame& /*frame*/) override {}
  void onClosed(TcpConnection& /*connection*/, CloseReason /*reason*/) override {}
  std::vector<std::unique_ptr<TcpConnection>> connections;
};

// Lowers the soft RLIMIT_NOFILE to a little above the fds in use and opens /dev/null until
// EMFILE; undoes both on destruction.
class FdExhaustion {
 public:
  FdExhaustion() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    int highest = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(highest);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(highest) + 64;
    setrlimit(RLIMIT_NOFILE, &lowered);
    fill();
  }
  ~FdExhaustion() {
    for (const int fd : fds_) {
      ::close(fd);
    }
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  FdExhaustion(const FdExhaustion&) = delete;
  FdExhaustion& operator=(const FdExhaustion&) = delete;

  // Takes every fd that is free now.
  void fill() {
    for (int i = 0; i < 4096; ++i) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        return;
      }
      fds_.push_back(fd);
    }
  }
  // Gives `count` back.
  void release(int count = 1) {
    for (; count > 0 && !fds_.empty(); --count) {
      ::close(fds_.back());
      fds_.pop_back();
    }
  }

 private:
  rlimit saved_{};
  std::vector<int> fds_;
};

sockaddr_in loopbackAddress(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// True when the connection is closed by the server (EOF or RST) within `timeout`.
bool closedByServer(int fd, std::chrono::milliseconds timeout) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timeval limit{static_cast<time_t>(seconds.count()),
                      static_cast<suseconds_t>((timeout - seconds).count() * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  std::array<char, 16> sink{};
  const ssize_t n = ::recv(fd, sink.data(), sink.size(), 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

TEST(TcpListenerTest, OutOfFdsTheWaitingConnectionIsShedAndTheLoopReturns) {
  skipWhenSanitized();
  if (testing::Test::IsSkipped()) {
    return;
  }
  Loop loop;
  Accepted callbacks;
  auto listener = TcpListener::open(
      loop, protocol::Endpoint{protocol::IpAddress::v4({127, 0, 0, 1}), 0}, callbacks, callbacks);
  ASSERT_TRUE(listener) << listener.error().toString();
  // The client's socket exists before the fds run out; connect() needs no new fd.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  {
    FdExhaustion exhaustion;
    // The state libuv is left in when another thread wins the race for its spare fd (the
    // listener must not depend on it).
    if (uv_loop_t* raw = loop.get(); raw->emfile_fd != -1) {
      ::close(raw->emfile_fd);
      raw->emfile_fd = -1;
      exhaustion.fill();
    }

    const sockaddr_in address = loopbackAddress((*listener)->localEndpoint().port);
    ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&address),  // NOLINT
                        sizeof(address)),
              0)
        << std::strerror(errno);
    // One pass of the loop must come back: it finds the listener readable and accept() failing.
    auto pass = std::async(std::launch::async, [&] { uv_run(loop.get(), UV_RUN_NOWAIT); });
    const bool returned = pass.wait_for(2s) == std::future_status::ready;
    if (!returned) {
      exhaustion.release(8);  // lets the spinning accept() come to EAGAIN, so the thread ends
    }
    pass.wait();
    EXPECT_TRUE(returned) << "the loop spun on accept() at EMFILE";
  }
  // The waiting connection was shed (accepted and closed), not left in the backlog.
  EXPECT_TRUE(closedByServer(client, 1000ms));
  EXPECT_EQ((*listener)->shedConnections(), 1U);
  ::close(client);
  // Served again once fds are back.
  const int next = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in address = loopbackAddress((*listener)->localEndpoint().port);
  ASSERT_EQ(
      ::connect(next, reinterpret_cast<const sockaddr*>(&address), sizeof(address)),  // NOLINT
      0);
  uv_run(loop.get(), UV_RUN_NOWAIT);
  EXPECT_EQ(callbacks.connections.size(), 1U);
  ::close(next);
  callbacks.connections.clear();
  listener->reset();
  loop.closeHandles();
  EXPECT_EQ(loop.shutdown(), 0);
}

TEST(TcpListenerTest, OutOfFdsWithNoSpareTheListenerPausesAndServesTheConnectionLater) {
  skipWhenSanitized();
  if (testing::Test::IsSkipped()) {
    return;
  }
  Loop loop;
  Accepted callbacks;
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  std::expected<std::unique_ptr<TcpListener>, UvError> listener;
  {
    FdExhaustion exhaustion;
    // One fd left: the listening socket takes it, and the listener gets no spare.
    exhaustion.release();
    listener = TcpListener::open(
        loop, protocol::Endpoint{protocol::IpAddress::v4({127, 0, 0, 1}), 0}, callbacks, callbacks);
    ASSERT_TRUE(listener) << listener.error().toString();
    exhaustion.fill();
    const sockaddr_in address = loopbackAddress((*listener)->localEndpoint().port);
    ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&address),  // NOLINT
                        sizeof(address)),
              0)
        << std::strerror(errno);
    auto pass = std::async(std::launch::async, [&] { uv_run(loop.get(), UV_RUN_NOWAIT); });
    const bool returned = pass.wait_for(2s) == std::future_status::ready;
    if (!returned) {
      exhaustion.release(8);
    }
    pass.wait();
    EXPECT_TRUE(returned) << "the loop spun on accept() at EMFILE";
    EXPECT_EQ((*listener)->pauses(), 1U);
    EXPECT_EQ((*listener)->shedConnections(), 0U);
  }
  // With fds back, the pause ends and the connection that waited in the backlog is served.
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (callbacks.connections.empty() && std::chrono::steady_clock::now() < deadline) {
    uv_run(loop.get(), UV_RUN_ONCE);
  }
  EXPECT_EQ(callbacks.connections.size(), 1U);
  ::close(client);
  callbacks.connections.clear();
  listener->reset();
  loop.closeHandles();
  EXPECT_EQ(loop.shutdown(), 0);
}

// RFC 6062 relay listeners accept with the same Acceptor, without a spare fd (one per TCP
// allocation would double its fds): out of fds the listener pauses instead of spinning in
// libuv's accept loop, and the peer that waited in the backlog is served once fds are back.
struct PeersAccepted : TcpRelayCallbacks {
  void onPeerAccepted(std::uint64_t tag, uv_tcp_t* handle,
                      const protocol::Endpoint& /*peer*/) override {
    tags.push_back(tag);
    closeAndDelete(handle);
  }
  void onPeerConnected(std::uint32_t /*connection*/, bool /*connected*/) override {}
  std::vector<std::uint64_t> tags;
};

// A TCP port on 127.0.0.1 that nothing listens on now.
std::uint16_t freeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = loopbackAddress(0);
  socklen_t length = sizeof(address);
  ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));  // NOLINT
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);         // NOLINT
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(TcpRelayListenerTest, OutOfFdsTheRelayListenerPausesAndServesThePeerLater) {
  skipWhenSanitized();
  if (testing::Test::IsSkipped()) {
    return;
  }
  Loop loop;
  PeersAccepted callbacks;
  const std::uint16_t port = freeTcpPort();
  auto listener = TcpRelayListener::open(
      loop, protocol::Endpoint{protocol::IpAddress::v4({127, 0, 0, 1}), port}, 42, callbacks);
  ASSERT_TRUE(listener) << listener.error().toString();
  const int peer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(peer, 0);
  {
    FdExhaustion exhaustion;
    // No libuv spare either (the state another thread can leave it in).
    if (uv_loop_t* raw = loop.get(); raw->emfile_fd != -1) {
      ::close(raw->emfile_fd);
      raw->emfile_fd = -1;
      exhaustion.fill();
    }
    const sockaddr_in address = loopbackAddress(port);
    ASSERT_EQ(::connect(peer, reinterpret_cast<const sockaddr*>(&address),  // NOLINT
                        sizeof(address)),
              0)
        << std::strerror(errno);
    auto pass = std::async(std::launch::async, [&] { uv_run(loop.get(), UV_RUN_NOWAIT); });
    const bool returned = pass.wait_for(2s) == std::future_status::ready;
    if (!returned) {
      exhaustion.release(8);  // lets the spinning accept() come to EAGAIN, so the thread ends
    }
    pass.wait();
    ASSERT_TRUE(returned) << "the loop spun on accept() at EMFILE";
    EXPECT_EQ((*listener)->pauses(), 1U);
    EXPECT_TRUE(callbacks.tags.empty());
  }
  // With fds back, the pause ends and the peer that waited in the backlog is accepted.
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (callbacks.tags.empty() && std::chrono::steady_clock::now() < deadline) {
    uv_run(loop.get(), UV_RUN_ONCE);
  }
  EXPECT_EQ(callbacks.tags, std::vector<std::uint64_t>{42});
  ::close(peer);
  listener->reset();
  loop.closeHandles();
  EXPECT_EQ(loop.shutdown(), 0);
}

}  // namespace
}  // namespace turnpike::server::uv

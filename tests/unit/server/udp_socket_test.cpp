// UdpSocket on a real libuv loop: batched receive into the loop's slots (valid until the
// iteration ends) and batched send. Not covered: the queue for sends the kernel refuses with
// EAGAIN. Over loopback that never happens -- loopback_xmit orphans each skb, so the sender's
// buffer is never charged -- and a throttled veth in a namespace is more than a unit test.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/uv/loop.hpp"
#include "server/uv/udp_socket.hpp"

namespace turnpike::server::uv {
namespace {

using namespace std::chrono_literals;

const protocol::Endpoint kLoopbackAnyPort{protocol::IpAddress::v4({127, 0, 0, 1}), 0};

struct Received : UdpSocketCallbacks {
  void onDatagram(UdpSocket& /*socket*/, protocol::ConstBytes data,
                  const protocol::Endpoint& source) override {
    views.push_back(data);
    sources.push_back(source);
  }
  std::vector<protocol::ConstBytes> views;  // into the loop's slots: checked in the flush hook
  std::vector<protocol::Endpoint> sources;
};

// A plain blocking UDP socket on 127.0.0.1 for the other end.
struct Peer {
  Peer() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));  // NOLINT
    const int big = 8 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);  // NOLINT
    endpoint = {protocol::IpAddress::v4({127, 0, 0, 1}), ntohs(address.sin_port)};
  }
  ~Peer() { ::close(fd); }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  void sendTo(const protocol::Endpoint& to, const std::string& text) const {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(to.port);
    ::sendto(fd, text.data(), text.size(), 0,
             reinterpret_cast<const sockaddr*>(&address),  // NOLINT
             sizeof(address));
  }
  // The next datagram as text, or "" after a 2 s wait.
  [[nodiscard]] std::string receive() const {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 2000) != 1) {
      return "";
    }
    std::array<char, 2048> buffer{};
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    return n < 0 ? "" : std::string(buffer.data(), static_cast<std::size_t>(n));
  }

  int fd = -1;
  protocol::Endpoint endpoint;
};

// A socket on 127.0.0.1 on its own loop, a peer to talk to, and a clean shutdown.
class UdpSocketTest : public testing::Test {
 protected:
  void SetUp() override {
    auto opened = UdpSocket::open(loop_, kLoopbackAnyPort, received_, {.reuse_port = false});
    ASSERT_TRUE(opened.has_value()) << opened.error().toString();
    socket_ = std::move(*opened);
  }
  void TearDown() override {
    socket_.reset();
    loop_.setFlushHook({});
    loop_.closeHandles();
    EXPECT_EQ(loop_.shutdown(), 0);
  }

  Loop loop_;
  Received received_;
  std::unique_ptr<UdpSocket> socket_;
  const Peer peer_;
};

TEST_F(UdpSocketTest, ABatchOfDatagramsStaysValidUntilTheIterationEnds) {
  constexpr int kCount = 20;  // fewer than one recvmmsg batch
  for (int i = 0; i < kCount; ++i) {
    peer_.sendTo(socket_->localEndpoint(), "datagram " + std::to_string(i));
  }
  // The hook runs at the end of the iteration that read them: every view must still hold its
  // own bytes (a shared receive buffer would show the last datagram in all of them).
  std::vector<std::string> seen_in_hook;
  loop_.setFlushHook([&] {
    for (const protocol::ConstBytes view : received_.views) {
      seen_in_hook.emplace_back(reinterpret_cast<const char*>(view.data()), view.size());  // NOLINT
    }
    received_.views.clear();
  });
  for (int pass = 0; pass < 50 && seen_in_hook.size() < kCount; ++pass) {
    uv_run(loop_.get(), UV_RUN_NOWAIT);
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(seen_in_hook.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(seen_in_hook[static_cast<std::size_t>(i)], "datagram " + std::to_string(i));
    EXPECT_EQ(received_.sources[static_cast<std::size_t>(i)], peer_.endpoint);
  }
  EXPECT_LE(socket_->counters().receive_calls, 3U) << "20 datagrams should take one recvmmsg";
}

TEST_F(UdpSocketTest, ALargeBatchGoesOutInOrderInSendmmsgChunks) {
  constexpr std::size_t kCount = 200;
  std::vector<std::string> payloads;
  for (std::size_t i = 0; i < kCount; ++i) {
    payloads.push_back(std::to_string(i) + ":" + std::string(1024, 'x'));
  }
  std::vector<UdpSocket::Outgoing> batch;
  for (const std::string& payload : payloads) {
    UdpSocket::Outgoing datagram{&peer_.endpoint, {}, 1};
    datagram.parts[0] = protocol::asBytes(payload);
    batch.push_back(datagram);
  }
  socket_->send(batch);
  EXPECT_EQ(socket_->counters().send_calls,
            (kCount + UdpSocket::kSendBatch - 1) / UdpSocket::kSendBatch);
  std::size_t arrived = 0;
  bool in_order = true;
  for (int pass = 0; pass < 200 && arrived < kCount; ++pass) {
    uv_run(loop_.get(), UV_RUN_NOWAIT);
    pollfd ready{peer_.fd, POLLIN, 0};
    while (arrived < kCount && ::poll(&ready, 1, 5) == 1) {
      in_order = in_order && peer_.receive() == payloads[arrived];
      ++arrived;
    }
  }
  EXPECT_EQ(arrived, kCount);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(socket_->counters().sent, kCount);
  EXPECT_EQ(socket_->counters().send_dropped, 0U);
}

// Two sockets ready in the same wake-up of the loop's readiness set: the first one's callback
// destroys the other, whose event was already read. It must not be delivered (under ASan a
// delivery is a use after free).
TEST_F(UdpSocketTest, ASocketDestroyedInAnotherSocketsCallbackGetsNoEventItWasDueAlready) {
  struct KillOther : UdpSocketCallbacks {
    void onDatagram(UdpSocket& /*socket*/, protocol::ConstBytes /*data*/,
                    const protocol::Endpoint& /*source*/) override {
      ++calls;
      other->reset();
    }
    std::unique_ptr<UdpSocket>* other = nullptr;
    int calls = 0;
  };
  KillOther first;
  KillOther second;
  auto a = UdpSocket::open(loop_, kLoopbackAnyPort, first, {.reuse_port = false});
  auto b = UdpSocket::open(loop_, kLoopbackAnyPort, second, {.reuse_port = false});
  ASSERT_TRUE(a.has_value() && b.has_value());
  std::unique_ptr<UdpSocket> socket_a = std::move(*a);
  std::unique_ptr<UdpSocket> socket_b = std::move(*b);
  first.other = &socket_b;
  second.other = &socket_a;
  peer_.sendTo(socket_a->localEndpoint(), "to a");
  peer_.sendTo(socket_b->localEndpoint(), "to b");
  // Both datagrams are queued on loopback before the loop looks: one wake-up reports both.
  for (int pass = 0; pass < 50 && first.calls + second.calls == 0; ++pass) {
    uv_run(loop_.get(), UV_RUN_NOWAIT);
    std::this_thread::sleep_for(1ms);
  }
  for (int pass = 0; pass < 5; ++pass) {
    uv_run(loop_.get(), UV_RUN_NOWAIT);
  }
  EXPECT_EQ(first.calls + second.calls, 1);
  EXPECT_TRUE(socket_a == nullptr || socket_b == nullptr);
}

// Datagrams read in one dispatch of the readiness set, as the flush hook sees them.
struct FlushSizes {
  explicit FlushSizes(Loop& loop, Received& received) {
    loop.setFlushHook([this, &received] {
      if (!received.views.empty()) {
        sizes.push_back(received.views.size());
      }
      received.views.clear();
    });
  }
  std::vector<std::size_t> sizes;
};

// A burst waiting in the socket is read in rounds (one recvmmsg each) until the dispatch has
// read Loop::kRoundsUntil datagrams, then flushed; the rest waits for the next iteration, after
// the loop's other handles had their turn.
TEST_F(UdpSocketTest, ABurstIsReadInRoundsUpToABoundAndThenFlushed) {
  constexpr std::size_t kCount = 250;
  for (std::size_t i = 0; i < kCount; ++i) {
    peer_.sendTo(socket_->localEndpoint(), "burst " + std::to_string(i));
  }
  FlushSizes flushes(loop_, received_);
  std::size_t total = 0;
  for (int pass = 0; pass < 100 && total < kCount; ++pass) {
    uv_run(loop_.get(), UV_RUN_NOWAIT);
    total = 0;
    for (const std::size_t size : flushes.sizes) {
      total += size;
    }
  }
  ASSERT_EQ(total, kCount) << "the kernel dropped some of the burst";
  constexpr std::size_t kBatch = UdpSocket::kReceiveBatch;
  const std::size_t first = (Loop::kRoundsUntil + kBatch - 1) / kBatch * kBatch;
  ASSERT_GE(flushes.sizes.size(), 2U);
  EXPECT_EQ(flushes.sizes[0], first);
  EXPECT_EQ(flushes.sizes[1], kCount - first);
}

// A datagram that arrives while the dispatch runs (here: sent by the callback itself, so the
// socket is ready again in every round) is read in the same dispatch and flushed with the rest,
// for at most Loop::kMaxReadyRounds rounds.
TEST_F(UdpSocketTest, DatagramsArrivingDuringADispatchAreFlushedWithItUpToARoundLimit) {
  static constexpr std::size_t kLimit = 3 * Loop::kMaxReadyRounds;
  struct Echo : Received {
    void onDatagram(UdpSocket& socket, protocol::ConstBytes data,
                    const protocol::Endpoint& source) override {
      Received::onDatagram(socket, data, source);
      if (++count < kLimit) {
        peer->sendTo(socket.localEndpoint(), "again");  // loopback: ready before sendto returns
      }
    }
    const Peer* peer = nullptr;
    std::size_t count = 0;
  };
  Echo echo;
  echo.peer = &peer_;
  auto opened = UdpSocket::open(loop_, kLoopbackAnyPort, echo, {.reuse_port = false});
  ASSERT_TRUE(opened.has_value());
  const std::unique_ptr<UdpSocket> socket = std::move(*opened);
  FlushSizes flushes(loop_, echo);
  const auto before = std::chrono::steady_clock::now();
  peer_.sendTo(socket->localEndpoint(), "first");
  for (int pass = 0; pass < 100 && echo.count < kLimit; ++pass) {
    uv_run(loop_.get(), UV_RUN_NOWAIT);
  }
  ASSERT_EQ(echo.count, kLimit);
  ASSERT_GE(flushes.sizes.size(), 1U);
  EXPECT_EQ(flushes.sizes[0], Loop::kMaxReadyRounds) << "one datagram per round";
  // The time the callbacks see is the dispatch's, taken after the datagram was sent.
  EXPECT_GE(loop_.readyTime(), before);
  EXPECT_LE(loop_.readyTime(), std::chrono::steady_clock::now());
}

// The loop's readiness set keeps the loop running while a socket is watched, as a uv_poll_t
// per socket did, and not after the last one is gone.
TEST(UdpSocketLoopTest, AWatchedSocketKeepsTheLoopRunningAndTheLastOneGoneLetsItEnd) {
  // Active poll handles that keep the loop running.
  auto referencedPolls = [](Loop& loop) {
    int count = 0;
    uv_walk(
        loop.get(),
        [](uv_handle_t* handle, void* arg) {
          if (handle->type == UV_POLL && uv_is_active(handle) != 0 && uv_has_ref(handle) != 0) {
            ++*static_cast<int*>(arg);
          }
        },
        &count);
    return count;
  };
  Loop loop;
  Received received;
  EXPECT_EQ(referencedPolls(loop), 0);
  auto first = UdpSocket::open(loop, kLoopbackAnyPort, received, {.reuse_port = false});
  auto second = UdpSocket::open(loop, kLoopbackAnyPort, received, {.reuse_port = false});
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(referencedPolls(loop), 1);
  first->reset();
  EXPECT_EQ(referencedPolls(loop), 1);
  second->reset();
  EXPECT_EQ(referencedPolls(loop), 0);
  loop.closeHandles();
  EXPECT_EQ(loop.shutdown(), 0);
}

}  // namespace
}  // namespace turnpike::server::uv

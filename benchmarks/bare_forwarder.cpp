// bare_forwarder: the physical reference for compare.sh. It does a TURN relay's data-path work
// for UDP ChannelData and nothing else: no STUN, no auth, no permissions, no lifetimes. What is
// left is the floor any user-space relay pays per packet on this kernel.
//
//   client --ChannelData--> listener            (strip the 4-byte header)
//          relay socket     --payload--> peer
//   peer   --payload--> relay socket            (add the 4-byte header)
//          listener         --ChannelData--> client
//
// Setup (turn_load --bare): the client sends "TPBARE" 0x01 0x00 + peer port (16 bits, the peer is
// on 127.0.0.1) to the listener; the forwarder opens one relay UDP socket for that client on
// 127.0.0.1 (any port) and answers with the same magic + the relay socket's port. A repeated
// setup gets the same answer. One relay socket per client, as a TURN server has per allocation.
//
// Syscall pattern, the one a good user-space server uses: one thread, epoll (level-triggered);
// for each readable socket, recvmmsg up to 64 datagrams; the batch's output is then sent with
// one sendmmsg per destination socket (all replies to clients share the listener), before the
// next recvmmsg reuses the buffers. Headers go out through an iovec, the payload is not copied.
// Each relay socket is connect()ed to its one peer.
//
//   bare_forwarder --port PORT        (listens on 127.0.0.1:PORT; SIGTERM/SIGINT stop it)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "benchmarks/bare_setup.hpp"

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kMaxDatagram = 2048;
using turnpike::bench::kBareMagic;
using turnpike::bench::kBareSetupSize;
using turnpike::bench::kChannel;

constexpr std::uint64_t kListenerKey = ~std::uint64_t{0};

volatile sig_atomic_t g_stop = 0;
void onSignal(int /*signal*/) { g_stop = 1; }

sockaddr* asSockaddr(sockaddr_in* address) {
  return reinterpret_cast<sockaddr*>(
      address);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

std::uint64_t keyOf(const sockaddr_in& address) {
  return (std::uint64_t{address.sin_addr.s_addr} << 16U) | address.sin_port;
}

struct Relay {
  int fd = -1;
  sockaddr_in client{};
  std::uint16_t port = 0;
  // Output of the current receive batch: payloads to the peer.
  std::vector<mmsghdr> out;
  std::vector<iovec> out_iov;
};

// The batch's datagrams and their sources (recvmmsg into these). The headers point into the
// batch once and for all; recvmmsg only writes msg_len, msg_flags and msg_namelen.
struct Batch {
  std::array<std::array<std::uint8_t, kMaxDatagram>, kBatch> data{};
  std::array<sockaddr_in, kBatch> from{};
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> headers{};

  Batch() {
    for (std::size_t i = 0; i < kBatch; ++i) {
      iov[i] = {data[i].data(), data[i].size()};
      headers[i].msg_hdr.msg_name = &from[i];
      headers[i].msg_hdr.msg_iov = &iov[i];
      headers[i].msg_hdr.msg_iovlen = 1;
    }
  }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  int receive(int fd) {
    for (mmsghdr& header : headers) {
      header.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    return ::recvmmsg(fd, headers.data(), kBatch, MSG_DONTWAIT, nullptr);
  }
};

class Forwarder {
 public:
  explicit Forwarder(int listener) : listener_(listener), epoll_(::epoll_create1(0)) {
    watch(listener_, kListenerKey);
    relays_.reserve(20000);
  }

  void run() {
    std::array<epoll_event, 256> events{};
    while (g_stop == 0) {
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 200);
      for (int i = 0; i < n; ++i) {
        const std::uint64_t key = events[static_cast<std::size_t>(i)].data.u64;
        if (key == kListenerKey) {
          onListener();
        } else {
          onRelay(relays_[key]);
        }
      }
    }
  }

 private:
  void watch(int fd, std::uint64_t key) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = key;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
  }

  // Client -> peer: ChannelData in, payload out of the client's relay socket.
  void onListener() {
    for (;;) {
      const int n = batch_.receive(listener_);
      if (n <= 0) {
        return;
      }
      touched_.clear();
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        const std::size_t size = batch_.headers[i].msg_len;
        const std::uint8_t* data = batch_.data[i].data();
        if (size == kBareSetupSize &&
            std::memcmp(data, kBareMagic.data(), kBareMagic.size()) == 0) {
          setup(batch_.from[i], static_cast<std::uint16_t>((data[8] << 8U) | data[9]));
          continue;
        }
        const std::size_t length = (std::size_t{data[2]} << 8U) | data[3];
        if (size < 4 || (data[0] & 0xC0U) != 0x40U || length + 4 > size) {
          continue;  // not ChannelData
        }
        const auto it = clients_.find(keyOf(batch_.from[i]));
        if (it == clients_.end()) {
          continue;
        }
        Relay& relay = relays_[it->second];
        if (relay.out.empty()) {
          touched_.push_back(it->second);
        }
        relay.out_iov.push_back({batch_.data[i].data() + 4, length});
        relay.out.push_back({});
      }
      for (const std::size_t index : touched_) {
        Relay& relay = relays_[index];
        for (std::size_t k = 0; k < relay.out.size(); ++k) {
          relay.out[k].msg_hdr.msg_iov = &relay.out_iov[k];
          relay.out[k].msg_hdr.msg_iovlen = 1;
        }
        (void)::sendmmsg(relay.fd, relay.out.data(), static_cast<unsigned>(relay.out.size()), 0);
        relay.out.clear();
        relay.out_iov.clear();
      }
      if (static_cast<std::size_t>(n) < kBatch) {
        return;
      }
    }
  }

  // Peer -> client: payload in, ChannelData out of the listener.
  void onRelay(Relay& relay) {
    for (;;) {
      const int n = batch_.receive(relay.fd);
      if (n <= 0) {
        return;
      }
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        const std::size_t size = batch_.headers[i].msg_len;  // from the peer: connected
        auto& header = headers_[i];
        header = {static_cast<std::uint8_t>(kChannel >> 8U), static_cast<std::uint8_t>(kChannel),
                  static_cast<std::uint8_t>(size >> 8U), static_cast<std::uint8_t>(size)};
        reply_iov_[2 * replies_.size()] = {header.data(), header.size()};
        reply_iov_[2 * replies_.size() + 1] = {batch_.data[i].data(), size};
        replies_.push_back(&relay.client);
      }
      flushReplies();
      if (static_cast<std::size_t>(n) < kBatch) {
        return;
      }
    }
  }

  void setup(const sockaddr_in& client, std::uint16_t peer_port) {
    auto it = clients_.find(keyOf(client));
    if (it == clients_.end()) {
      Relay relay;
      relay.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      sockaddr_in local{};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t length = sizeof(local);
      if (relay.fd < 0 || ::bind(relay.fd, asSockaddr(&local), sizeof(local)) != 0 ||
          ::getsockname(relay.fd, asSockaddr(&local), &length) != 0) {
        std::fprintf(stderr, "bare_forwarder: relay socket: %s\n", std::strerror(errno));
        if (relay.fd >= 0) {
          ::close(relay.fd);
        }
        return;
      }
      relay.port = ntohs(local.sin_port);
      relay.client = client;
      sockaddr_in peer{};
      peer.sin_family = AF_INET;
      peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      peer.sin_port = htons(peer_port);
      // One peer per relay: connect() it, so each send skips the route and address lookups
      // and the kernel drops datagrams from anyone else.
      if (::connect(relay.fd, asSockaddr(&peer), sizeof(peer)) != 0) {
        std::fprintf(stderr, "bare_forwarder: connect: %s\n", std::strerror(errno));
      }
      watch(relay.fd, relays_.size());
      it = clients_.emplace(keyOf(client), relays_.size()).first;
      relays_.push_back(std::move(relay));
    }
    const Relay& relay = relays_[it->second];
    std::array<std::uint8_t, kBareSetupSize> answer{};
    std::memcpy(answer.data(), kBareMagic.data(), kBareMagic.size());
    answer[8] = static_cast<std::uint8_t>(relay.port >> 8U);
    answer[9] = static_cast<std::uint8_t>(relay.port);
    sockaddr_in to = client;
    (void)::sendto(listener_, answer.data(), answer.size(), 0, asSockaddr(&to), sizeof(to));
  }

  // One sendmmsg for every ChannelData queued to clients in this batch.
  void flushReplies() {
    if (replies_.empty()) {
      return;
    }
    for (std::size_t k = 0; k < replies_.size(); ++k) {
      reply_headers_[k] = {};
      reply_headers_[k].msg_hdr.msg_name = replies_[k];
      reply_headers_[k].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      reply_headers_[k].msg_hdr.msg_iov = &reply_iov_[2 * k];
      reply_headers_[k].msg_hdr.msg_iovlen = 2;
    }
    (void)::sendmmsg(listener_, reply_headers_.data(), static_cast<unsigned>(replies_.size()), 0);
    replies_.clear();
  }

  int listener_;
  int epoll_;
  Batch batch_;
  std::vector<Relay> relays_;
  std::unordered_map<std::uint64_t, std::size_t> clients_;
  std::vector<std::size_t> touched_;
  std::vector<sockaddr_in*> replies_;
  std::array<std::array<std::uint8_t, 4>, kBatch> headers_{};
  std::array<iovec, 2 * kBatch> reply_iov_{};
  std::array<mmsghdr, kBatch> reply_headers_{};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--port") {
    std::fprintf(stderr, "usage: bare_forwarder --port PORT\n");
    return 2;
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  const int listener = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(std::stoi(argv[2])));
  if (listener < 0 || ::bind(listener, asSockaddr(&address), sizeof(address)) != 0) {
    std::fprintf(stderr, "bare_forwarder: bind 127.0.0.1:%s: %s\n", argv[2], std::strerror(errno));
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = onSignal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  Forwarder forwarder(listener);
  forwarder.run();
  return 0;
}

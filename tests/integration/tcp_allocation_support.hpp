// Shared by the RFC 6062 integration tests (tcp_allocation_test.cpp, tcp_allocation_tls_test.cpp):
// a TCP peer on the loopback that accepts with a bounded wait, and text as bytes.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <string_view>

#include "protocol/stun/byte_io.hpp"
#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {

// A listening TCP socket on 127.0.0.1 (the peer), accepting with a bounded wait.
class TcpPeer {
 public:
  TcpPeer() : listener_(boundSocket(SOCK_STREAM, loopback(false))) {
    if (listener_.valid() && ::listen(listener_.get(), 8) == 0) {
      endpoint_ = localEndpointOf(listener_.get());
    }
  }
  [[nodiscard]] bool valid() const { return endpoint_.port != 0; }
  [[nodiscard]] const protocol::Endpoint& endpoint() const { return endpoint_; }
  // The next connection, or an invalid fd after the timeout.
  [[nodiscard]] UniqueFd accept(Millis timeout = kReplyTimeout) const {
    pollfd waiting{listener_.get(), POLLIN, 0};
    if (::poll(&waiting, 1, static_cast<int>(timeout.count())) != 1) {
      return {};
    }
    return UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK));
  }

 private:
  UniqueFd listener_;
  protocol::Endpoint endpoint_;
};

inline Bytes text(std::string_view s) {
  return {protocol::asBytes(s).begin(), protocol::asBytes(s).end()};
}

}  // namespace turnpike::test

// Shared pieces of the libuv layer: handle ownership (style.md section 4) and address
// conversion between protocol::Endpoint and sockaddr.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <expected>
#include <memory>
#include <string>

#include "protocol/stun/endpoint.hpp"

namespace turnpike::server::uv {

// A libuv error code with the call that produced it, e.g. {"bind", UV_EADDRINUSE}.
struct UvError {
  std::string what;
  int code = 0;
  [[nodiscard]] std::string toString() const;
};

// Closes a heap-allocated handle: data = nullptr, then uv_close with a callback that deletes it.
// The owning C++ object may be destroyed at once; libuv's memory lives until the callback.
template <typename Handle>
void closeAndDelete(Handle* handle) {
  if (handle == nullptr) {
    return;
  }
  auto* base = reinterpret_cast<uv_handle_t*>(handle);  // NOLINT: libuv handle "inheritance"
  base->data = nullptr;
  if (uv_is_closing(base) == 0) {
    uv_close(base, [](uv_handle_t* closed) {
      delete reinterpret_cast<Handle*>(closed);  // NOLINT
    });
  }
}

template <typename Handle>
uv_handle_t* asHandle(Handle* handle) {
  return reinterpret_cast<uv_handle_t*>(handle);  // NOLINT
}

template <typename Handle>
uv_stream_t* asStream(Handle* handle) {
  return reinterpret_cast<uv_stream_t*>(handle);  // NOLINT
}

// A sockaddr_storage as the sockaddr the socket calls take (the casts live here, not in callers).
inline sockaddr* asSockaddr(sockaddr_storage& storage) {
  return reinterpret_cast<sockaddr*>(&storage);  // NOLINT
}
inline const sockaddr* asSockaddr(const sockaddr_storage& storage) {
  return reinterpret_cast<const sockaddr*>(&storage);  // NOLINT
}

// Converts between protocol endpoints and socket addresses.
[[nodiscard]] sockaddr_storage toSockaddr(const protocol::Endpoint& endpoint);

// An outgoing TCP connection whose owner may die first: the pending request holds a copy of
// `owner` (cleared by the owner's destructor), and `done` calls takeConnectOwner() to free the
// request and learn whether the owner is still there. A libuv error code when it could not
// start (nothing is pending then).
template <typename Owner>
[[nodiscard]] int startConnect(uv_tcp_t* handle, const protocol::Endpoint& to,
                               const std::shared_ptr<Owner*>& owner, uv_connect_cb done) {
  const sockaddr_storage address = toSockaddr(to);
  auto* request = new uv_connect_t;
  request->data = new std::shared_ptr<Owner*>(owner);
  const int rc = uv_tcp_connect(request, handle, asSockaddr(address), done);
  if (rc != 0) {
    delete static_cast<std::shared_ptr<Owner*>*>(request->data);
    delete request;
  }
  return rc;
}
template <typename Owner>
[[nodiscard]] Owner* takeConnectOwner(uv_connect_t* request) {
  auto* holder = static_cast<std::shared_ptr<Owner*>*>(request->data);
  Owner* owner = **holder;
  delete holder;
  delete request;
  return owner;
}

// Writes only the bytes the family needs (per packet: no 128-byte clear); returns the length.
socklen_t writeSockaddr(const protocol::Endpoint& endpoint, sockaddr_storage& storage);
[[nodiscard]] protocol::Endpoint fromSockaddr(const sockaddr* address);
// A TCP handle's remote (`peer`) or local address; an empty endpoint (port 0) when unknown.
[[nodiscard]] protocol::Endpoint endpointOf(uv_tcp_t* handle, bool peer);

// A socket bound to endpoint. Listeners use SO_REUSEPORT, so every worker can bind the same
// listener address and the kernel spreads 5-tuples across them; relay sockets must not (each
// relay port belongs to one allocation). dont_fragment sets DF (IP_PMTUDISC_DO). Returns the fd;
// a bind failure carries the errno as a libuv code (UV_EADDRINUSE, UV_EMFILE, ...).
enum class SocketKind { kUdp, kTcp };
struct SocketOptions {
  bool reuse_port = true;
  bool dont_fragment = false;
  // SO_RCVBUF and SO_SNDBUF, when non-zero: a limit, not memory taken up front. The kernel caps
  // it at net.core.rmem_max / wmem_max.
  int buffer_bytes = 0;
};
// UDP listeners carry every client's traffic for a worker: a burst must not overflow the
// kernel's default ~208 KiB receive buffer.
inline constexpr int kListenerBufferBytes = 4 << 20;
[[nodiscard]] std::expected<int, UvError> openBoundSocket(SocketKind kind,
                                                          const protocol::Endpoint& endpoint,
                                                          SocketOptions options = {});

}  // namespace turnpike::server::uv

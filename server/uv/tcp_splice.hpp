// tls_passthrough: a client connection spliced byte for byte to a backend (a web server behind
// the same port). The splice connects to the backend without blocking (bounded by a timeout),
// writes the bytes already read from the client (its ClientHello), then copies both ways. Each
// direction stops reading its source while the other side has more than kHighWater bytes queued,
// and goes on once the queue drains below kLowWater. An EOF is passed on as a shutdown (half
// close); the splice ends when both sides have sent EOF, or at the first error.
// RFC 6062 over TLS: a TcpSpliceClientCodec turns the client's side into records (and back);
// backpressure and half close stay the splice's.
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"
#include "server/uv/handles.hpp"

namespace turnpike::server::uv {

class TcpSpliceCallbacks {
 public:
  enum class End : std::uint8_t {
    kDone,              // both sides sent EOF, or the client reset the connection
    kClientError,       // a read or write error on the client's side
    kClientCodecError,  // the client's codec failed (a bad TLS record, an alert)
    kConnectError,      // the backend refused, was unreachable or did not answer in time
    kBackendError,      // a read or write error on the backend's side (a reset)
  };
  // Called once; the callee closes the client connection (and so the splice).
  virtual void onSpliceEnd(End end) = 0;

 protected:
  ~TcpSpliceCallbacks() = default;
};

// What a splice writes to each side: a codec's output. Bytes are copied or written before the
// call returns.
class TcpSpliceOutput {
 public:
  virtual void toClient(protocol::ConstBytes bytes) = 0;
  virtual void toBackend(protocol::ConstBytes bytes) = 0;

 protected:
  ~TcpSpliceOutput() = default;
};

// The client's side of a splice when it does not carry the backend's bytes as they are (RFC 6062
// over TLS: records on the client's side, plaintext on the backend's). It keeps no loop or thread
// state of its own, so it can move with the connection.
class TcpSpliceClientCodec {
 public:
  enum class Status : std::uint8_t {
    kOk,
    kEof,    // the client ended its stream (TLS close_notify): a half close, like a FIN
    kError,  // ends the splice (kClientCodecError)
  };
  // Bytes read from the client; empty: what the codec held from before the splice.
  virtual Status fromClient(protocol::ConstBytes bytes, TcpSpliceOutput& out) = 0;
  // Bytes read from the backend; false ends the splice (kClientCodecError).
  virtual bool fromBackend(protocol::ConstBytes bytes, TcpSpliceOutput& out) = 0;
  // The backend sent EOF: the last bytes for the client before its FIN (TLS close_notify).
  virtual void backendEnded(TcpSpliceOutput& out) = 0;

 protected:
  ~TcpSpliceClientCodec() = default;
};

class TcpSplice : private TcpSpliceOutput {
 public:
  static constexpr std::size_t kBufferSize = 16384;
  static constexpr std::size_t kHighWater = 256U * 1024U;
  static constexpr std::size_t kLowWater = 64U * 1024U;

  // client: the client's handle, owned by the caller, whose data field stays the caller's;
  // its reads must be routed to clientBuffer() / onClientRead() through alloc_cb and read_cb.
  TcpSplice(uv_tcp_t* client, uv_alloc_cb alloc_cb, uv_read_cb read_cb,
            TcpSpliceCallbacks& callbacks);
  ~TcpSplice();
  TcpSplice(const TcpSplice&) = delete;
  TcpSplice& operator=(const TcpSplice&) = delete;

  // Stops reading the client, connects to backend and, once connected, writes first to it and
  // starts copying. An error here is synchronous (no callback follows).
  [[nodiscard]] std::expected<void, UvError> start(const protocol::Endpoint& backend,
                                                   std::vector<std::byte> first,
                                                   std::chrono::milliseconds connect_timeout);
  // The backend is already connected (RFC 6062: a peer connection of a TCP allocation): takes
  // ownership of its handle, writes first to it and starts copying. With a codec (borrowed; it
  // outlives the splice) the client's side goes through it, starting with what it holds.
  void startConnected(uv_tcp_t* backend, std::vector<std::byte> first,
                      TcpSpliceClientCodec* codec = nullptr);
  // Stops both directions and closes the backend socket; no callback follows.
  void stop();

  [[nodiscard]] uv_buf_t clientBuffer();
  void onClientRead(ssize_t nread);
  // Bytes moved either way since the last call: the owner's idle check.
  [[nodiscard]] bool takeActivity() { return std::exchange(activity_, false); }

  // What was read from each side since the last call (RFC 6062 accounting: a read is TCP's
  // "packet"); the first bytes handed to start*() count as one read from the client.
  struct Counts {
    std::uint64_t from_client_bytes = 0;
    std::uint64_t from_client_reads = 0;
    std::uint64_t from_backend_bytes = 0;
    std::uint64_t from_backend_reads = 0;
    std::uint64_t throttled = 0;  // times reading stopped for want of credit
  };
  [[nodiscard]] Counts takeCounts() { return std::exchange(counts_, {}); }
  // A bandwidth budget (RFC 6062 relays with limits.bandwidth_*): reads in both directions take
  // from a credit, which may go below zero by one read; once it is spent, `grant(want)` is
  // asked for more, and while it gives nothing both sides stop reading and it is asked again
  // every kThrottleRetry (the kernel's buffers and TCP's window slow the senders). Without a
  // grant (tls_passthrough) nothing is limited.
  using Grant = std::function<std::uint64_t(std::uint64_t want)>;
  static constexpr std::chrono::milliseconds kThrottleRetry{50};
  void setGrant(Grant grant);
  [[nodiscard]] bool throttled() const { return throttled_; }

 private:
  enum class Side : std::uint8_t { kClient, kBackend };
  struct Chunk;
  static void onConnect(uv_connect_t* request, int status);
  static void onConnectTimeout(uv_timer_t* timer);
  static void onBackendAlloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer);
  static void onBackendRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer);
  void connected(int status);
  void toClient(protocol::ConstBytes bytes) override { forward(Side::kClient, bytes); }
  void toBackend(protocol::ConstBytes bytes) override { forward(Side::kBackend, bytes); }
  // Bytes from the client through the codec.
  void decodeClient(protocol::ConstBytes bytes);
  // Writes data to `to`, queueing what the kernel does not take; pauses the other side's reads
  // above kHighWater.
  void forward(Side to, protocol::ConstBytes data);
  void written(Side to, std::size_t size, int status);
  void eof(Side from);
  void end(TcpSpliceCallbacks::End how);
  void resume(Side source);
  [[nodiscard]] uv_stream_t* stream(Side side) const;
  // Counts a read of `size` bytes from `from`, and takes it from the credit.
  void spend(Side from, std::size_t size);
  // Asks for credit; stops or restarts reading on both sides as it is spent or back.
  void refillCredit();
  static void onThrottleTimer(uv_timer_t* timer);
  // Starts reading `side` unless backpressure, the budget or its EOF says not to.
  void startReading(Side side);

  uv_tcp_t* client_;
  uv_alloc_cb client_alloc_;
  uv_read_cb client_read_;
  TcpSpliceCallbacks& callbacks_;
  TcpSpliceClientCodec* codec_ = nullptr;
  uv_tcp_t* backend_ = nullptr;
  uv_timer_t* connect_timer_ = nullptr;
  bool connected_ = false;
  bool stopped_ = false;
  bool activity_ = false;
  std::vector<std::byte> first_;
  std::array<std::size_t, 2> queued_{};  // bytes queued towards each side
  std::array<bool, 2> paused_{};         // reads stopped on each side (as a source)
  std::array<bool, 2> eof_{};            // each side sent EOF
  Counts counts_;
  Grant grant_;
  std::int64_t credit_ = 0;  // bytes, with a grant
  bool throttled_ = false;   // reads stopped on both sides: no credit
  uv_timer_t* throttle_timer_ = nullptr;
  std::unique_ptr<std::array<std::byte, kBufferSize>> client_buffer_;
  std::unique_ptr<std::array<std::byte, kBufferSize>> backend_buffer_;
  // Outstanding write and connect requests hold this; cleared when the splice dies.
  std::shared_ptr<TcpSplice*> self_ = std::make_shared<TcpSplice*>(this);
};

}  // namespace turnpike::server::uv

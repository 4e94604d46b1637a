// RFC 6062 over TLS: the client's side of a spliced data connection speaks TLS. Records from the
// client are decrypted for the peer; the peer's bytes are encrypted for the client, in records of
// at most 16 KiB each (OpenSSL splits a longer write at SSL3_RT_MAX_PLAIN_LENGTH). A peer's EOF
// becomes a close_notify before the FIN; the client's close_notify is a half close like its FIN
// (RFC 8446 section 6.1: it closes only the client's sending side).
//
// The codec borrows the connection's TlsSession and owns only a scratch buffer: no loop, timer or
// thread-local state, so moving a data connection to another thread moves the session and this.
#pragma once

#include <array>
#include <memory>

#include "server/uv/tcp_splice.hpp"

namespace turnpike::server::tls {
class TlsSession;
}  // namespace turnpike::server::tls

namespace turnpike::server::uv {

class TlsSpliceCodec final : public TcpSpliceClientCodec {
 public:
  // Plaintext decrypted per read call, and ciphertext copied out per call: one record's worth.
  static constexpr std::size_t kScratchSize = 16384;

  // session: handshake done, outlives the codec.
  explicit TlsSpliceCodec(tls::TlsSession& session);

  Status fromClient(protocol::ConstBytes ciphertext, TcpSpliceOutput& out) override;
  bool fromBackend(protocol::ConstBytes plaintext, TcpSpliceOutput& out) override;
  void backendEnded(TcpSpliceOutput& out) override;

 private:
  // Moves the session's pending ciphertext (records, alerts, post-handshake messages) out.
  void flush(TcpSpliceOutput& out);

  tls::TlsSession& session_;
  std::unique_ptr<std::array<std::byte, kScratchSize>> scratch_ =
      std::make_unique<std::array<std::byte, kScratchSize>>();
};

}  // namespace turnpike::server::uv

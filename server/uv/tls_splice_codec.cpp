#include "server/uv/tls_splice_codec.hpp"

#include "server/tls/tls_session.hpp"

namespace turnpike::server::uv {

TlsSpliceCodec::TlsSpliceCodec(tls::TlsSession& session) : session_(session) {}

TcpSpliceClientCodec::Status TlsSpliceCodec::fromClient(protocol::ConstBytes ciphertext,
                                                        TcpSpliceOutput& out) {
  const protocol::MutableBytes scratch = *scratch_;
  auto result = session_.receive(ciphertext);
  while (result) {
    const auto read = session_.readPlaintext(scratch);
    if (!read) {
      result = std::unexpected(read.error());
    } else if (*read == 0) {
      break;
    } else {
      out.toBackend(scratch.first(*read));
    }
  }
  flush(out);  // a KeyUpdate answer, an alert
  if (!result) {
    return result.error() == tls::TlsError::kClosed ? Status::kEof : Status::kError;
  }
  return Status::kOk;
}

bool TlsSpliceCodec::fromBackend(protocol::ConstBytes plaintext, TcpSpliceOutput& out) {
  const bool written = session_.writePlaintext(plaintext).has_value();
  flush(out);
  return written;
}

void TlsSpliceCodec::backendEnded(TcpSpliceOutput& out) {
  session_.sendCloseNotify();
  flush(out);
}

void TlsSpliceCodec::flush(TcpSpliceOutput& out) {
  session_.drainCiphertext(*scratch_, [&](protocol::ConstBytes records) {
    out.toClient(records);
    return true;
  });
}

}  // namespace turnpike::server::uv

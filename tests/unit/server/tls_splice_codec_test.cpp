// TlsSpliceCodec (RFC 6062 over TLS), with no sockets: a server TlsSession after a real
// handshake with an OpenSSL client on memory BIOs (tls_test_support.hpp), and a fake splice
// output that records what would go to each side.
#include "server/uv/tls_splice_codec.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "server/tls/tls_context.hpp"
#include "tests/unit/server/tls_test_support.hpp"

namespace turnpike::server::tls {
namespace {

using Status = uv::TcpSpliceClientCodec::Status;

class Captured final : public uv::TcpSpliceOutput {
 public:
  void toClient(ConstBytes bytes) override {
    client.insert(client.end(), bytes.begin(), bytes.end());
  }
  void toBackend(ConstBytes bytes) override {
    backend.insert(backend.end(), bytes.begin(), bytes.end());
  }
  Bytes client;
  Bytes backend;
};

class TlsSpliceCodecTest : public TlsFilesTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(files_->error.empty()) << files_->error;
    auto loaded =
        TlsContext::load({files_->files.certificate.string(), files_->files.private_key.string()});
    ASSERT_TRUE(loaded) << loaded.error();
    context_ = std::move(*loaded);
    client_context_.reset(SSL_CTX_new(TLS_client_method()));
    ASSERT_EQ(SSL_CTX_load_verify_locations(client_context_.get(),
                                            files_->files.certificate.c_str(), nullptr),
              1);
    SSL_CTX_set_verify(client_context_.get(), SSL_VERIFY_PEER, nullptr);
    server_ = std::make_unique<TlsSession>(context_->acquire().get());
    client_ = std::make_unique<Client>(client_context_.get());
    Bytes plaintext;
    ASSERT_TRUE(pump(*client_, *server_, plaintext));
    ASSERT_TRUE(server_->handshakeDone());
    ASSERT_EQ(server_->pendingCiphertext(), 0U);
    codec_ = std::make_unique<uv::TlsSpliceCodec>(*server_);
  }
  void TearDown() override { ERR_clear_error(); }

  std::shared_ptr<TlsContext> context_;
  ClientContext client_context_;
  std::unique_ptr<TlsSession> server_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<uv::TlsSpliceCodec> codec_;
  Captured out_;
};

// The TLS record headers in `stream`: {content type, length}.
std::vector<std::pair<int, std::size_t>> records(ConstBytes stream) {
  std::vector<std::pair<int, std::size_t>> found;
  while (stream.size() >= 5) {
    const std::size_t length = protocol::load16(stream, 3);
    found.emplace_back(static_cast<int>(stream[0]), length);
    if (stream.size() < 5 + length) {
      ADD_FAILURE() << "a truncated record";
      break;
    }
    stream = stream.subspan(5 + length);
  }
  EXPECT_TRUE(stream.empty());
  return found;
}

TEST_F(TlsSpliceCodecTest, A64KiBPeerReadBecomesFourRecordsOfAtMost16KiB) {
  const Bytes data = pattern(64 * 1024);
  ASSERT_TRUE(codec_->fromBackend(data, out_));
  EXPECT_TRUE(out_.backend.empty());
  const auto found = records(out_.client);
  ASSERT_EQ(found.size(), 4U);  // 65536 bytes in 4 records: 16 KiB each, no more
  for (const auto& [type, length] : found) {
    EXPECT_EQ(type, 23);               // application_data
    EXPECT_LE(length, 16384U + 256U);  // RFC 8446 section 5.2: 2^14 + 256 at most
    EXPECT_GT(length, 16384U);         // a full 16 KiB of plaintext, plus the AEAD overhead
  }
  client_->give(out_.client);
  EXPECT_EQ(client_->read(), data);
}

TEST_F(TlsSpliceCodecTest, ClientRecordsBecomePlaintextAndCloseNotifyIsAHalfClose) {
  client_->write(bytesOf("to the peer"));
  ASSERT_EQ(SSL_shutdown(client_->ssl()), 0);  // close_notify after the data
  EXPECT_EQ(codec_->fromClient(client_->takeOutput(), out_), Status::kEof);
  EXPECT_EQ(out_.backend, bytesOf("to the peer"));
  // The client closed only its sending side: the peer's bytes still reach it.
  ASSERT_TRUE(codec_->fromBackend(bytesOf("still here"), out_));
  client_->give(std::exchange(out_.client, {}));
  int last_error = 0;
  EXPECT_EQ(client_->read(&last_error), bytesOf("still here"));
  // The peer's EOF: a close_notify to the client.
  codec_->backendEnded(out_);
  client_->give(out_.client);
  EXPECT_TRUE(client_->read(&last_error).empty());
  EXPECT_EQ(last_error, SSL_ERROR_ZERO_RETURN);
}

// The peer's EOF is a close_notify for the client; the client may still send (a half close).
TEST_F(TlsSpliceCodecTest, AfterThePeersEofTheClientsBytesStillReachThePeer) {
  codec_->backendEnded(out_);
  client_->give(std::exchange(out_.client, {}));
  int last_error = 0;
  EXPECT_TRUE(client_->read(&last_error).empty());
  EXPECT_EQ(last_error, SSL_ERROR_ZERO_RETURN);
  client_->write(bytesOf("after the close_notify"));
  EXPECT_EQ(codec_->fromClient(client_->takeOutput(), out_), Status::kOk);
  EXPECT_EQ(out_.backend, bytesOf("after the close_notify"));
}

TEST_F(TlsSpliceCodecTest, RecordsTheSessionAlreadyHeldComeOutOfAnEmptyRead) {
  // What the connection read with the ConnectionBind: the session has the records, the framer
  // took only the first bytes.
  client_->write(bytesOf("ConnectionBind"));
  client_->write(bytesOf("first bytes for the peer"));
  ASSERT_TRUE(server_->receive(client_->takeOutput()));
  std::array<std::byte, 14> framer{};
  ASSERT_EQ(server_->readPlaintext(framer), framer.size());
  EXPECT_EQ(codec_->fromClient({}, out_), Status::kOk);
  EXPECT_EQ(out_.backend, bytesOf("first bytes for the peer"));
}

TEST_F(TlsSpliceCodecTest, ABadRecordIsAnErrorWithAnAlertForTheClient) {
  client_->write(bytesOf("hello"));
  Bytes record = client_->takeOutput();
  record.back() ^= std::byte{0x01};  // breaks the AEAD tag
  EXPECT_EQ(codec_->fromClient(record, out_), Status::kError);
  EXPECT_TRUE(out_.backend.empty());
  EXPECT_FALSE(out_.client.empty()) << "no bad_record_mac alert";
  EXPECT_FALSE(codec_->fromBackend(bytesOf("x"), out_));
}

}  // namespace
}  // namespace turnpike::server::tls

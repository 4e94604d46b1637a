// A minimal TURN client (RFC 8656) for the integration tests, over a UDP socket or a TCP
// connection to the server: the 401 -> authenticated Allocate dance (RFC 8489 section 9.2, MD5
// long-term key), Refresh, CreatePermission, ChannelBind, Send indications and ChannelData.
// Every wait is bounded. Data indications and ChannelData that arrive while a request waits for
// its response are queued for receiveData().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "auth/long_term_key.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/stun/types.hpp"
#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {

// A STUN response, kept as bytes; message() parses it on demand (the Message views `bytes`).
struct TurnResponse {
  Bytes bytes;
  std::uint16_t type = 0;
  std::uint16_t code = 0;  // ERROR-CODE of an error response; 0 for a success response

  [[nodiscard]] bool isSuccess() const;
  [[nodiscard]] std::optional<protocol::Message> message() const;
  [[nodiscard]] std::optional<std::string> text(std::uint16_t attribute) const;
  [[nodiscard]] std::optional<std::uint32_t> u32(std::uint16_t attribute) const;
  [[nodiscard]] std::optional<protocol::Endpoint> xorAddress(std::uint16_t attribute) const;
  // A plain address attribute (ALTERNATE-SERVER, MAPPED-ADDRESS).
  [[nodiscard]] std::optional<protocol::Endpoint> address(std::uint16_t attribute) const;
  [[nodiscard]] bool has(std::uint16_t attribute) const;
};

// Relayed data that reached the client: a Data indication or a ChannelData message.
struct DataFrame {
  enum class Kind : std::uint8_t { kDataIndication, kChannelData };
  Kind kind = Kind::kDataIndication;
  std::uint16_t channel = 0;  // ChannelData
  protocol::Endpoint peer;    // Data indication: XOR-PEER-ADDRESS
  Bytes payload;              // DATA, or the ChannelData application data
  std::size_t wire_size = 0;  // bytes read for the frame (with any stream padding)
};

struct TurnCredentials {
  std::string username;
  std::string password;
};

enum class TurnTransport : std::uint8_t { kUdp, kTcp };

// A stream the test set up itself (a TLS session, a connection that began with a PROXY
// header): TurnClient frames its messages over these instead of its own socket.
struct StreamIo {
  std::function<bool(protocol::ConstBytes)> send;
  // Exactly n bytes, or nullopt after the timeout, a close or an error.
  std::function<std::optional<Bytes>(std::size_t n, Millis timeout)> receive;
};

class TurnClient {
 public:
  TurnClient(const protocol::Endpoint& server, TurnTransport transport,
             TurnCredentials credentials);
  // A stream client (transport() kTcp) over `io`.
  TurnClient(const protocol::Endpoint& server, StreamIo io, TurnCredentials credentials);

  [[nodiscard]] bool connected() const { return fd_.valid() || io_.send != nullptr; }
  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] TurnTransport transport() const { return transport_; }

  // Sends a request and waits for the response with its transaction ID. Other STUN responses
  // are dropped; relayed data is queued for receiveData().
  [[nodiscard]] std::optional<TurnResponse> exchange(const Bytes& request,
                                                     Millis timeout = kReplyTimeout);

  // A request of `method` with `add`'s attributes and then USERNAME, REALM, NONCE (the last ones
  // learned) and MESSAGE-INTEGRITY. No retry on 438.
  [[nodiscard]] std::optional<TurnResponse> authenticatedRequest(
      protocol::Method method, const std::function<void(protocol::MessageBuilder&)>& add = {});

  // An unauthenticated Allocate; REALM and NONCE of a 401 answer are kept for later requests.
  [[nodiscard]] std::optional<TurnResponse> challenge();
  // Allocate (REQUESTED-TRANSPORT UDP): unauthenticated first (when no nonce is known yet), then
  // with the credentials from the 401 challenge, once more after a 438. The last response; on
  // success relayed() is set. lifetime 0 sends no LIFETIME.
  [[nodiscard]] std::optional<TurnResponse> allocate(std::uint32_t lifetime = 0);
  // RFC 8016: Allocate with an empty MOBILITY-TICKET (the answer carries the ticket), and
  // Refresh with a ticket (from a new 5-tuple: moves the allocation here). Both retry once after
  // a 438; the Refresh learns REALM and NONCE first when it has none.
  [[nodiscard]] std::optional<TurnResponse> allocateWithTicket();
  [[nodiscard]] std::optional<TurnResponse> refreshWithTicket(protocol::ConstBytes ticket);
  // Refresh with LIFETIME (none when nullopt); CreatePermission and ChannelBind for a peer.
  // Each retries once after a 438 with the new NONCE.
  [[nodiscard]] std::optional<TurnResponse> refresh(std::optional<std::uint32_t> lifetime);
  [[nodiscard]] std::optional<TurnResponse> createPermission(const protocol::Endpoint& peer);
  [[nodiscard]] std::optional<TurnResponse> channelBind(std::uint16_t channel,
                                                        const protocol::Endpoint& peer);

  // A UDP client that changes network (RFC 8016): a new socket from `local` (port 0: a new
  // ephemeral port); realm, nonce and relayed() are kept. False when the socket failed.
  bool moveTo(const protocol::Endpoint& local);

  bool sendIndication(const protocol::Endpoint& peer, protocol::ConstBytes payload);
  // ChannelData, padded to a multiple of 4 over TCP (RFC 8656 section 12.5).
  bool sendChannelData(std::uint16_t channel, protocol::ConstBytes payload);

  // The next relayed frame (queued ones first), or nullopt after timeout.
  [[nodiscard]] std::optional<DataFrame> receiveData(Millis timeout = kReplyTimeout);
  // True when no relayed frame arrives for `window`.
  [[nodiscard]] bool noData(Millis window = kNoReplyWindow);

  [[nodiscard]] const std::optional<protocol::Endpoint>& relayed() const { return relayed_; }
  [[nodiscard]] const std::string& realm() const { return realm_; }
  [[nodiscard]] const std::string& nonce() const { return nonce_; }
  // Replaces the nonce sent with the next authenticated request (stale/garbage nonce tests).
  void setNonce(std::string nonce) { nonce_ = std::move(nonce); }
  // The MD5 long-term key for the credentials and the learned realm.
  [[nodiscard]] auth::Md5Key key() const;

 private:
  // One frame from the socket: a datagram, or one STUN message / ChannelData from the stream.
  struct Frame {
    Bytes bytes;
    std::size_t wire_size = 0;
  };
  [[nodiscard]] std::optional<Frame> readFrame(Millis timeout);
  [[nodiscard]] std::optional<Bytes> receiveExactly(std::size_t n, Millis timeout);
  bool sendFrame(protocol::ConstBytes bytes);
  // Queues a relayed frame; false when the frame is neither relayed data nor parseable.
  bool queueData(const Frame& frame);
  // Learns REALM and NONCE from a 401 or 438 answer.
  void learnChallenge(const TurnResponse& response);
  [[nodiscard]] std::optional<TurnResponse> withNonceRetry(
      protocol::Method method, const std::function<void(protocol::MessageBuilder&)>& add);

  protocol::Endpoint server_;
  TurnTransport transport_;
  TurnCredentials credentials_;
  UniqueFd fd_;
  StreamIo io_;  // set: a stream the test owns (fd_ is unused)
  std::string realm_;
  std::string nonce_;
  std::optional<protocol::Endpoint> relayed_;
  std::deque<DataFrame> data_;
};

// A UDP socket on 127.0.0.1 standing in for a TURN peer.
class UdpPeer {
 public:
  UdpPeer();
  [[nodiscard]] bool valid() const { return fd_.valid(); }
  [[nodiscard]] const protocol::Endpoint& endpoint() const { return endpoint_; }
  bool sendTo(const protocol::Endpoint& to, protocol::ConstBytes data) const {
    return sendUdpTo(fd_.get(), to, data);
  }
  [[nodiscard]] std::optional<ReceivedDatagram> receive(Millis timeout = kReplyTimeout) const {
    return recvUdpFrom(fd_.get(), timeout);
  }
  [[nodiscard]] bool nothingArrives(Millis window = kNoReplyWindow) const {
    return !receive(window).has_value();
  }

 private:
  UniqueFd fd_;
  protocol::Endpoint endpoint_;
};

// Bytes 0, 1, 2, ... (mod 251) of length n: a payload whose every byte position is checkable.
[[nodiscard]] Bytes patternPayload(std::size_t n, std::uint8_t seed = 0);

}  // namespace turnpike::test

// `turnpike selftest`: a TURN client over one Connection (RFC 8656), built on the project's codec
// (MessageBuilder, Message, integrity, ChannelData). Every request is bounded by the timeout; over
// UDP it is retransmitted (RFC 8489 section 6.2.1: RTO 500 ms, doubling) until the timeout.
// Failures come back as one line for the operator (diagnosis.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "protocol/stun/builder.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/types.hpp"
#include "server/selftest/connection.hpp"
#include "server/selftest/diagnosis.hpp"

namespace turnpike::server::selftest {

struct Credentials {
  std::string username;
  std::string password;
  AuthMode mode = AuthMode::kSecret;
};

struct Allocation {
  protocol::Endpoint relayed{};  // XOR-RELAYED-ADDRESS
  protocol::Endpoint mapped{};   // XOR-MAPPED-ADDRESS of the Allocate answer
  std::uint32_t lifetime = 0;
};

class TurnSession {
 public:
  // connection must outlive the session.
  TurnSession(Connection& connection, const protocol::Endpoint& server, Credentials credentials,
              std::chrono::milliseconds timeout);

  // Binding: the XOR-MAPPED-ADDRESS (RFC 8489 section 14.2).
  [[nodiscard]] std::expected<protocol::Endpoint, std::string> binding();
  // Allocate for UDP relaying: unauthenticated first, then with the credentials of the 401
  // challenge (RFC 8489 section 9.2.4), once more after a 438 Stale Nonce. An IPv6 relay is
  // asked for with REQUESTED-ADDRESS-FAMILY (RFC 8656 section 7.1; IPv4 is the default).
  [[nodiscard]] std::expected<Allocation, std::string> allocate(protocol::AddressFamily family);
  [[nodiscard]] std::expected<void, std::string> createPermission(const protocol::Endpoint& peer);
  [[nodiscard]] std::expected<void, std::string> channelBind(std::uint16_t channel,
                                                             const protocol::Endpoint& peer);
  // Refresh with LIFETIME 0: deletes the allocation (RFC 8656 section 7.2).
  [[nodiscard]] std::expected<void, std::string> free();

  // ChannelData, padded over TCP/TLS (RFC 8656 section 12.5).
  [[nodiscard]] std::expected<void, std::string> sendChannelData(std::uint16_t channel,
                                                                 protocol::ConstBytes payload);
  // Waits for relayed data (ChannelData or a Data indication) equal to payload; other relayed
  // data is dropped. False after the deadline.
  [[nodiscard]] bool awaitData(protocol::ConstBytes payload, Clock::time_point deadline);

  // The message for an I/O failure on this session's transport.
  [[nodiscard]] std::string describe(const IoError& error) const;

 private:
  using AddAttributes = std::function<void(protocol::MessageBuilder&)>;
  // A response to one of our requests: its bytes, and the ERROR-CODE of an error response.
  struct Response {
    Bytes bytes;
    std::uint16_t code = 0;  // 0: a success response
    std::string reason;
    std::optional<protocol::Endpoint> alternate_server;
  };

  [[nodiscard]] std::expected<Response, std::string> exchange(protocol::Method method,
                                                              const AddAttributes& add,
                                                              bool authenticate);
  // An authenticated request, learning the nonce first when needed and retrying once on 438.
  // Error responses are turned into messages; `peer` names the peer in them.
  [[nodiscard]] std::expected<Response, std::string> request(
      protocol::Method method, const AddAttributes& add,
      std::optional<protocol::Endpoint> peer = std::nullopt);
  // Relayed data in a frame from the server: queued; true if it was relayed data.
  bool queueData(const Bytes& frame);

  Connection& connection_;
  protocol::Endpoint server_;
  Credentials credentials_;
  std::chrono::milliseconds timeout_;
  std::string realm_;
  std::string nonce_;
  std::deque<Bytes> data_;
};

// A Binding request from the peer socket to the server's UDP port: the peer's address as the
// server (and so the relay) sees it. nullopt when no answer comes within the timeout.
[[nodiscard]] std::optional<protocol::Endpoint> peerMappedAddress(
    const PeerSocket& peer, const protocol::Endpoint& server, std::chrono::milliseconds timeout);

}  // namespace turnpike::server::selftest

// Many TURN clients over UDP at once, for the soak, flood and crash tests: one socket (one
// 5-tuple, so one allocation) per client, requests pipelined over all of them with poll() and
// retransmitted as RFC 8489 section 6.2.1 asks (RTO doubling from 250 ms). TurnClient does one
// request at a time and never retransmits; this does thousands at once.
//
// The nonce is learned once (challenge()) and shared: turnpike's nonces are bound to the client
// IP address, not the port, so every socket of the swarm may use it. A 438 renews it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tests/integration/turn_client.hpp"

namespace turnpike::test {

class UdpSwarm {
 public:
  using Adder = std::function<void(std::size_t index, protocol::MessageBuilder&)>;

  // Clients of `server` with `credentials`, their sockets bound to `source` (a loopback
  // address; 127.0.0.0/8 is all loopback on Linux).
  UdpSwarm(const protocol::Endpoint& server, TurnCredentials credentials,
           protocol::IpAddress source);

  // Opens `count` more sockets, each connected to the server; false when one cannot be opened.
  [[nodiscard]] bool open(std::size_t count);
  [[nodiscard]] std::size_t size() const { return clients_.size(); }
  // Closes every socket at once, without a word to the server (the clients vanish).
  void closeAll() { clients_.clear(); }
  [[nodiscard]] int fd(std::size_t index) const { return clients_[index].fd.get(); }
  [[nodiscard]] const std::optional<protocol::Endpoint>& relayed(std::size_t index) const {
    return clients_[index].relayed;
  }

  // One unauthenticated Allocate (retransmitted) whose 401 gives REALM and NONCE.
  [[nodiscard]] bool challenge(Millis timeout = 5000ms);

  // An authenticated request of `method` from each client in `which` (attributes from `add`,
  // then USERNAME, REALM, NONCE, MESSAGE-INTEGRITY), at most `window` in flight. The response of
  // each, in the order of `which`; nullopt when none came within `timeout` (for the whole
  // batch) or after the last retransmission.
  [[nodiscard]] std::vector<std::optional<TurnResponse>> transact(
      std::span<const std::size_t> which, protocol::Method method, const Adder& add,
      Millis timeout);

  // Allocate (REQUESTED-TRANSPORT UDP, LIFETIME when non-zero); records the relayed addresses.
  // The number that succeeded.
  std::size_t allocate(std::span<const std::size_t> which, std::uint32_t lifetime, Millis timeout);
  // Refresh with LIFETIME 0. Counted as released: success, or 437 to a retransmission (the
  // first transmission deleted the allocation and its answer was lost).
  std::size_t release(std::span<const std::size_t> which, Millis timeout);
  // ChannelBind `channel` to `peer` for each; the number that succeeded.
  std::size_t channelBind(std::span<const std::size_t> which, std::uint16_t channel,
                          const protocol::Endpoint& peer, Millis timeout);

  // Each client in `which` (with `channel` bound to `peer`, a socket the caller owns) sends one
  // ChannelData naming itself; the peer must receive each from that client's relayed address
  // and answers it; the client must receive the answer on the channel. Runs in groups so that
  // no socket buffer overflows. The number of complete, byte-identical round trips.
  std::size_t roundTrips(std::span<const std::size_t> which, std::uint16_t channel, int peer_fd,
                         Millis timeout);

  // How the last transact() (allocate, release, channelBind) went: "N ok, N error 508, N no
  // answer", for failure messages.
  [[nodiscard]] const std::string& lastOutcome() const { return last_outcome_; }
  // Transmissions after the first, over all requests so far (a measure of loss).
  [[nodiscard]] std::uint64_t retransmissions() const { return retransmissions_; }

  // 0, 1, ..., n - 1 from `begin`.
  [[nodiscard]] static std::vector<std::size_t> indices(std::size_t begin, std::size_t end);

  static constexpr std::size_t kWindow = 128;
  static constexpr Millis kInitialRto{250};
  static constexpr int kMaxTransmissions = 7;  // RFC 8489 Rc

 private:
  struct Client {
    UniqueFd fd;
    std::optional<protocol::Endpoint> relayed;
  };
  [[nodiscard]] Bytes request(std::size_t index, protocol::Method method, const Adder& add,
                              protocol::TransactionId& id) const;

  protocol::Endpoint server_;
  TurnCredentials credentials_;
  protocol::IpAddress source_;
  std::vector<Client> clients_;
  std::string realm_;
  std::string nonce_;
  std::uint64_t retransmissions_ = 0;
  std::string last_outcome_;
};

}  // namespace turnpike::test

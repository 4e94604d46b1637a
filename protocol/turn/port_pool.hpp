// The relay ports of every relay address, shared by every worker's core (issue 7: "one socket,
// bound from a pre-shuffled port list"). Per address, the free ports wait in one queue, shuffled
// once at start; a port handed back goes to the end, so it is the last to be reused. A port is
// handed to one core at a time, so a bind fails only when another process holds the port, and
// Allocate gets 508 only when the range really is used up.
//
// Thread-safe: one short lock per Allocate and per released port, none per packet.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "protocol/stun/endpoint.hpp"
#include "protocol/turn/core_types.hpp"

namespace turnpike::protocol {

class PortPool {
 public:
  // Every port from `port_min` to `port_max` of each address is free, in a random order.
  PortPool(std::vector<IpAddress> addresses, std::uint16_t port_min, std::uint16_t port_max,
           RandomSource& random);

  // The next free port of addresses()[address], now taken; none when every port is taken.
  [[nodiscard]] std::optional<std::uint16_t> take(std::size_t address);
  // EVEN-PORT: a free even port N, taken; with `pair`, N + 1 is free and taken too (RFC 8656
  // section 7.2, R bit). Prefers the queue's order; none when no such port is left.
  [[nodiscard]] std::optional<std::uint16_t> takeEven(std::size_t address, bool pair);
  // Hands a taken port back (to the end of the queue). Unknown addresses and free ports are
  // ignored.
  void give(const Endpoint& local);
  void give(std::size_t address, std::uint16_t port);

  [[nodiscard]] const std::vector<IpAddress>& addresses() const { return addresses_; }
  [[nodiscard]] std::size_t freeCount(std::size_t address) const;

 private:
  struct Ports {
    std::deque<std::uint16_t> queue;  // free ports in hand-out order; may hold stale entries
    std::vector<bool> free;           // by port - port_min
    std::size_t free_count = 0;
  };
  [[nodiscard]] bool isFree(const Ports& ports, std::uint32_t port) const;
  void markTaken(Ports& ports, std::uint32_t port);

  std::vector<IpAddress> addresses_;
  std::uint16_t port_min_;
  std::uint16_t port_max_;
  mutable std::mutex mutex_;
  std::vector<Ports> ports_;  // by address
};

}  // namespace turnpike::protocol

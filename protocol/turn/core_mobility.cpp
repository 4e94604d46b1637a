// RFC 8016 (Mobility with TURN): MOBILITY-TICKET minting and moving an allocation to the
// 5-tuple of a Refresh that carries one.
//
//   ticket = allocation id (8 bytes) || expiry, unix seconds (8 bytes)
//            || HMAC-SHA256(key, id || expiry || username) (32 bytes)
//
// The key (CoreConfig::mobility_key) is random at start, so tickets are unforgeable and bound to
// the allocation and its username. The id's top byte is the worker that holds the allocation
// (ticketWorker); the server forwards a Refresh that reaches another worker there.
#include <openssl/crypto.h>

#include <algorithm>

#include "auth/hmac.hpp"
#include "protocol/stun/byte_io.hpp"
#include "protocol/turn/core.hpp"

namespace turnpike::protocol {

namespace {

auth::HmacSha256 ticketMac(std::span<const std::byte, 32> key, ConstBytes id_and_expiry,
                           std::string_view username) {
  return auth::hmacSha256(key, {id_and_expiry, asBytes(username)});
}

}  // namespace

std::optional<std::size_t> Core::ticketWorker(ConstBytes ticket) {
  if (ticket.size() != kTicketSize) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(load64(ticket, 0) >> kWorkerShift);
}

std::array<std::byte, Core::kTicketSize> Core::mintTicket(const Allocation& allocation,
                                                          std::int64_t unix_now) const {
  std::array<std::byte, kTicketSize> ticket{};
  store64(ticket, 0, allocation.id);
  // Good for as long as the allocation could live without another Refresh (each Refresh that
  // carries a ticket gets a fresh one).
  store64(ticket, 8, static_cast<std::uint64_t>(unix_now + config_.max_lifetime.count()));
  const auto mac =
      ticketMac(*config_.mobility_key, std::span(ticket).first(16), allocation.username);
  std::ranges::copy(mac, ticket.begin() + 16);
  return ticket;
}

std::expected<Allocation*, TurnError> Core::moveByTicket(Request& request, ConstBytes ticket) {
  // RFC 8016 section 3.2 (server receiving a Refresh with MOBILITY-TICKET from a 5-tuple with
  // no allocation): a ticket that does not validate is 400, an allocation that is gone is 437,
  // another username than the allocation's is 441.
  if (ticket.size() != kTicketSize) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  const auto it = allocations_.find(load64(ticket, 0));
  if (it == allocations_.end()) {
    return std::unexpected(TurnError{error::kAllocationMismatch});
  }
  Allocation& allocation = *it->second;
  const auto mac = ticketMac(*config_.mobility_key, ticket.first(16), allocation.username);
  if (CRYPTO_memcmp(mac.data(), ticket.subspan(16).data(), mac.size()) != 0) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  if (static_cast<std::int64_t>(load64(ticket, 8)) < request.unix_now) {
    return std::unexpected(TurnError{error::kBadRequest});  // expired ticket
  }
  if (request.auth.username != allocation.username) {
    return std::unexpected(TurnError{error::kWrongCredentials});
  }
  // UDP only: a TCP/TLS allocation ends with its connection (RFC 8656 section 3.1), and its
  // 5-tuple index (by_connection_) is not moved here.
  if (allocation.source.transport != ClientTransport::kUdp ||
      request.source.transport != ClientTransport::kUdp) {
    return std::unexpected(TurnError{error::kMobilityForbidden});
  }
  // The Refresh's own check first: one that is refused must not have moved the allocation.
  if (!refreshFitsAllocation(request.message, allocation)) {
    return std::unexpected(TurnError{error::kPeerAddressFamilyMismatch});
  }
  // allocations_per_client_ip counts the allocation against its client's address: move it.
  const IpAddress old_ip = allocation.source.client.address;
  const IpAddress& new_ip = request.source.client.address;
  if (old_ip != new_ip) {
    // Only the per-address count moves (a user at allocations_per_user can still move); 486
    // when the new address is full, and the allocation stays where it is.
    const QuotaVerdict verdict = deps_.quota.move(allocation.user, old_ip, new_ip);
    if (verdict != QuotaVerdict::kOk) {
      stats_.quota_rejected.add();
      if (verdict == QuotaVerdict::kClientIpLimit) {
        stats_.allocations_per_client_ip_rejected.add();
      }
      return std::unexpected(TurnError{error::kAllocationQuotaReached});
    }
  }
  // The fast path's routes are keyed by the client 5-tuple: down with the old one, up with the
  // new one.
  dropRoutes(allocation);
  const Endpoint from = allocation.source.client;
  by_source_.erase(allocation.source);
  allocation.source = request.source;
  by_source_.emplace(request.source, &allocation);
  syncRoutes(allocation, request.now);
  stats_.mobility_moves.add();
  if (deps_.events != nullptr) {
    deps_.events->onAllocationMoved(allocation, from);
  }
  return &allocation;
}

}  // namespace turnpike::protocol

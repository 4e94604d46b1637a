// Allocate and the allocation lifecycle: relay ports, reservations, lifetimes, deadlines.
#include <algorithm>

#include "protocol/turn/core.hpp"

namespace turnpike::protocol {
namespace {

// Random port picks before giving up with 508 (ports held by other processes are skipped).
constexpr int kPortAttempts = 64;
// RFC 8656 section 7.2: a reserved port is held about 30 seconds.
constexpr Seconds kReservationLifetime{30};

std::size_t familyIndex(const Allocation& allocation) {
  return !allocation.legs.empty() && allocation.legs.front().relayed.address.isV6() ? 1 : 0;
}

}  // namespace

Seconds Core::grantedLifetime(const Message& message) const {
  // RFC 8656 sections 7.2 and 7.3: min(requested, maximum) when above the default, else the
  // default; a requested 0 (Refresh) stays 0.
  const RawAttribute* lifetime = message.find(attr::kLifetime);
  if (lifetime == nullptr) {
    return config_.default_lifetime;
  }
  const auto requested = decodeU32(message.value(*lifetime));
  if (!requested) {
    return config_.default_lifetime;
  }
  if (*requested == 0) {
    return Seconds{0};
  }
  const Seconds capped = std::min(Seconds{*requested}, config_.max_lifetime);
  return std::max(capped, config_.default_lifetime);
}

std::expected<SocketRef, RelayOpenError> Core::bindRelay(std::size_t address_index,
                                                         std::uint16_t port, std::uint64_t tag,
                                                         bool dont_fragment, bool tcp) {
  const Endpoint local{config_.relay_addresses[address_index].local, port};
  auto socket =
      tcp ? deps_.relays.openTcp(local, tag) : deps_.relays.open(local, tag, dont_fragment);
  if (socket) {
    stats_.relay_ports_in_use.add();
  }
  return socket;
}

std::expected<Core::OpenedLegs, std::uint16_t> Core::openLeg(AddressFamily family,
                                                             std::uint64_t tag, bool even,
                                                             bool dont_fragment, bool reserve_next,
                                                             bool tcp) {
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < config_.relay_addresses.size(); ++i) {
    if (config_.relay_addresses[i].local.family() == family) {
      candidates.push_back(i);
    }
  }
  if (candidates.empty()) {
    return std::unexpected(error::kAddressFamilyNotSupported);
  }
  const bool pair = reserve_next;  // EVEN-PORT with R: N and N + 1 (RFC 8656 section 7.2)
  // The pool hands out a port no other core holds; a bind still fails when another process
  // holds it (often a client's ephemeral port): that port goes to the back, and the next one is
  // tried. An address whose ports are all taken drops out.
  for (int attempt = 0; attempt < kPortAttempts && !candidates.empty(); ++attempt) {
    const std::size_t pick = deps_.random.next() % candidates.size();
    const std::size_t index = candidates[pick];
    const auto taken = even || pair ? ports_->takeEven(index, pair) : ports_->take(index);
    if (!taken) {
      candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(pick));
      continue;
    }
    const std::uint16_t port16 = *taken;
    const auto next16 = static_cast<std::uint16_t>(port16 + 1);
    auto socket = bindRelay(index, port16, tag, dont_fragment, tcp);
    if (!socket) {
      ports_->give(index, port16);
      if (pair) {
        ports_->give(index, next16);
      }
      if (socket.error() == RelayOpenError::kAddressInUse) {
        continue;
      }
      return std::unexpected(error::kInsufficientCapacity);
    }
    const RelayAddress& address = config_.relay_addresses[index];
    OpenedLegs opened{RelayLeg{*socket, {address.local, port16}, {address.advertised, port16}},
                      std::nullopt};
    if (pair) {
      // N + 1 stays taken in the pool while it is reserved; the reservation store hands it back
      // when the reservation expires, closeLeg when the allocation that adopted it ends.
      const Endpoint next_local{address.local, next16};
      auto next = deps_.relays.reserve(next_local);
      if (!next) {
        closeLeg(opened.leg);  // N + 1 is held by another process: look for another pair
        ports_->give(index, next16);
        if (next.error() == RelayOpenError::kAddressInUse) {
          continue;
        }
        return std::unexpected(error::kInsufficientCapacity);
      }
      opened.reserved = ReservedPort{*next, next_local, {address.advertised, next16}, {}};
    }
    return opened;
  }
  return std::unexpected(error::kInsufficientCapacity);
}

void Core::closeLeg(const RelayLeg& leg) {
  deps_.relays.close(leg.socket);
  ports_->give(leg.local);
  stats_.relay_ports_in_use.sub();
}

namespace {

// What an Allocate request asks for, validated (RFC 8656 section 7.2 steps 3-8).
struct AllocateOptions {
  AddressFamily family = AddressFamily::kIpv4;
  bool dual = false;  // ADDITIONAL-ADDRESS-FAMILY IPv6
  bool even = false;
  bool reserve_next = false;
  bool dont_fragment = false;
  bool tcp = false;  // RFC 6062
  std::optional<std::uint64_t> token;
};

// 3. REQUESTED-TRANSPORT must be present: UDP, or TCP (RFC 6062 section 5.1) with
// tcp_allocations on. A TCP allocation needs a TCP or TLS control connection (400 over UDP or
// DTLS). A TCP allocation takes no DONT-FRAGMENT, EVEN-PORT or RESERVATION-TOKEN (400), and here
// no second address family either.
std::expected<AllocateOptions, TurnError> parseAllocateOptions(const Message& message,
                                                               bool tcp_allocations,
                                                               ClientTransport control) {
  const RawAttribute* transport = message.find(attr::kRequestedTransport);
  if (transport == nullptr) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  auto protocol = decodeRequestedTransport(message.value(*transport));
  const bool wants_tcp = protocol && *protocol == kProtocolTcp && tcp_allocations;
  if (wants_tcp && (control == ClientTransport::kUdp || control == ClientTransport::kDtls)) {
    return std::unexpected(TurnError{error::kBadRequest});  // RFC 6062 section 5.1
  }
  const bool tcp = wants_tcp && isStream(control);
  if (!protocol || (*protocol != kProtocolUdp && !tcp)) {
    return std::unexpected(TurnError{error::kUnsupportedTransportProtocol});
  }
  if (tcp &&
      (message.has(attr::kDontFragment) || message.has(attr::kEvenPort) ||
       message.has(attr::kReservationToken) || message.has(attr::kAdditionalAddressFamily))) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  AllocateOptions options;
  options.tcp = tcp;
  // 4. DONT-FRAGMENT is honoured: relay sockets then set DF.
  options.dont_fragment = message.has(attr::kDontFragment);
  // 5-6 and 8. RESERVATION-TOKEN excludes EVEN-PORT, REQUESTED-ADDRESS-FAMILY and a dual
  // allocation; REQUESTED- and ADDITIONAL-ADDRESS-FAMILY exclude each other.
  const RawAttribute* token = message.find(attr::kReservationToken);
  const RawAttribute* even_port = message.find(attr::kEvenPort);
  const RawAttribute* requested_family = message.find(attr::kRequestedAddressFamily);
  const RawAttribute* additional_family = message.find(attr::kAdditionalAddressFamily);
  if ((token != nullptr &&
       (even_port != nullptr || requested_family != nullptr || additional_family != nullptr)) ||
      (requested_family != nullptr && additional_family != nullptr)) {
    return std::unexpected(TurnError{error::kBadRequest});
  }
  if (requested_family != nullptr) {
    auto decoded = decodeAddressFamily(message.value(*requested_family));
    if (!decoded) {
      return std::unexpected(TurnError{error::kAddressFamilyNotSupported});
    }
    options.family = *decoded;
  }
  if (additional_family != nullptr) {
    // ADDITIONAL-ADDRESS-FAMILY may only ask for IPv6.
    auto decoded = decodeAddressFamily(message.value(*additional_family));
    if (!decoded || *decoded != AddressFamily::kIpv6) {
      return std::unexpected(TurnError{error::kBadRequest});
    }
    options.dual = true;
  }
  if (even_port != nullptr) {
    auto r_bit = decodeEvenPort(message.value(*even_port));
    if (!r_bit || (*r_bit && options.dual)) {
      return std::unexpected(TurnError{error::kBadRequest});
    }
    options.even = true;
    options.reserve_next = *r_bit;
  }
  if (token != nullptr) {
    // The parser checked its length (8 bytes); whether it is valid is the store's answer.
    std::uint64_t key = 0;
    for (const std::byte b : message.value(*token)) {
      key = (key << 8U) | std::to_integer<std::uint64_t>(b);
    }
    options.token = key;
  }
  return options;
}

}  // namespace

std::expected<Core::AllocateReply, TurnError> Core::allocate(Request& request) {
  const Message& message = request.message;
  // RFC 8656 section 7.2, after authentication:
  // 2. A 5-tuple already in use (retransmissions were answered from the cache): 437.
  if (by_source_.contains(request.source)) {
    return std::unexpected(TurnError{error::kAllocationMismatch});
  }
  // Draining (SIGTERM): no new allocations here; 300 names another server (RFC 8656 7.2), or
  // 403 without one of the client's family.
  if (draining_) {
    return std::unexpected(redirect(RedirectReason::kDraining, alternates_, request.source)
                               .value_or(TurnError{error::kForbidden}));
  }
  // Fleet (cluster.redirect_above): past a load threshold, new allocations go to another node.
  // Without an alternate of the client's family this node serves the request itself.
  if (deps_.load != nullptr && !config_.cluster.servers.empty() && deps_.load->overloaded()) {
    if (auto error = redirect(RedirectReason::kLoad, config_.cluster.servers, request.source)) {
      return std::unexpected(*error);
    }
  }
  // TCP allocations over TCP or TLS control connections (RFC 6062 section 5.1).
  auto parsed = parseAllocateOptions(message, config_.tcp_allocations, request.source.transport);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  const AllocateOptions& options = *parsed;
  // Quotas (486 per user, 508 server-wide).
  const std::string& user = request.auth.credential.user;
  const IpAddress& client_ip = request.source.client.address;
  switch (deps_.quota.acquire(user, client_ip)) {
    case QuotaVerdict::kOk:
      break;
    case QuotaVerdict::kUserLimit:
      stats_.quota_rejected.add();
      return std::unexpected(TurnError{error::kAllocationQuotaReached});
    case QuotaVerdict::kClientIpLimit:
      stats_.quota_rejected.add();
      stats_.allocations_per_client_ip_rejected.add();
      return std::unexpected(TurnError{error::kAllocationQuotaReached});
    case QuotaVerdict::kTotalLimit:
      stats_.quota_rejected.add();
      return std::unexpected(TurnError{error::kInsufficientCapacity});
  }
  auto allocation = std::make_unique<Allocation>();
  AllocateReply reply;
  auto fail = [&](std::uint16_t code) {
    for (const RelayLeg& leg : allocation->legs) {
      closeLeg(leg);
    }
    deps_.quota.release(user, client_ip);
    return std::unexpected(TurnError{code});
  };
  // 7. The relayed transport address: a reserved port, or a new random one.
  if (options.token) {
    // The token may have been minted by another worker: the store is shared.
    auto reserved = deps_.reservations.take(*options.token, request.now);
    if (!reserved) {
      return fail(error::kInsufficientCapacity);  // RFC 8656: an invalid token gets 508
    }
    allocation->id = next_id_++;
    auto socket = deps_.relays.adopt(reserved->handle, allocation->id);
    if (!socket) {
      ports_->give(reserved->local);  // adopt closed the reserved socket
      return fail(error::kInsufficientCapacity);
    }
    stats_.relay_ports_in_use.add();  // the pool has had it taken since it was reserved
    allocation->legs.push_back(RelayLeg{*socket, reserved->local, reserved->relayed});
  } else {
    allocation->id = next_id_++;
    // EVEN-PORT with R: N + 1 is held under a token for a later Allocate.
    auto opened = openLeg(options.family, allocation->id, options.even, options.dont_fragment,
                          options.reserve_next, options.tcp);
    if (!opened) {
      return fail(opened.error());
    }
    allocation->legs.push_back(opened->leg);
    if (opened->reserved) {
      const std::uint64_t key = deps_.random.next();
      opened->reserved->expires = request.now + kReservationLifetime;
      deps_.reservations.put(key, *opened->reserved, request.now);
      reply.reservation_token = key;
    }
  }
  if (options.dual) {
    auto leg6 = openLeg(AddressFamily::kIpv6, allocation->id, false, options.dont_fragment, false);
    if (leg6) {
      allocation->legs.push_back(leg6->leg);
    } else {
      reply.ipv6_error = leg6.error();  // the IPv4 allocation still succeeds
    }
  }
  const Seconds lifetime = grantedLifetime(message);
  allocation->source = request.source;
  allocation->tcp = options.tcp;
  allocation->created = request.now;
  allocation->bandwidth =
      TokenBucket{static_cast<double>(config_.bandwidth_bytes_per_second), request.now};
  if (deps_.user_bandwidth != nullptr) {
    allocation->user_lease = userLease(user);
  }
  allocation->expires = request.now + (lifetime.count() == 0 ? config_.default_lifetime : lifetime);
  allocation->username = request.auth.username;
  allocation->user = user;
  allocation->credential_expires_at = request.auth.credential.expires_at;
  allocation->key = request.auth.key;
  reply.lifetime = std::chrono::duration_cast<Seconds>(allocation->expires - request.now);
  Allocation& stored = *allocation;
  by_source_.emplace(request.source, &stored);
  if (request.source.socket.kind == SocketRef::Kind::kConnection) {
    by_connection_.emplace(request.source.socket.id, stored.id);
  }
  allocations_.emplace(stored.id, std::move(allocation));
  stats_.allocations_created.add();
  if (stored.tcp) {
    stats_.tcp_allocations_active.add();
  }
  stats_.allocations_active[static_cast<std::size_t>(request.source.transport)][familyIndex(stored)]
      .add();
  if (deps_.events != nullptr) {
    deps_.events->onAllocationCreated(stored);
  }
  reply.allocation = &stored;
  return reply;
}

void Core::respondToAllocate(const Request& request, const AllocateReply& reply, Outbox& outbox) {
  Allocation& allocation = *reply.allocation;
  sendSuccess(request, outbox, [&](MessageBuilder& builder) {
    for (const RelayLeg& leg : allocation.legs) {
      builder.addXorAddress(attr::kXorRelayedAddress, leg.relayed);
    }
    builder.addU32(attr::kLifetime, static_cast<std::uint32_t>(reply.lifetime.count()));
    if (reply.reservation_token) {
      ReservationToken token{};
      for (std::size_t i = 0; i < token.size(); ++i) {
        token[i] = static_cast<std::byte>(*reply.reservation_token >> (8U * (7 - i)));
      }
      builder.addBytes(attr::kReservationToken, token);
    }
    if (reply.ipv6_error) {
      builder.addAddressErrorCode(AddressFamily::kIpv6, *reply.ipv6_error);
    }
    builder.addXorAddress(attr::kXorMappedAddress, request.source.client);
    if (config_.mobility_key && request.message.has(attr::kMobilityTicket)) {
      builder.addBytes(attr::kMobilityTicket, mintTicket(allocation, request.unix_now));  // 8016
    }
  });
  if (const auto entries = outbox.entries(); !entries.empty()) {
    cacheResponse(allocation, request.message, entries.back().head(), request.now);
  }
  schedule(allocation);
}

void Core::schedule(Allocation& allocation) {
  // Queue a deadline only when it is earlier than the one already queued: that one fires
  // first and reschedules. This keeps the heap to about one entry per allocation.
  const MonotonicTime deadline = allocation.nextDeadline();
  if (allocation.scheduled == MonotonicTime{} || deadline < allocation.scheduled) {
    allocation.scheduled = deadline;
    deadlines_.emplace_back(deadline, allocation.id);
    std::ranges::push_heap(deadlines_, std::greater<>{});
  }
}

Allocation* Core::liveAllocation(const Deadline& entry) const {
  const auto it = allocations_.find(entry.second);
  return it != allocations_.end() && it->second->scheduled == entry.first ? it->second.get()
                                                                          : nullptr;
}

void Core::compactDeadlines() {
  // Amortised O(1) per ended allocation: runs when the heap has more than twice the live
  // entries (at most one per allocation), plus slack so that small tables never bother.
  constexpr std::size_t kSlack = 1024;
  if (deadlines_.size() <= 2 * allocations_.size() + kSlack) {
    return;
  }
  std::erase_if(deadlines_,
                [this](const Deadline& entry) { return liveAllocation(entry) == nullptr; });
  std::ranges::make_heap(deadlines_, std::greater<>{});
}

std::shared_ptr<UserLease> Core::userLease(const std::string& user) {
  std::weak_ptr<UserLease>& slot = user_leases_[user];
  std::shared_ptr<UserLease> lease = slot.lock();
  if (lease == nullptr) {
    lease = std::make_shared<UserLease>(UserLease{user, 0});
    slot = lease;
  }
  return lease;
}

void Core::syncRoutes(Allocation& allocation, MonotonicTime now) {
  if (!config_.announce_routes || deps_.events == nullptr ||
      allocation.source.transport != ClientTransport::kUdp ||
      config_.bandwidth_bytes_per_second != 0 || config_.user_bandwidth_bytes_per_second != 0) {
    return;
  }
  for (ChannelBinding& channel : allocation.channels) {
    const bool wanted = channel.active && channel.expires > now &&
                        allocation.hasPermission(channel.peer.address, now);
    if (wanted != channel.routed) {
      channel.routed = wanted;
      if (wanted) {
        deps_.events->onRouteUp(allocation, channel);
      } else {
        deps_.events->onRouteDown(allocation, channel);
      }
    }
  }
}

void Core::dropRoutes(Allocation& allocation) {
  for (ChannelBinding& channel : allocation.channels) {
    if (channel.routed) {
      channel.routed = false;
      deps_.events->onRouteDown(allocation, channel);  // routed implies events are set
    }
  }
}

void Core::endAllocation(std::uint64_t id, AllocationEnd end, MonotonicTime now) {
  const auto it = allocations_.find(id);
  if (it == allocations_.end()) {
    return;
  }
  Allocation& allocation = *it->second;
  dropRoutes(allocation);  // before the end is reported: the adapter adds what the kernel relayed
  for (const TcpPeerConnection& connection : allocation.tcp_connections) {
    if (connection.state == TcpPeerConnection::State::kBound) {
      takeTcpRelayed(allocation, connection.id);  // RFC 6062: into the accounting line
    }
  }
  if (deps_.events != nullptr) {
    deps_.events->onAllocationEnded(allocation, end, now);
  }
  // RFC 6062: the allocation's peer and data connections go with it.
  while (!allocation.tcp_connections.empty()) {
    dropTcpConnection(allocation, allocation.tcp_connections.back().id, true);
  }
  if (allocation.tcp) {
    stats_.tcp_allocations_active.sub();
  }
  for (const RelayLeg& leg : allocation.legs) {
    closeLeg(leg);
  }
  deps_.quota.release(allocation.user, allocation.source.client.address);
  if (allocation.user_lease != nullptr && allocation.user_lease.use_count() == 1) {
    user_leases_.erase(allocation.user);  // the user's last allocation here
  }
  stats_.allocations_deleted.add();
  stats_
      .allocations_active[static_cast<std::size_t>(allocation.source.transport)]
                         [familyIndex(allocation)]
      .sub();
  stats_.permissions_active.sub(allocation.permissions.size());
  stats_.channels_active.sub(static_cast<std::uint64_t>(
      std::ranges::count_if(allocation.channels, &ChannelBinding::active)));
  by_source_.erase(allocation.source);
  if (allocation.source.socket.kind == SocketRef::Kind::kConnection) {
    by_connection_.erase(allocation.source.socket.id);
  }
  allocations_.erase(it);
  compactDeadlines();
}

void Core::onConnectionClosed(const SocketRef& connection, MonotonicTime now) {
  if (const auto it = by_connection_.find(connection.id); it != by_connection_.end()) {
    endAllocation(it->second, AllocationEnd::kConnectionClosed, now);
  } else if (const auto data = by_data_connection_.find(connection.id);
             data != by_data_connection_.end()) {
    // RFC 6062: a data connection closed; its peer connection goes with it.
    const auto owner = tcp_connections_.find(data->second);
    if (owner != tcp_connections_.end()) {
      dropTcpConnection(*allocations_.at(owner->second), data->second, true);
    }
  }
}

void Core::onTimer(MonotonicTime now) {
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    std::ranges::pop_heap(deadlines_, std::greater<>{});
    const Deadline entry = deadlines_.back();
    deadlines_.pop_back();
    Allocation* live = liveAllocation(entry);
    if (live == nullptr) {
      continue;  // ended, or a later entry for it is the live one
    }
    Allocation& allocation = *live;
    const std::uint64_t id = entry.second;
    if (allocation.expires <= now) {
      endAllocation(id, AllocationEnd::kExpired, now);  // RFC 8656 section 7: lifetime over
      continue;
    }
    const ExpiryCounts expired = allocation.expire(now);
    stats_.permissions_active.sub(expired.permissions);
    stats_.channels_active.sub(expired.channels);
    syncRoutes(allocation, now);
    expireTcpConnections(allocation, now);
    allocation.scheduled = MonotonicTime{};
    schedule(allocation);
  }
}

std::optional<MonotonicTime> Core::nextDeadline() const {
  std::optional<MonotonicTime> next;
  if (!deadlines_.empty()) {
    next = deadlines_.front().first;
  }
  return next;
}

void Core::shutdown(MonotonicTime now) {
  while (!allocations_.empty()) {
    endAllocation(allocations_.begin()->first, AllocationEnd::kShutdown, now);
  }
}

}  // namespace turnpike::protocol

#include "protocol/turn/core.hpp"

#include <algorithm>

#include "auth/long_term_key.hpp"
#include "protocol/stun/binding.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/turn/channel_data.hpp"

namespace turnpike::protocol {
namespace {

// PASSWORD-ALGORITHMS offered in challenges, in order of preference (RFC 8489 section 14.11).
constexpr std::array<std::byte, 8> kOfferedAlgorithms{
    std::byte{0x00}, std::byte{0x02}, std::byte{0x00}, std::byte{0x00},   // SHA-256, no params
    std::byte{0x00}, std::byte{0x01}, std::byte{0x00}, std::byte{0x00}};  // MD5, no params

std::optional<RequestMethod> requestMethodOf(const Message& message) {
  switch (static_cast<Method>(message.method())) {
    case Method::kAllocate:
      return RequestMethod::kAllocate;
    case Method::kRefresh:
      return RequestMethod::kRefresh;
    case Method::kCreatePermission:
      return RequestMethod::kCreatePermission;
    case Method::kChannelBind:
      return RequestMethod::kChannelBind;
    case Method::kConnect:
      return RequestMethod::kConnect;
    case Method::kConnectionBind:
      return RequestMethod::kConnectionBind;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string_view toString(AllocationEnd end) {
  switch (end) {
    case AllocationEnd::kExpired:
      return "expired";
    case AllocationEnd::kDeleted:
      return "deleted";
    case AllocationEnd::kConnectionClosed:
      return "connection_closed";
    case AllocationEnd::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

OutboxEntry* Outbox::add(const SocketRef& socket, const Endpoint& destination) {
  if (count_ == entries_.size()) {
    return nullptr;
  }
  OutboxEntry& entry = entries_[count_++];
  entry.socket = socket;
  entry.destination = destination;
  entry.head_size = 0;
  entry.payload = {};
  entry.padding = 0;
  return &entry;
}

ConstBytes Core::AuthResult::keyBytes() const {
  if (algorithm == PasswordAlgorithm::kSha256 && key.sha256) {
    return *key.sha256;
  }
  return key.md5;
}

std::size_t Core::SourceHash::operator()(const ClientSource& source) const {
  const auto& client = source.client.address.bytes();
  std::uint64_t h = source.socket.id * 0x9E3779B97F4A7C15ULL;
  for (std::size_t i = 0; i < source.client.address.size(); i += 4) {
    h ^= (static_cast<std::uint64_t>(client[i]) << 24U |
          static_cast<std::uint64_t>(client[i + 1]) << 16U |
          static_cast<std::uint64_t>(client[i + 2]) << 8U | client[i + 3]) +
         0x9E3779B97F4A7C15ULL + (h << 6U) + (h >> 2U);
  }
  h ^= (static_cast<std::uint64_t>(source.client.port) << 8U) ^
       static_cast<std::uint64_t>(source.transport);
  return static_cast<std::size_t>(h);
}

Core::Core(CoreConfig config, CoreDependencies dependencies)
    : config_(std::move(config)),
      binding_options_{config_.software},
      deps_(dependencies),
      ports_(dependencies.ports) {
  next_id_ = (std::uint64_t{config_.worker} << kWorkerShift) | 1U;
  if (ports_ == nullptr) {
    std::vector<IpAddress> locals;
    for (const RelayAddress& address : config_.relay_addresses) {
      locals.push_back(address.local);
    }
    own_ports_ = std::make_unique<PortPool>(std::move(locals), config_.port_min, config_.port_max,
                                            deps_.random);
    ports_ = own_ports_.get();
  }
}

Core::~Core() = default;

void Core::onClientMessage(const ClientSource& source, ConstBytes bytes, MonotonicTime now,
                           Outbox& outbox) {
  if (looksLikeChannelData(bytes)) {
    handleChannelData(source, bytes, now, outbox);
  } else {
    handleStun(source, bytes, now, outbox);
  }
}

void Core::handleStun(const ClientSource& source, ConstBytes bytes, MonotonicTime now,
                      Outbox& outbox) {
  // The one look-up of this 5-tuple's allocation; the handlers below are given it.
  Allocation* allocation = allocationFor(source);
  // The unauthenticated rate limit, before parsing: a source without an allocation here gets a
  // few messages per second, and the rest are dropped unanswered.
  if (allocation == nullptr && config_.unauthenticated_per_second != 0 &&
      !admitUnauthenticated(source.client.address, now)) {
    stats_.unauthenticated_dropped.add();
    return;
  }
  auto message = Message::parse(bytes);
  if (!message || message->isMethod(Method::kBinding)) {
    handleBinding(source, bytes, outbox);
    return;
  }
  // RFC 8489 section 7.3: a wrong FINGERPRINT means the message is not STUN.
  if (verifyFingerprint(*message) == IntegrityResult::kMismatch) {
    stats_.stun_outcomes[static_cast<std::size_t>(StunOutcome::kDropBadFingerprint)].add();
    return;
  }
  switch (message->messageClass()) {
    case MessageClass::kRequest:
      handleRequest(*message, source, allocation, now, outbox);
      return;
    case MessageClass::kIndication:
      if (message->isMethod(Method::kSend)) {
        handleSendIndication(*message, allocation, now, outbox);
        return;
      }
      [[fallthrough]];
    default:
      stats_.stun_outcomes[static_cast<std::size_t>(StunOutcome::kDropNotRequest)].add();
  }
}

void Core::handleBinding(const ClientSource& source, ConstBytes bytes, Outbox& outbox) {
  OutboxEntry* entry = outbox.add(source.socket, source.client);
  if (entry == nullptr) {
    return;
  }
  // RFC 5780: which of the four sockets the request arrived on, if any (UDP only: a TCP
  // connection's answer cannot leave from another address).
  BindingOptions options = binding_options_;
  NatDiscoveryContext nat;
  std::size_t address = 0;
  std::size_t port = 0;
  if (config_.nat_discovery && source.transport == ClientTransport::kUdp &&
      source.socket.kind == SocketRef::Kind::kListener) {
    const NatDiscoveryConfig& sockets = *config_.nat_discovery;
    for (std::size_t i = 0; i < 4 && options.nat == nullptr; ++i) {
      if (sockets.listeners[i / 2][i % 2] == source.socket.id) {
        address = i / 2;
        port = i % 2;
        nat = {sockets.endpoints[address][port], sockets.endpoints[1 - address][1 - port]};
        options.nat = &nat;
      }
    }
  }
  const StunResult result = handleStunRequest(bytes, source.client, options, entry->head_buffer);
  stats_.stun_outcomes[static_cast<std::size_t>(result.outcome)].add();
  entry->head_size = result.response.size();
  if (result.response.empty()) {
    outbox.removeLast();  // dropped: nothing to send
    return;
  }
  if (options.nat != nullptr) {
    // RFC 5780 section 6.1: from the socket CHANGE-REQUEST names, to RESPONSE-PORT on the
    // client's own address (never another address: no reflection to third parties).
    const std::size_t from_address = result.change_ip ? 1 - address : address;
    const std::size_t from_port = result.change_port ? 1 - port : port;
    entry->socket = SocketRef{SocketRef::Kind::kListener,
                              config_.nat_discovery->listeners[from_address][from_port]};
    if (result.change_ip) {
      stats_.nat_changed_address.add();
    }
    if (result.change_port) {
      stats_.nat_changed_port.add();
    }
    if (result.response_port != 0) {
      entry->destination.port = result.response_port;
      stats_.nat_response_port.add();
    }
  }
}

void Core::handleRequest(const Message& message, const ClientSource& source, Allocation* allocation,
                         MonotonicTime now, Outbox& outbox) {
  const auto method = requestMethodOf(message);
  // RFC 6062's Connect and ConnectionBind belong to TCP and TLS clients: over UDP they are
  // answered as a method not served here.
  const bool tcp_only =
      method == RequestMethod::kConnect || method == RequestMethod::kConnectionBind;
  if (!method || (tcp_only && source.transport == ClientTransport::kUdp)) {
    // Unknown methods.
    stats_.stun_outcomes[static_cast<std::size_t>(StunOutcome::kMethodNotAllowed)].add();
    sendError(message, source, TurnError{error::kBadRequest}, nullptr, false, outbox);
    return;
  }
  auto count = [&](std::uint16_t code) {
    stats_.requests[static_cast<std::size_t>(*method)][requestResultIndex(code)].add();
  };
  // RFC 8656 section 7.2 / RFC 8489 section 6.3.4: a retransmission gets the cached answer.
  if (allocation != nullptr && replayCached(*allocation, message, outbox)) {
    return;
  }
  // Requests that cannot succeed whoever sends them are answered before authentication, with
  // no challenge: a 401 would only invite a second round trip, and it is the largest answer an
  // unauthenticated request can get (amplification). Refresh, CreatePermission and ChannelBind
  // need an allocation on this 5-tuple (437, RFC 8656 sections 7.3, 9.2, 11.2); Allocate needs
  // REQUESTED-TRANSPORT (400, section 7.2 step 3).
  // RFC 8016: a Refresh with a MOBILITY-TICKET from a 5-tuple with no allocation may move one
  // here (moveByTicket), once authenticated.
  const bool ticket_refresh = config_.mobility_key && *method == RequestMethod::kRefresh &&
                              message.has(attr::kMobilityTicket);
  if (!message.has(attr::kMessageIntegrity) && !message.has(attr::kMessageIntegritySha256)) {
    const bool allocate = *method == RequestMethod::kAllocate;
    // RFC 6062 section 5.4: ConnectionBind comes on a new connection, without an allocation.
    const bool bind = *method == RequestMethod::kConnectionBind;
    if (!allocate && !bind && allocation == nullptr && !ticket_refresh) {
      count(error::kAllocationMismatch);
      sendError(message, source, TurnError{error::kAllocationMismatch}, nullptr, false, outbox);
      return;
    }
    if (allocate && !message.has(attr::kRequestedTransport)) {
      count(error::kBadRequest);
      sendError(message, source, TurnError{error::kBadRequest}, nullptr, false, outbox);
      return;
    }
  }
  const std::int64_t unix_now = deps_.clock.unixNow();
  auto auth = authenticate(message, source, allocation, unix_now);
  if (!auth) {
    stats_.auth_failures[static_cast<std::size_t>(auth.error().failure)].add();
    count(auth.error().error.code);
    sendError(message, source, auth.error().error, nullptr, auth.error().challenge, outbox);
    return;
  }
  Request request{message, source, now, unix_now, std::move(*auth)};
  // RFC 8489 section 6.3.1: unknown comprehension-required attributes get 420.
  TurnError unknown{error::kUnknownAttribute};
  unknown.unknown_count = findUnknownRequired(message, binding_options_, unknown.unknown);
  if (unknown.unknown_count > 0) {
    count(unknown.code);
    sendError(message, source, unknown, &request.auth, false, outbox);
    return;
  }
  auto fail = [&](const TurnError& error) {
    count(error.code);
    sendError(message, source, error, &request.auth, false, outbox);
  };
  if (*method == RequestMethod::kAllocate) {
    // RFC 8016 section 3.1: a server that does not allow mobility answers 405.
    if (!config_.mobility_key && message.has(attr::kMobilityTicket)) {
      fail(TurnError{error::kMobilityForbidden});
      return;
    }
    auto reply = allocate(request);
    if (!reply) {
      fail(reply.error());
      return;
    }
    count(0);
    respondToAllocate(request, *reply, outbox);
    return;
  }
  if (*method == RequestMethod::kConnectionBind) {
    auto bound = connectionBind(request);
    if (!bound) {
      fail(bound.error());
      return;
    }
    count(0);
    sendSuccess(request, outbox, [](MessageBuilder& /*builder*/) {});
    deps_.relays.bindPeer(*bound, source.socket);  // after the answer: the adapter sends it first
    return;
  }
  if (allocation == nullptr && ticket_refresh) {
    auto moved = moveByTicket(request, message.value(*message.find(attr::kMobilityTicket)));
    if (!moved) {
      fail(moved.error());
      return;
    }
    allocation = *moved;
  }
  if (allocation == nullptr) {
    fail(TurnError{error::kAllocationMismatch});  // RFC 8656 sections 8.2, 10.2, 12.2
    return;
  }
  std::expected<Seconds, TurnError> lifetime = Seconds{0};
  std::expected<void, TurnError> done;
  switch (*method) {
    case RequestMethod::kRefresh:
      lifetime = refresh(request, *allocation);
      break;
    case RequestMethod::kCreatePermission:
      done = createPermission(request, *allocation);
      break;
    case RequestMethod::kChannelBind:
      done = channelBind(request, *allocation);
      break;
    case RequestMethod::kConnect:
      // RFC 6062 section 5.2: answered when the connection is made or fails (onPeerConnected).
      if (auto started = connect(request, *allocation); !started) {
        fail(started.error());
      }
      return;
    case RequestMethod::kAllocate:
    case RequestMethod::kConnectionBind:
      break;
  }
  if (!lifetime || !done) {
    fail(!lifetime ? lifetime.error() : done.error());
    return;
  }
  if (*method == RequestMethod::kCreatePermission || *method == RequestMethod::kChannelBind) {
    syncRoutes(*allocation, request.now);
  }
  count(0);
  const bool is_refresh = *method == RequestMethod::kRefresh;
  sendSuccess(request, outbox, [&](MessageBuilder& builder) {
    if (is_refresh) {
      builder.addU32(attr::kLifetime, static_cast<std::uint32_t>(lifetime->count()));
      if (ticket_refresh && lifetime->count() > 0) {
        builder.addBytes(attr::kMobilityTicket, mintTicket(*allocation, request.unix_now));
      }
    }
  });
  if (is_refresh && lifetime->count() == 0) {
    endAllocation(allocation->id, AllocationEnd::kDeleted, now);  // RFC 8656 section 8.2
    return;
  }
  if (const auto entries = outbox.entries(); !entries.empty()) {
    cacheResponse(*allocation, message, entries.back().head(), now);
  }
  schedule(*allocation);
}

std::expected<Core::AuthResult, Core::AuthError> Core::authenticate(const Message& message,
                                                                    const ClientSource& source,
                                                                    const Allocation* allocation,
                                                                    std::int64_t unix_now) const {
  // RFC 8489 section 9.2.4, in order.
  const RawAttribute* mi = message.find(attr::kMessageIntegrity);
  const RawAttribute* mi256 = message.find(attr::kMessageIntegritySha256);
  if (mi == nullptr && mi256 == nullptr) {
    return std::unexpected(AuthError{{error::kUnauthenticated}, true, AuthFailure::kNoCredentials});
  }
  const RawAttribute* username_attribute = message.find(attr::kUsername);
  const RawAttribute* realm = message.find(attr::kRealm);
  const RawAttribute* nonce = message.find(attr::kNonce);
  if (realm == nullptr || nonce == nullptr ||
      (username_attribute == nullptr && !message.has(attr::kUserhash))) {
    return std::unexpected(AuthError{{error::kBadRequest}, false, AuthFailure::kBadRequest});
  }
  // PASSWORD-ALGORITHMS must echo what the server offered, and PASSWORD-ALGORITHM pick one.
  PasswordAlgorithm algorithm = PasswordAlgorithm::kMd5;
  const RawAttribute* algorithms = message.find(attr::kPasswordAlgorithms);
  const RawAttribute* chosen = message.find(attr::kPasswordAlgorithm);
  if ((algorithms == nullptr) != (chosen == nullptr)) {
    return std::unexpected(AuthError{{error::kBadRequest}, false, AuthFailure::kBadRequest});
  }
  if (algorithms != nullptr) {
    const ConstBytes offered = message.value(*algorithms);
    auto picked = decodePasswordAlgorithm(message.value(*chosen));
    if (!std::ranges::equal(offered, kOfferedAlgorithms) || !picked ||
        (picked->algorithm != static_cast<std::uint16_t>(PasswordAlgorithm::kMd5) &&
         picked->algorithm != static_cast<std::uint16_t>(PasswordAlgorithm::kSha256))) {
      return std::unexpected(AuthError{{error::kBadRequest}, false, AuthFailure::kBadRequest});
    }
    algorithm = static_cast<PasswordAlgorithm>(picked->algorithm);
  }
  if (username_attribute == nullptr) {
    // USERHASH needs a reverse lookup that REST usernames cannot have: not supported.
    return std::unexpected(AuthError{{error::kUnauthenticated}, true, AuthFailure::kUnknownUser});
  }
  const std::string_view username = decodeText(message.value(*username_attribute));
  // The last two checks of section 9.2.4, once the key is known to be right: a stale nonce gets
  // 438; another username than the allocation's gets 441 (RFC 8656 section 5; an Allocate on a
  // used 5-tuple gets 437 from the handler instead).
  auto finish = [&](AuthResult result) -> std::expected<AuthResult, AuthError> {
    if (deps_.nonces.verify(decodeText(message.value(*nonce)), source.client.address, unix_now) !=
        NonceCheck::kValid) {
      return std::unexpected(AuthError{{error::kStaleNonce}, true, AuthFailure::kStaleNonce});
    }
    if (allocation != nullptr && allocation->username != username &&
        !message.isMethod(Method::kAllocate)) {
      return std::unexpected(
          AuthError{{error::kWrongCredentials}, false, AuthFailure::kWrongCredentials});
    }
    return result;
  };
  auto verify = [&](const AuthResult& candidate) {
    const ConstBytes key = candidate.keyBytes();
    return (mi256 != nullptr ? verifyMessageIntegritySha256(message, key)
                             : verifyMessageIntegrity(message, key)) == IntegrityResult::kOk;
  };
  AuthResult result;
  result.username = std::string(username);
  result.algorithm = algorithm;
  // Section 9.2.4: answer with MESSAGE-INTEGRITY-SHA256 when the client used it or chose SHA-256.
  result.sha256_mac = mi256 != nullptr || algorithm == PasswordAlgorithm::kSha256;
  // Within an allocation the key is cached; a REST credential is still checked for expiry.
  if (allocation != nullptr && allocation->username == username &&
      (algorithm == PasswordAlgorithm::kMd5 || allocation->key.sha256.has_value())) {
    if (allocation->credential_expires_at && *allocation->credential_expires_at < unix_now) {
      return std::unexpected(AuthError{{error::kUnauthenticated}, true, AuthFailure::kExpired});
    }
    result.key = allocation->key;
    result.credential.user = allocation->user;
    result.credential.expires_at = allocation->credential_expires_at;
    if (verify(result)) {
      return finish(std::move(result));
    }
    return std::unexpected(AuthError{{error::kUnauthenticated}, true, AuthFailure::kBadIntegrity});
  }
  // A key this username verified with before (another allocation of the same client).
  if (const std::uint64_t generation = deps_.credentials.generation();
      generation != key_cache_generation_) {
    key_cache_.clear();
    key_cache_generation_ = generation;
  }
  if (const auto cached = key_cache_.find(username);
      cached != key_cache_.end() &&
      (algorithm == PasswordAlgorithm::kMd5 || cached->second.key.sha256.has_value())) {
    if (cached->second.expires_at && *cached->second.expires_at < unix_now) {
      key_cache_.erase(cached);
      return std::unexpected(AuthError{{error::kUnauthenticated}, true, AuthFailure::kExpired});
    }
    result.key = cached->second.key;
    result.credential.user = cached->second.user;
    result.credential.expires_at = cached->second.expires_at;
    if (verify(result)) {
      return finish(std::move(result));
    }
    // Not this key: the client may hold a password of another secret. Try them all.
    result.credential = {};
  }
  auto credential = deps_.credentials.lookup(username, unix_now);
  if (!credential) {
    return std::unexpected(AuthError{{error::kUnauthenticated},
                                     true,
                                     credential.error() == CredentialLookupError::kExpired
                                         ? AuthFailure::kExpired
                                         : AuthFailure::kUnknownUser});
  }
  for (const std::string& password : credential->passwords) {
    result.key.md5 = auth::longTermKeyMd5(username, config_.realm, password);
    if (algorithm == PasswordAlgorithm::kSha256) {
      result.key.sha256 = auth::longTermKeySha256(username, config_.realm, password);
    }
    if (verify(result)) {
      result.credential = std::move(*credential);
      if (key_cache_.size() >= kKeyCacheSize) {
        key_cache_.clear();
      }
      key_cache_.insert_or_assign(
          std::string(username),
          CachedKey{result.key, result.credential.user, result.credential.expires_at});
      return finish(std::move(result));
    }
  }
  return std::unexpected(AuthError{{error::kUnauthenticated}, true, AuthFailure::kBadIntegrity});
}

void Core::sendSuccess(const Request& request, Outbox& outbox,
                       const std::function<void(MessageBuilder&)>& add_attributes) {
  OutboxEntry* entry = outbox.add(request.source.socket, request.source.client);
  if (entry == nullptr) {
    return;
  }
  MessageBuilder builder(entry->head_buffer,
                         messageType(request.message.method(), MessageClass::kSuccessResponse),
                         request.message.transactionId());
  add_attributes(builder);
  if (!config_.software.empty()) {
    builder.addText(attr::kSoftware, config_.software);
  }
  sign(builder, request.auth.keyBytes(), request.auth.sha256_mac,
       request.message.has(attr::kFingerprint));
  auto bytes = builder.finish();
  entry->head_size = bytes ? bytes->size() : 0;
}

void Core::sign(MessageBuilder& builder, ConstBytes key, bool sha256_mac, bool fingerprint) {
  if (sha256_mac) {
    builder.addMessageIntegritySha256(key);
  } else {
    builder.addMessageIntegrity(key);
  }
  if (fingerprint) {
    builder.addFingerprint();
  }
}

void Core::sendError(const Message& message, const ClientSource& source, const TurnError& error,
                     const AuthResult* auth, bool challenge, Outbox& outbox) {
  OutboxEntry* entry = outbox.add(source.socket, source.client);
  if (entry == nullptr) {
    return;
  }
  // RFC 8489 section 6.3.4. No SOFTWARE, and no reason phrase without authentication:
  // unauthenticated error traffic stays small (at most 3.5 times the request, see
  // tests/unit/protocol/turn/core_amplification_test.cpp).
  MessageBuilder builder(entry->head_buffer,
                         messageType(message.method(), MessageClass::kErrorResponse),
                         message.transactionId());
  if (auth != nullptr) {
    builder.addErrorCode(error.code);
  } else {
    builder.addBareErrorCode(error.code);
  }
  if (error.unknown_count > 0) {
    builder.addUnknownAttributes(std::span(error.unknown).first(error.unknown_count));
  }
  if (error.alternate) {
    builder.addAddress(attr::kAlternateServer, *error.alternate);
    if (!error.alternate_domain.empty()) {
      builder.addText(attr::kAlternateDomain, error.alternate_domain);
    }
  }
  if (challenge) {
    // RFC 8489 section 9.2.4: REALM and a fresh NONCE; PASSWORD-ALGORITHMS because the nonce
    // cookie announces that feature.
    builder.addText(attr::kRealm, config_.realm);
    builder.addText(attr::kNonce, deps_.nonces.mint(source.client.address, deps_.clock.unixNow()));
    builder.addBytes(attr::kPasswordAlgorithms, kOfferedAlgorithms);
  }
  if (auth != nullptr) {
    sign(builder, auth->keyBytes(), auth->sha256_mac, message.has(attr::kFingerprint));
  } else if (message.has(attr::kFingerprint)) {
    builder.addFingerprint();
  }
  auto bytes = builder.finish();
  entry->head_size = bytes ? bytes->size() : 0;
}

bool Core::admitUnauthenticated(const IpAddress& source, MonotonicTime now) {
  constexpr std::size_t kBuckets = 4096;  // a power of two
  if (source_buckets_.empty()) {
    source_buckets_.resize(kBuckets);
  }
  // FNV-1a over the address, IPv6 by its /64 (one subscriber's prefix).
  const IpAddress key = limitKey(source);
  const auto& address = key.bytes();
  const std::size_t length = key.isV6() ? 8 : key.size();
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < length; ++i) {
    hash = (hash ^ address[i]) * 0x100000001b3ULL;
  }
  SourceBucket& slot = source_buckets_[hash & (kBuckets - 1)];
  const auto burst = static_cast<double>(config_.unauthenticated_burst);
  if (!slot.used) {
    slot = SourceBucket{TokenBucket{burst, now}, true};  // a new source starts with its burst
  }
  return slot.bucket.take(1, config_.unauthenticated_per_second, burst, now);
}

void Core::startDraining(std::vector<Endpoint> alternates) {
  draining_ = true;
  alternates_ = std::move(alternates);
}

std::optional<TurnError> Core::redirect(RedirectReason reason, const std::vector<Endpoint>& servers,
                                        const ClientSource& source) {
  // RFC 8489 section 14.15: the alternate is of the request's address family. This runs only
  // for authenticated requests, and sendError protects the 300 with MESSAGE-INTEGRITY, as RFC
  // 8489 section 14.8 requires.
  for (std::size_t tried = 0; tried < servers.size(); ++tried) {
    const Endpoint& candidate = servers[next_alternate_++ % servers.size()];
    if (candidate.address.family() == source.client.address.family()) {
      TurnError error{error::kTryAlternate};
      error.alternate = candidate;
      // RFC 8489 section 14.16: ALTERNATE-DOMAIN names the certificate the alternate presents;
      // it means something only to TLS (or DTLS) clients.
      if (source.transport == ClientTransport::kTls || source.transport == ClientTransport::kDtls) {
        error.alternate_domain = config_.cluster.domain;
      }
      stats_.redirects[static_cast<std::size_t>(reason)].add();
      return error;
    }
  }
  return std::nullopt;
}

void Core::cacheResponse(Allocation& allocation, const Message& message, ConstBytes response,
                         MonotonicTime now) {
  // A few recent answers are enough: clients retransmit one transaction at a time.
  constexpr std::size_t kMaxCached = 4;
  if (allocation.responses.size() == kMaxCached) {
    allocation.responses.erase(allocation.responses.begin());
  }
  allocation.responses.push_back(CachedResponse{
      message.transactionId(), now + kResponseCacheLifetime, {response.begin(), response.end()}});
}

bool Core::replayCached(const Allocation& allocation, const Message& message,
                        Outbox& outbox) const {
  const TransactionId id = message.transactionId();
  for (const CachedResponse& cached : allocation.responses) {
    if (cached.transaction_id == id && cached.bytes.size() <= OutboxEntry::kMaxHead) {
      OutboxEntry* entry = outbox.add(allocation.source.socket, allocation.source.client);
      if (entry != nullptr) {
        std::ranges::copy(cached.bytes, entry->head_buffer.begin());
        entry->head_size = cached.bytes.size();
      }
      return true;
    }
  }
  return false;
}

}  // namespace turnpike::protocol

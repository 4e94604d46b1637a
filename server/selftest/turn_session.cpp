#include "server/selftest/turn_session.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <ranges>

#include "auth/long_term_key.hpp"
#include "protocol/stun/attributes.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/turn/channel_data.hpp"

namespace turnpike::server::selftest {
namespace {

using protocol::Endpoint;
using protocol::Message;
using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::Method;
namespace attr = protocol::attr;

constexpr std::chrono::milliseconds kInitialRto{500};  // RFC 8489 section 6.2.1
constexpr std::string_view kSoftware = "turnpike selftest";

protocol::TransactionId randomTransactionId() {
  protocol::TransactionId id{};
  std::array<unsigned char, protocol::kTransactionIdSize> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) == 1) {
    std::ranges::transform(random, id.begin(), [](unsigned char b) { return std::byte{b}; });
  } else {
    // No entropy: a counter still tells our transactions apart.
    static std::uint32_t counter = 0;
    protocol::store32(id, 8, ++counter);
  }
  return id;
}

std::optional<protocol::ConstBytes> valueOf(const Message& message, std::uint16_t type) {
  const protocol::RawAttribute* found = message.find(type);
  return found != nullptr ? std::optional(message.value(*found)) : std::nullopt;
}

std::optional<Endpoint> xorAddressOf(const Message& message, std::uint16_t type) {
  const auto value = valueOf(message, type);
  if (!value) {
    return std::nullopt;
  }
  auto decoded = protocol::decodeXorAddress(*value, message.transactionId());
  return decoded ? std::optional(*decoded) : std::nullopt;
}

// The mapped address of a Binding answer: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an old
// server.
std::optional<Endpoint> mappedAddressOf(const Message& message) {
  if (auto mapped = xorAddressOf(message, attr::kXorMappedAddress)) {
    return mapped;
  }
  const auto value = valueOf(message, attr::kMappedAddress);
  auto decoded = value ? protocol::decodeAddress(*value)
                       : std::expected<Endpoint, protocol::AttributeError>(
                             std::unexpected(protocol::AttributeError::kBadLength));
  return decoded ? std::optional(*decoded) : std::nullopt;
}

bool isResponseTo(const Message& message, Method method, const protocol::TransactionId& id) {
  const MessageClass cls = message.messageClass();
  return message.isMethod(method) && message.transactionId() == id &&
         (cls == MessageClass::kSuccessResponse || cls == MessageClass::kErrorResponse);
}

// A request built into buffer: the attributes, SOFTWARE, then the credentials when key is set.
std::expected<protocol::ConstBytes, std::string> buildRequest(
    protocol::MutableBytes buffer, Method method, const protocol::TransactionId& id,
    const std::function<void(MessageBuilder&)>& add, const Credentials* credentials,
    const std::string& realm, const std::string& nonce) {
  MessageBuilder builder(buffer, protocol::messageType(method, MessageClass::kRequest), id);
  if (add) {
    add(builder);
  }
  builder.addText(attr::kSoftware, kSoftware);
  if (credentials != nullptr) {
    builder.addText(attr::kUsername, credentials->username);
    builder.addText(attr::kRealm, realm);
    builder.addText(attr::kNonce, nonce);
    builder.addMessageIntegrity(
        auth::longTermKeyMd5(credentials->username, realm, credentials->password));
  }
  builder.addFingerprint();
  auto built = builder.finish();
  if (!built) {
    return std::unexpected("cannot build the request: " +
                           std::string(protocol::toString(built.error())));
  }
  return *built;
}

template <typename T>
std::expected<void, std::string> succeeded(const std::expected<T, std::string>& result) {
  if (!result) {
    return std::unexpected(result.error());
  }
  return {};
}

}  // namespace

TurnSession::TurnSession(Connection& connection, const Endpoint& server, Credentials credentials,
                         std::chrono::milliseconds timeout)
    : connection_(connection),
      server_(server),
      credentials_(std::move(credentials)),
      timeout_(timeout) {}

std::string TurnSession::describe(const IoError& error) const {
  const Transport transport = connection_.transport();
  switch (error.kind) {
    case IoError::Kind::kTimeout:
      return transport == Transport::kUdp ? udpTimeoutMessage(server_, timeout_)
                                          : streamTimeoutMessage(transport, server_, timeout_);
    case IoError::Kind::kClosed:
      return closedMessage(transport, server_) +
             (error.detail.empty() ? "" : " (" + error.detail + ")");
    case IoError::Kind::kSocket:
      return socketErrorMessage(transport, server_, error.error_number, false);
    case IoError::Kind::kTls:
      return tlsFailureMessage(server_, error.detail, error.verify_failed);
  }
  return "I/O error";
}

bool TurnSession::queueData(const Bytes& frame) {
  if (protocol::looksLikeChannelData(frame)) {
    if (auto channel_data = protocol::parseChannelData(frame)) {
      data_.emplace_back(channel_data->data.begin(), channel_data->data.end());
    }
    return true;
  }
  auto message = Message::parse(frame);
  if (!message ||
      message->type() != protocol::messageType(Method::kData, MessageClass::kIndication)) {
    return false;
  }
  if (const auto payload = valueOf(*message, attr::kData)) {
    data_.emplace_back(payload->begin(), payload->end());
  }
  return true;
}

std::expected<TurnSession::Response, std::string> TurnSession::exchange(Method method,
                                                                        const AddAttributes& add,
                                                                        bool authenticate) {
  std::array<std::byte, 1500> buffer{};
  const protocol::TransactionId id = randomTransactionId();
  auto request =
      buildRequest(buffer, method, id, add, authenticate ? &credentials_ : nullptr, realm_, nonce_);
  if (!request) {
    return std::unexpected(request.error());
  }
  const bool udp = connection_.transport() == Transport::kUdp;
  const auto deadline = Clock::now() + timeout_;
  auto next_send = Clock::now();
  auto rto = kInitialRto;
  for (;;) {
    if (Clock::now() >= next_send) {
      if (auto sent = connection_.send(*request, deadline); !sent) {
        return std::unexpected(describe(sent.error()));
      }
      // Over a stream, one send: TCP retransmits (RFC 8489 section 6.2.2).
      next_send = udp ? Clock::now() + rto : Clock::time_point::max();
      rto *= 2;
    }
    auto frame = connection_.receive(std::min(deadline, next_send));
    if (!frame) {
      if (frame.error().kind == IoError::Kind::kTimeout && Clock::now() < deadline) {
        continue;  // time to retransmit
      }
      return std::unexpected(describe(frame.error()));
    }
    if (queueData(*frame)) {
      continue;
    }
    auto message = Message::parse(*frame);
    if (!message || !isResponseTo(*message, method, id)) {
      continue;  // a late answer to an earlier request, or noise
    }
    Response response;
    if (message->messageClass() == MessageClass::kErrorResponse) {
      const auto value = valueOf(*message, attr::kErrorCode);
      const auto code = value ? protocol::decodeErrorCode(*value)
                              : std::unexpected(protocol::AttributeError::kBadLength);
      response.code = code ? code->code : protocol::error::kServerError;
      response.reason = code ? std::string(code->reason) : "no valid ERROR-CODE";
      if (const auto alternate = valueOf(*message, attr::kAlternateServer)) {
        if (auto decoded = protocol::decodeAddress(*alternate)) {
          response.alternate_server = *decoded;
        }
      }
    } else if (authenticate && protocol::verifyMessageIntegrity(
                                   *message, auth::longTermKeyMd5(credentials_.username, realm_,
                                                                  credentials_.password)) ==
                                   protocol::IntegrityResult::kMismatch) {
      return std::unexpected(
          "the server's answer failed MESSAGE-INTEGRITY: it does not know this password, or "
          "something on the path altered the message");
    }
    response.bytes = std::move(*frame);
    return response;
  }
}

std::expected<TurnSession::Response, std::string> TurnSession::request(
    Method method, const AddAttributes& add, std::optional<Endpoint> peer) {
  const auto failure = [&](const Response& response, bool authenticated) {
    return std::unexpected(errorResponseMessage({.method = method,
                                                 .code = response.code,
                                                 .reason = response.reason,
                                                 .auth = credentials_.mode,
                                                 .authenticated = authenticated,
                                                 .peer = peer,
                                                 .alternate_server = response.alternate_server}));
  };
  // Learns REALM and NONCE from a 401 or 438 answer.
  const auto learn = [this](const Response& response) {
    const auto message = Message::parse(response.bytes);
    if (!message) {
      return false;
    }
    if (const auto realm = valueOf(*message, attr::kRealm)) {
      realm_ = protocol::decodeText(*realm);
    }
    const auto nonce = valueOf(*message, attr::kNonce);
    if (nonce) {
      nonce_ = protocol::decodeText(*nonce);
    }
    return nonce.has_value();
  };
  if (nonce_.empty()) {
    auto first = exchange(method, add, false);
    if (!first || first->code == 0) {
      return first;  // an I/O failure, or a server that asks for no credentials
    }
    if (first->code != protocol::error::kUnauthenticated) {
      return failure(*first, false);
    }
    if (!learn(*first)) {
      return std::unexpected("the server's 401 challenge carries no NONCE");
    }
  }
  for (int attempt = 0;; ++attempt) {
    auto response = exchange(method, add, true);
    if (!response || response->code == 0) {
      return response;
    }
    if (response->code == protocol::error::kStaleNonce && attempt == 0 && learn(*response)) {
      continue;  // RFC 8489 section 9.2.5: retry once with the new nonce
    }
    return failure(*response, true);
  }
}

std::expected<Endpoint, std::string> TurnSession::binding() {
  auto response = exchange(Method::kBinding, {}, false);
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->code != 0) {
    return std::unexpected(errorResponseMessage({.method = Method::kBinding,
                                                 .code = response->code,
                                                 .reason = response->reason,
                                                 .auth = credentials_.mode,
                                                 .authenticated = false}));
  }
  const auto message = Message::parse(response->bytes);
  const auto mapped = message ? mappedAddressOf(*message) : std::nullopt;
  if (!mapped) {
    return std::unexpected("the Binding answer carries no mapped address");
  }
  return *mapped;
}

std::expected<Allocation, std::string> TurnSession::allocate(protocol::AddressFamily family) {
  auto response = request(Method::kAllocate, [family](MessageBuilder& builder) {
    builder.addRequestedTransport(protocol::kProtocolUdp);
    if (family == protocol::AddressFamily::kIpv6) {
      builder.addAddressFamily(attr::kRequestedAddressFamily, family);
    }
  });
  if (!response) {
    return std::unexpected(response.error());
  }
  const auto message = Message::parse(response->bytes);
  const auto relayed = message ? xorAddressOf(*message, attr::kXorRelayedAddress) : std::nullopt;
  if (!relayed) {
    return std::unexpected("the Allocate answer carries no XOR-RELAYED-ADDRESS");
  }
  Allocation allocation{.relayed = *relayed};
  if (auto mapped = xorAddressOf(*message, attr::kXorMappedAddress)) {
    allocation.mapped = *mapped;
  }
  if (const auto lifetime = valueOf(*message, attr::kLifetime)) {
    allocation.lifetime = protocol::decodeU32(*lifetime).value_or(0);
  }
  return allocation;
}

std::expected<void, std::string> TurnSession::createPermission(const Endpoint& peer) {
  return succeeded(request(
      Method::kCreatePermission,
      [&peer](MessageBuilder& builder) { builder.addXorAddress(attr::kXorPeerAddress, peer); },
      peer));
}

std::expected<void, std::string> TurnSession::channelBind(std::uint16_t channel,
                                                          const Endpoint& peer) {
  return succeeded(request(
      Method::kChannelBind,
      [&](MessageBuilder& builder) {
        builder.addChannelNumber(channel);
        builder.addXorAddress(attr::kXorPeerAddress, peer);
      },
      peer));
}

std::expected<void, std::string> TurnSession::free() {
  return succeeded(request(Method::kRefresh,
                           [](MessageBuilder& builder) { builder.addU32(attr::kLifetime, 0); }));
}

std::expected<void, std::string> TurnSession::sendChannelData(std::uint16_t channel,
                                                              protocol::ConstBytes payload) {
  std::array<std::byte, 1500> buffer{};
  const bool stream = connection_.transport() != Transport::kUdp;
  auto built = protocol::buildChannelData(buffer, channel, payload, stream);
  if (!built) {
    return std::unexpected("cannot build ChannelData");
  }
  if (auto sent = connection_.send(*built, Clock::now() + timeout_); !sent) {
    return std::unexpected(describe(sent.error()));
  }
  return {};
}

bool TurnSession::awaitData(protocol::ConstBytes payload, Clock::time_point deadline) {
  const auto matches = [&payload](const Bytes& data) { return std::ranges::equal(data, payload); };
  for (;;) {
    while (!data_.empty()) {
      const bool found = matches(data_.front());
      data_.pop_front();
      if (found) {
        return true;
      }
    }
    auto frame = connection_.receive(deadline);
    if (!frame) {
      return false;
    }
    (void)queueData(*frame);
  }
}

std::optional<Endpoint> peerMappedAddress(const PeerSocket& peer, const Endpoint& server,
                                          std::chrono::milliseconds timeout) {
  std::array<std::byte, 512> buffer{};
  const protocol::TransactionId id = randomTransactionId();
  auto request = buildRequest(buffer, Method::kBinding, id, {}, nullptr, {}, {});
  if (!request) {
    return std::nullopt;
  }
  const auto deadline = Clock::now() + timeout;
  auto rto = kInitialRto;
  while (Clock::now() < deadline) {
    if (!peer.sendTo(server, *request)) {
      return std::nullopt;
    }
    const auto retransmit = std::min(deadline, Clock::now() + rto);
    rto *= 2;
    while (auto datagram = peer.receive(retransmit)) {
      auto message = Message::parse(datagram->bytes);
      if (datagram->source == server && message && isResponseTo(*message, Method::kBinding, id) &&
          message->messageClass() == MessageClass::kSuccessResponse) {
        return mappedAddressOf(*message);
      }
    }
  }
  return std::nullopt;
}

}  // namespace turnpike::server::selftest

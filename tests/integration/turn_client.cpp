#include "tests/integration/turn_client.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/byte_io.hpp"
#include "protocol/turn/channel_data.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::ConstBytes;
using protocol::Endpoint;
using protocol::Message;
using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::messageType;
using protocol::Method;
namespace attr = protocol::attr;

Millis remaining(Clock::time_point deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

std::function<void(MessageBuilder&)> requestedTransportUdp(std::uint32_t lifetime) {
  return [lifetime](MessageBuilder& b) {
    b.addRequestedTransport(protocol::kProtocolUdp);
    if (lifetime != 0) {
      b.addU32(attr::kLifetime, lifetime);
    }
  };
}

}  // namespace

// ---- TurnResponse ----

bool TurnResponse::isSuccess() const {
  return protocol::classOf(type) == MessageClass::kSuccessResponse;
}

std::optional<Message> TurnResponse::message() const {
  auto parsed = Message::parse(bytes);
  return parsed ? std::optional<Message>(*parsed) : std::nullopt;
}

bool TurnResponse::has(std::uint16_t attribute) const {
  const auto parsed = message();
  return parsed && parsed->has(attribute);
}

namespace {

// The value of `attribute` decoded by `decode(message, value)` (which returns something
// optional-like), or nullopt when the response does not parse, lacks it, or it does not decode.
template <typename T, typename Decode>
std::optional<T> decodedAttribute(const TurnResponse& response, std::uint16_t attribute,
                                  Decode decode) {
  const auto parsed = response.message();
  if (!parsed) {
    return std::nullopt;
  }
  const auto value = attributeValue(*parsed, attribute);
  if (!value) {
    return std::nullopt;
  }
  auto decoded = decode(*parsed, *value);
  return decoded ? std::optional<T>(*decoded) : std::nullopt;
}

}  // namespace

std::optional<std::string> TurnResponse::text(std::uint16_t attribute) const {
  return decodedAttribute<std::string>(*this, attribute, [](const Message&, ConstBytes value) {
    return std::optional<std::string>(protocol::decodeText(value));
  });
}

std::optional<std::uint32_t> TurnResponse::u32(std::uint16_t attribute) const {
  return decodedAttribute<std::uint32_t>(*this, attribute, [](const Message&, ConstBytes value) {
    return protocol::decodeU32(value);
  });
}

std::optional<Endpoint> TurnResponse::address(std::uint16_t attribute) const {
  return decodedAttribute<Endpoint>(*this, attribute, [](const Message&, ConstBytes value) {
    return protocol::decodeAddress(value);
  });
}

std::optional<Endpoint> TurnResponse::xorAddress(std::uint16_t attribute) const {
  return decodedAttribute<Endpoint>(*this, attribute, [](const Message& message, ConstBytes value) {
    return protocol::decodeXorAddress(value, message.transactionId());
  });
}

// ---- TurnClient ----

TurnClient::TurnClient(const Endpoint& server, TurnTransport transport, TurnCredentials credentials)
    : server_(server), transport_(transport), credentials_(std::move(credentials)) {
  fd_ = transport == TurnTransport::kUdp ? udpConnect(server) : tcpConnect(server);
}

TurnClient::TurnClient(const Endpoint& server, StreamIo io, TurnCredentials credentials)
    : server_(server),
      transport_(TurnTransport::kTcp),
      credentials_(std::move(credentials)),
      io_(std::move(io)) {}

bool TurnClient::moveTo(const Endpoint& local) {
  fd_ = udpConnectFrom(local, server_);
  return fd_.valid();
}

std::optional<Bytes> TurnClient::receiveExactly(std::size_t n, Millis timeout) {
  return io_.receive ? io_.receive(n, timeout) : recvExactly(fd_.get(), n, timeout);
}

auth::Md5Key TurnClient::key() const {
  return auth::longTermKeyMd5(credentials_.username, realm_, credentials_.password);
}

bool TurnClient::sendFrame(protocol::ConstBytes bytes) {
  if (io_.send) {
    return io_.send(bytes);
  }
  if (!fd_.valid()) {
    return false;
  }
  return transport_ == TurnTransport::kUdp ? sendUdp(fd_.get(), bytes) : sendAll(fd_.get(), bytes);
}

std::optional<TurnClient::Frame> TurnClient::readFrame(Millis timeout) {
  if (!connected()) {
    return std::nullopt;
  }
  if (transport_ == TurnTransport::kUdp) {
    auto datagram = recvUdp(fd_.get(), timeout);
    if (!datagram) {
      return std::nullopt;
    }
    const std::size_t size = datagram->size();
    return Frame{std::move(*datagram), size};
  }
  // A stream: the first 4 bytes say what follows (RFC 8656 section 12.5 for the padding).
  const auto deadline = Clock::now() + timeout;
  auto head = receiveExactly(protocol::kChannelDataHeaderSize, timeout);
  if (!head) {
    return std::nullopt;
  }
  const std::size_t length = protocol::load16(*head, 2);
  std::size_t rest = 0;
  if (protocol::looksLikeChannelData(*head)) {
    rest = protocol::channelDataSize(length, true) - protocol::kChannelDataHeaderSize;
  } else if ((protocol::load8(*head, 0) & 0xC0U) == 0) {
    rest = protocol::kHeaderSize - protocol::kChannelDataHeaderSize + length;
  } else {
    ADD_FAILURE() << "the stream carries neither STUN nor ChannelData";
    return std::nullopt;
  }
  auto body = receiveExactly(rest, remaining(deadline));
  if (!body) {
    return std::nullopt;
  }
  head->insert(head->end(), body->begin(), body->end());
  const std::size_t size = head->size();
  return Frame{std::move(*head), size};
}

bool TurnClient::queueData(const Frame& frame) {
  if (protocol::looksLikeChannelData(frame.bytes)) {
    auto channel_data = protocol::parseChannelData(frame.bytes);
    if (!channel_data) {
      ADD_FAILURE() << "malformed ChannelData from the server: "
                    << protocol::toString(channel_data.error());
      return false;
    }
    DataFrame data;
    data.kind = DataFrame::Kind::kChannelData;
    data.channel = channel_data->channel;
    data.payload.assign(channel_data->data.begin(), channel_data->data.end());
    data.wire_size = frame.wire_size;
    data_.push_back(std::move(data));
    return true;
  }
  auto message = Message::parse(frame.bytes);
  if (!message || message->type() != messageType(Method::kData, MessageClass::kIndication)) {
    return false;
  }
  const auto peer = attributeValue(*message, attr::kXorPeerAddress);
  const auto payload = attributeValue(*message, attr::kData);
  if (!peer || !payload) {
    ADD_FAILURE() << "Data indication without XOR-PEER-ADDRESS or DATA";
    return false;
  }
  auto decoded = protocol::decodeXorAddress(*peer, message->transactionId());
  if (!decoded) {
    ADD_FAILURE() << "Data indication with a bad XOR-PEER-ADDRESS";
    return false;
  }
  DataFrame data;
  data.kind = DataFrame::Kind::kDataIndication;
  data.peer = *decoded;
  data.payload.assign(payload->begin(), payload->end());
  data.wire_size = frame.wire_size;
  data_.push_back(std::move(data));
  return true;
}

std::optional<TurnResponse> TurnClient::exchange(const Bytes& request, Millis timeout) {
  const auto request_message = Message::parse(request);
  if (!request_message || !sendFrame(request)) {
    return std::nullopt;
  }
  const protocol::TransactionId id = request_message->transactionId();
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto frame = readFrame(remaining(deadline));
    if (!frame) {
      return std::nullopt;
    }
    if (queueData(*frame)) {
      continue;
    }
    auto message = Message::parse(frame->bytes);
    if (!message || message->transactionId() != id) {
      continue;  // not ours (e.g. an answer to an earlier, timed-out request)
    }
    const MessageClass cls = message->messageClass();
    if (cls != MessageClass::kSuccessResponse && cls != MessageClass::kErrorResponse) {
      continue;
    }
    TurnResponse response;
    response.type = message->type();
    if (cls == MessageClass::kErrorResponse) {
      const auto code = attributeValue(*message, attr::kErrorCode);
      auto decoded = code ? protocol::decodeErrorCode(*code)
                          : std::unexpected(protocol::AttributeError::kBadLength);
      if (!decoded) {
        ADD_FAILURE() << "error response without a valid ERROR-CODE";
      }
      response.code = decoded ? decoded->code : 0;
    }
    response.bytes = std::move(frame->bytes);
    return response;
  }
  return std::nullopt;
}

void TurnClient::learnChallenge(const TurnResponse& response) {
  if (auto realm = response.text(attr::kRealm)) {
    realm_ = std::move(*realm);
  }
  if (auto nonce = response.text(attr::kNonce)) {
    nonce_ = std::move(*nonce);
  }
}

std::optional<TurnResponse> TurnClient::authenticatedRequest(
    Method method, const std::function<void(MessageBuilder&)>& add) {
  const auth::Md5Key long_term_key = key();
  const Bytes request = buildMessage(
      randomTransactionId(),
      [&](MessageBuilder& b) {
        if (add) {
          add(b);
        }
        b.addText(attr::kUsername, credentials_.username);
        b.addText(attr::kRealm, realm_);
        b.addText(attr::kNonce, nonce_);
        b.addMessageIntegrity(long_term_key);
      },
      messageType(method, MessageClass::kRequest));
  return exchange(request);
}

std::optional<TurnResponse> TurnClient::withNonceRetry(
    Method method, const std::function<void(MessageBuilder&)>& add) {
  auto response = authenticatedRequest(method, add);
  if (response && response->code == protocol::error::kStaleNonce) {
    learnChallenge(*response);
    response = authenticatedRequest(method, add);
  }
  return response;
}

std::optional<TurnResponse> TurnClient::challenge() {
  auto response = exchange(buildMessage(randomTransactionId(), requestedTransportUdp(0),
                                        messageType(Method::kAllocate, MessageClass::kRequest)));
  if (response && response->code == protocol::error::kUnauthenticated) {
    learnChallenge(*response);
  }
  return response;
}

std::optional<TurnResponse> TurnClient::allocate(std::uint32_t lifetime) {
  if (nonce_.empty()) {
    auto first = challenge();
    if (!first || first->code != protocol::error::kUnauthenticated) {
      return first;  // no answer, or not the challenge: the test looks at it
    }
  }
  auto response = withNonceRetry(Method::kAllocate, requestedTransportUdp(lifetime));
  if (response && response->isSuccess()) {
    relayed_ = response->xorAddress(attr::kXorRelayedAddress);
  }
  return response;
}

std::optional<TurnResponse> TurnClient::allocateWithTicket() {
  if (nonce_.empty()) {
    auto first = challenge();
    if (!first || first->code != protocol::error::kUnauthenticated) {
      return first;
    }
  }
  auto response = withNonceRetry(Method::kAllocate, [](MessageBuilder& b) {
    b.addRequestedTransport(protocol::kProtocolUdp);
    b.addBytes(attr::kMobilityTicket, {});
  });
  if (response && response->isSuccess()) {
    relayed_ = response->xorAddress(attr::kXorRelayedAddress);
  }
  return response;
}

std::optional<TurnResponse> TurnClient::refreshWithTicket(protocol::ConstBytes ticket) {
  const Bytes copy(ticket.begin(), ticket.end());
  return withNonceRetry(Method::kRefresh,
                        [copy](MessageBuilder& b) { b.addBytes(attr::kMobilityTicket, copy); });
}

std::optional<TurnResponse> TurnClient::refresh(std::optional<std::uint32_t> lifetime) {
  return withNonceRetry(Method::kRefresh, [lifetime](MessageBuilder& b) {
    if (lifetime) {
      b.addU32(attr::kLifetime, *lifetime);
    }
  });
}

std::optional<TurnResponse> TurnClient::createPermission(const Endpoint& peer) {
  return withNonceRetry(Method::kCreatePermission, [&peer](MessageBuilder& b) {
    b.addXorAddress(attr::kXorPeerAddress, peer);
  });
}

std::optional<TurnResponse> TurnClient::channelBind(std::uint16_t channel, const Endpoint& peer) {
  return withNonceRetry(Method::kChannelBind, [&](MessageBuilder& b) {
    b.addChannelNumber(channel);
    b.addXorAddress(attr::kXorPeerAddress, peer);
  });
}

bool TurnClient::sendIndication(const Endpoint& peer, protocol::ConstBytes payload) {
  const Bytes indication = buildMessage(
      randomTransactionId(),
      [&](MessageBuilder& b) {
        b.addXorAddress(attr::kXorPeerAddress, peer);
        b.addBytes(attr::kData, payload);
      },
      messageType(Method::kSend, MessageClass::kIndication));
  return !indication.empty() && sendFrame(indication);
}

bool TurnClient::sendChannelData(std::uint16_t channel, protocol::ConstBytes payload) {
  const bool stream = transport_ != TurnTransport::kUdp;
  Bytes buffer(protocol::channelDataSize(payload.size(), stream));
  auto built = protocol::buildChannelData(buffer, channel, payload, stream);
  if (!built) {
    ADD_FAILURE() << "building ChannelData: " << protocol::toString(built.error());
    return false;
  }
  return sendFrame(*built);
}

std::optional<DataFrame> TurnClient::receiveData(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (data_.empty()) {
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    auto frame = readFrame(remaining(deadline));
    if (!frame) {
      return std::nullopt;
    }
    (void)queueData(*frame);  // anything else (a late response) is skipped
  }
  DataFrame next = std::move(data_.front());
  data_.pop_front();
  return next;
}

bool TurnClient::noData(Millis window) { return !receiveData(window).has_value(); }

// ---- UdpPeer, payloads ----

UdpPeer::UdpPeer() : fd_(boundSocket(SOCK_DGRAM, loopback(false))) {
  if (fd_.valid()) {
    endpoint_ = localEndpointOf(fd_.get());
  } else {
    ADD_FAILURE() << "cannot bind a peer socket on 127.0.0.1";
  }
}

Bytes patternPayload(std::size_t n, std::uint8_t seed) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::byte>((i + seed) % 251);
  }
  return out;
}

}  // namespace turnpike::test

#include "benchmarks/load_turn.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/builder.hpp"

namespace turnpike::bench {
namespace {

using protocol::MessageBuilder;
using protocol::MessageClass;
using protocol::Method;
namespace attr = protocol::attr;

}  // namespace

std::uint64_t Errors::total() const {
  std::uint64_t sum = timeouts + broken + invalid;
  for (const auto& [code, count] : codes) {
    sum += count;
  }
  return sum;
}

std::uint64_t Errors::code(std::uint16_t c) const {
  const auto it = codes.find(c);
  return it == codes.end() ? 0 : it->second;
}

std::string Errors::summary() const {
  std::string text;
  for (const auto& [code, count] : codes) {
    if (!text.empty()) {
      text += ',';
    }
    text.append(std::to_string(code)).append(":").append(std::to_string(count));
  }
  return text.empty() ? "none" : text;
}

TurnSteps::TurnSteps(Credentials& credentials, Errors& errors, Settings settings)
    : credentials_(credentials),
      errors_(errors),
      settings_(settings),
      random_(std::random_device{}()) {}

bool TurnSteps::isPending(const Flow& flow) const {
  switch (flow.step) {
    case Step::kChallenge:
    case Step::kAllocate:
    case Step::kBind:
    case Step::kBareSetup:
    case Step::kRefresh:
    case Step::kDelete:
      return true;
    default:
      return false;
  }
}

void TurnSteps::begin(Flow& flow, bool bare, Clock::time_point now) {
  flow.stale_nonces = 0;
  flow.nonce.clear();
  if (bare) {
    flow.step = Step::kBareSetup;
    flow.request.assign(kBareSetupSize, std::byte{0});
    std::memcpy(flow.request.data(), kBareMagic.data(), kBareMagic.size());
    protocol::store16(flow.request, kBareMagic.size(), flow.peer.port);
    sendNew(flow, now);
    return;
  }
  flow.step = Step::kChallenge;
  buildAllocate(flow, false);
  sendNew(flow, now);
}

void TurnSteps::refresh(Flow& flow, std::uint32_t lifetime, Clock::time_point now) {
  flow.step = lifetime == 0 ? Step::kDelete : Step::kRefresh;
  buildRefresh(flow, lifetime);
  sendNew(flow, now);
}

void TurnSteps::addAuth(MessageBuilder& builder, const Flow& flow) {
  builder.addText(attr::kUsername, credentials_.username);
  builder.addText(attr::kRealm, credentials_.realm);
  builder.addText(attr::kNonce, flow.nonce);
  builder.addMessageIntegrity(credentials_.key);
}

MessageBuilder TurnSteps::startRequest(Flow& flow, Method method) {
  for (auto& b : flow.tid) {
    b = static_cast<std::byte>(random_());
  }
  return MessageBuilder(buffer_, messageType(method, MessageClass::kRequest), flow.tid);
}

void TurnSteps::keepRequest(Flow& flow, const MessageBuilder& builder) {
  const auto bytes = builder.finish();
  flow.request.assign(bytes->begin(), bytes->end());
}

void TurnSteps::buildAllocate(Flow& flow, bool authenticated) {
  MessageBuilder builder = startRequest(flow, Method::kAllocate);
  builder.addRequestedTransport(protocol::kProtocolUdp);
  if (settings_.lifetime != 0) {
    builder.addU32(attr::kLifetime, settings_.lifetime);
  }
  if (authenticated) {
    addAuth(builder, flow);
  }
  keepRequest(flow, builder);
}

void TurnSteps::buildChannelBind(Flow& flow) {
  MessageBuilder builder = startRequest(flow, Method::kChannelBind);
  builder.addChannelNumber(kChannel);
  builder.addXorAddress(attr::kXorPeerAddress, flow.peer);
  addAuth(builder, flow);
  keepRequest(flow, builder);
}

void TurnSteps::buildRefresh(Flow& flow, std::uint32_t lifetime) {
  MessageBuilder builder = startRequest(flow, Method::kRefresh);
  builder.addU32(attr::kLifetime, lifetime);
  addAuth(builder, flow);
  keepRequest(flow, builder);
}

void TurnSteps::sendNew(Flow& flow, Clock::time_point now) {
  flow.transmissions = 0;
  transmit(flow, now);
}

void TurnSteps::transmit(Flow& flow, Clock::time_point now) {
  ++flow.transmissions;
  flow.sent_at = now;
  if (!flow.conn.send(flow.request)) {
    ++errors_.broken;
    fail(flow);
  }
}

void TurnSteps::fail(Flow& flow) {
  flow.step = Step::kFailed;
  flow.conn.close();
}

void TurnSteps::checkTimeout(Flow& flow, Clock::time_point now) {
  if (!isPending(flow)) {
    return;
  }
  if (flow.conn.isStream()) {
    if (now - flow.sent_at > settings_.stream_timeout) {
      ++errors_.timeouts;
      fail(flow);
    }
    return;
  }
  if (now - flow.sent_at < settings_.rto) {
    return;
  }
  if (flow.transmissions >= settings_.max_transmissions) {
    ++errors_.timeouts;
    fail(flow);
    return;
  }
  ++retransmissions;
  transmit(flow, now);
}

// Re-sends the current step's request with the nonce just learned (438, RFC 8489 9.2.5).
void TurnSteps::resendCurrent(Flow& flow, Clock::time_point now) {
  switch (flow.step) {
    case Step::kAllocate:
      buildAllocate(flow, true);
      break;
    case Step::kBind:
      buildChannelBind(flow);
      break;
    case Step::kRefresh:
    case Step::kDelete:
      buildRefresh(flow, flow.step == Step::kDelete ? 0 : settings_.lifetime);
      break;
    default:
      fail(flow);
      return;
  }
  sendNew(flow, now);
}

bool TurnSteps::onBareAnswer(Flow& flow, ConstBytes message) {
  if (flow.step != Step::kBareSetup || message.size() != kBareSetupSize ||
      std::memcmp(message.data(), kBareMagic.data(), kBareMagic.size()) != 0) {
    ++errors_.invalid;
    return false;
  }
  flow.relayed = {protocol::IpAddress::v4({127, 0, 0, 1}),
                  protocol::load16(message, kBareMagic.size())};
  flow.step = Step::kReady;
  return true;
}

bool TurnSteps::onMessage(Flow& flow, ConstBytes message, Clock::time_point now) {
  if (flow.step == Step::kBareSetup) {
    return onBareAnswer(flow, message);
  }
  auto parsed = protocol::Message::parse(message);
  if (!parsed) {
    ++errors_.invalid;
    return false;
  }
  if (!isPending(flow) || parsed->transactionId() != flow.tid) {
    return false;  // a late answer to a retransmission
  }
  const Step before = flow.step;
  if (parsed->messageClass() == MessageClass::kSuccessResponse) {
    onSuccess(flow, *parsed, now);
  } else if (parsed->messageClass() == MessageClass::kErrorResponse) {
    onError(flow, *parsed, now);
  } else {
    ++errors_.invalid;
  }
  return flow.step != before &&
         (flow.step == Step::kReady || flow.step == Step::kDone || flow.step == Step::kFailed);
}

void TurnSteps::onSuccess(Flow& flow, const protocol::Message& message, Clock::time_point now) {
  switch (flow.step) {
    case Step::kAllocate: {
      const auto* relayed = message.find(attr::kXorRelayedAddress);
      const auto* lifetime = message.find(attr::kLifetime);
      auto endpoint = relayed == nullptr ? std::unexpected(protocol::AttributeError::kBadValue)
                                         : protocol::decodeXorAddress(message.value(*relayed),
                                                                      message.transactionId());
      if (!endpoint) {
        ++errors_.invalid;
        fail(flow);
        return;
      }
      ++allocated;
      flow.relayed = *endpoint;
      flow.lifetime =
          lifetime == nullptr ? 600 : protocol::decodeU32(message.value(*lifetime)).value_or(600);
      flow.refresh_at = now + std::chrono::seconds(std::max<std::uint32_t>(flow.lifetime / 2, 1));
      if (flow.plan == Plan::kBind) {
        flow.step = Step::kBind;
        buildChannelBind(flow);
        sendNew(flow, now);
      } else if (flow.plan == Plan::kDelete) {
        refresh(flow, 0, now);
      } else {
        flow.step = Step::kReady;
      }
      return;
    }
    case Step::kBind:
      flow.step = Step::kReady;
      return;
    case Step::kRefresh: {
      const auto* lifetime = message.find(attr::kLifetime);
      flow.lifetime = lifetime == nullptr
                          ? flow.lifetime
                          : protocol::decodeU32(message.value(*lifetime)).value_or(flow.lifetime);
      flow.refresh_at = now + std::chrono::seconds(std::max<std::uint32_t>(flow.lifetime / 2, 1));
      flow.step = Step::kReady;
      return;
    }
    case Step::kDelete:
      ++deleted;
      flow.step = Step::kDone;
      return;
    default:
      ++errors_.invalid;  // a success answer to the unauthenticated Allocate
      fail(flow);
      return;
  }
}

void TurnSteps::onError(Flow& flow, const protocol::Message& message, Clock::time_point now) {
  const auto* error = message.find(attr::kErrorCode);
  auto value = error == nullptr ? std::unexpected(protocol::AttributeError::kBadValue)
                                : protocol::decodeErrorCode(message.value(*error));
  const std::uint16_t code = value ? value->code : 0;
  const auto* nonce = message.find(attr::kNonce);
  const auto* realm = message.find(attr::kRealm);
  // RFC 8489 9.2.5: the 401 to the first request carries REALM and NONCE.
  if (code == protocol::error::kUnauthenticated && flow.step == Step::kChallenge &&
      nonce != nullptr && realm != nullptr) {
    const std::string_view realm_text = protocol::decodeText(message.value(*realm));
    if (credentials_.realm != realm_text) {
      credentials_.realm = realm_text;
      credentials_.key =
          auth::longTermKeyMd5(credentials_.username, credentials_.realm, credentials_.password);
    }
    flow.nonce = protocol::decodeText(message.value(*nonce));
    flow.step = Step::kAllocate;
    buildAllocate(flow, true);
    sendNew(flow, now);
    return;
  }
  // 438 Stale Nonce: retry with the new NONCE, a few times at most.
  if (code == protocol::error::kStaleNonce && nonce != nullptr && flow.stale_nonces++ < 3) {
    flow.nonce = protocol::decodeText(message.value(*nonce));
    resendCurrent(flow, now);
    return;
  }
  ++errors_.codes[code];
  fail(flow);
}

}  // namespace turnpike::bench

#include "protocol/turn/stats.hpp"

#include <algorithm>

namespace turnpike::protocol {

std::string_view toString(ClientTransport transport) {
  switch (transport) {
    case ClientTransport::kUdp:
      return "udp";
    case ClientTransport::kTcp:
      return "tcp";
    case ClientTransport::kTls:
      return "tls";
    case ClientTransport::kDtls:
      return "dtls";
  }
  return "udp";
}

std::string_view toString(RequestMethod method) {
  switch (method) {
    case RequestMethod::kAllocate:
      return "allocate";
    case RequestMethod::kRefresh:
      return "refresh";
    case RequestMethod::kCreatePermission:
      return "create_permission";
    case RequestMethod::kChannelBind:
      return "channel_bind";
    case RequestMethod::kConnect:
      return "connect";
    case RequestMethod::kConnectionBind:
      return "connection_bind";
  }
  return "unknown";
}

std::string_view toString(RedirectReason reason) {
  return reason == RedirectReason::kDraining ? "draining" : "load";
}

std::size_t requestResultIndex(std::uint16_t code) {
  const auto* it = std::ranges::find(kResultCodes, code);
  return static_cast<std::size_t>(it - kResultCodes.begin());  // kResultCodes.size() = other
}

std::string_view requestResultLabel(std::size_t index) {
  static constexpr std::array<std::string_view, kRequestResultCount> kLabels{
      "success", "300", "400", "401", "403", "420", "437",  "438",
      "440",     "441", "442", "443", "486", "508", "other"};
  return index < kLabels.size() ? kLabels[index] : "other";
}

std::string_view toString(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::kNoCredentials:
      return "no_credentials";
    case AuthFailure::kBadRequest:
      return "bad_request";
    case AuthFailure::kStaleNonce:
      return "stale_nonce";
    case AuthFailure::kUnknownUser:
      return "unknown_user";
    case AuthFailure::kExpired:
      return "expired";
    case AuthFailure::kBadIntegrity:
      return "bad_integrity";
    case AuthFailure::kWrongCredentials:
      return "wrong_credentials";
  }
  return "unknown";
}

std::string_view toString(RelayDrop drop) {
  switch (drop) {
    case RelayDrop::kNoAllocation:
      return "no_allocation";
    case RelayDrop::kNoPermission:
      return "no_permission";
    case RelayDrop::kNoChannel:
      return "no_channel";
    case RelayDrop::kDenied:
      return "denied";
    case RelayDrop::kMalformed:
      return "malformed";
    case RelayDrop::kSendFailed:
      return "send_failed";
    case RelayDrop::kBandwidth:
      return "bandwidth";
    case RelayDrop::kUserBandwidth:
      return "user_bandwidth";
  }
  return "unknown";
}

}  // namespace turnpike::protocol

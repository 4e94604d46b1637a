#include "server/http/ice_uris.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "server/turn_support.hpp"

namespace turnpike::server {
namespace {

using protocol::IpAddress;

// 0 UDP, 1 TCP, 2 TLS: the order of `uris`. RFC 7065 section 3: turn: without a transport
// parameter is tried over UDP first.
int transportRank(std::string_view uri) {
  if (uri.starts_with("turns:")) {
    return 2;
  }
  const std::size_t query = uri.find('?');
  if (query == std::string_view::npos) {
    return 0;
  }
  std::string_view params = uri.substr(query + 1);
  while (!params.empty()) {
    const std::size_t amp = params.find('&');
    if (params.substr(0, amp) == "transport=tcp") {
      return 1;
    }
    params = amp == std::string_view::npos ? "" : params.substr(amp + 1);
  }
  return 0;
}

// Where clients reach this listener (see the header for the order of preference).
std::vector<IpAddress> hostsFor(const ListenerConfig& listener, const ServerConfig& config,
                                std::span<const protocol::RelayAddress> relays) {
  std::vector<IpAddress> hosts;
  const auto add_same_family = [&](const IpAddress& address) {
    if (address.family() == listener.address.family() &&
        std::ranges::find(hosts, address) == hosts.end()) {
      hosts.push_back(address);
    }
  };
  std::ranges::for_each(config.relay.external_addresses, add_same_family);
  if (hosts.empty() && !isWildcard(listener.address)) {
    hosts.push_back(listener.address);
  }
  if (hosts.empty()) {
    for (const protocol::RelayAddress& relay : relays) {
      add_same_family(relay.advertised);
    }
  }
  return hosts;
}

void addOnce(std::vector<std::string>& uris, std::string uri) {
  if (std::ranges::find(uris, uri) == uris.end()) {
    uris.push_back(std::move(uri));
  }
}

}  // namespace

IceUris classifyPublicUris(const std::vector<std::string>& uris) {
  IceUris out;
  for (const std::string& uri : uris) {
    addOnce(uri.starts_with("stun:") ? out.stun : out.turn, uri);
  }
  std::ranges::stable_sort(out.turn, {}, [](const std::string& uri) { return transportRank(uri); });
  return out;
}

IceUris deriveIceUris(const ServerConfig& config, std::span<const protocol::RelayAddress> relays) {
  IceUris out;
  bool stun_done = false;
  for (const Transport transport : {Transport::kUdp, Transport::kTcp, Transport::kTls}) {
    for (const ListenerConfig& listener : config.listeners) {
      // An auto listener serves both turn:...?transport=tcp and turns:.
      const bool serves = listener.transport == transport ||
                          (listener.transport == Transport::kAuto && transport != Transport::kUdp);
      if (!serves) {
        continue;
      }
      const std::vector<IpAddress> hosts = hostsFor(listener, config, relays);
      for (const IpAddress& host : hosts) {
        const std::string where = protocol::Endpoint{host, listener.port}.toString();
        addOnce(out.turn, (transport == Transport::kTls ? "turns:" : "turn:") + where +
                              (transport == Transport::kUdp ? "?transport=udp" : "?transport=tcp"));
        if (transport == Transport::kUdp && !stun_done) {
          addOnce(out.stun, "stun:" + where);
        }
      }
      stun_done = stun_done || (transport == Transport::kUdp && !hosts.empty());
    }
  }
  return out;
}

IceUris iceUrisFor(const ServerConfig& config, std::span<const protocol::RelayAddress> relays) {
  return config.public_uris.empty() ? deriveIceUris(config, relays)
                                    : classifyPublicUris(config.public_uris);
}

}  // namespace turnpike::server

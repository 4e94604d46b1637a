// The kernel fast path (fast_path: ebpf): loads server/fastpath/relay.bpf.c, attaches it at TC
// ingress (clsact) of the interfaces that carry the listener and relay addresses, and keeps its
// maps in step with the channels user space has bound. IPv4 UDP clients only; everything else
// stays in user space. Needs CAP_BPF + CAP_NET_ADMIN (root) and a kernel with BTF; when it
// cannot load, attach() says why and the server carries on in user space.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/stun/endpoint.hpp"

struct relay_bpf;

namespace turnpike::server::fastpath {

// One bound channel of a UDP client: both directions.
struct ChannelRoute {
  protocol::Endpoint client;  // the client's address as the server sees it
  protocol::Endpoint server;  // the listener it sends to
  protocol::Endpoint relay;   // the allocation's relayed transport address (local)
  protocol::Endpoint peer;
  std::uint16_t channel = 0;
};

struct ChannelCounts {
  std::uint64_t to_peer_packets = 0;
  std::uint64_t to_peer_bytes = 0;
  std::uint64_t to_client_packets = 0;
  std::uint64_t to_client_bytes = 0;

  ChannelCounts& operator+=(const ChannelCounts& other) {
    to_peer_packets += other.to_peer_packets;
    to_peer_bytes += other.to_peer_bytes;
    to_client_packets += other.to_client_packets;
    to_client_bytes += other.to_client_bytes;
    return *this;
  }
};

class EbpfFastPath {
 public:
  // Loads the program and attaches it to each interface (by name, e.g. "lo", "eth0").
  [[nodiscard]] static std::expected<std::unique_ptr<EbpfFastPath>, std::string> attach(
      const std::vector<std::string>& interfaces);
  // The interfaces that hold these local addresses (getifaddrs); an address no interface has
  // (0.0.0.0) means every interface that is up.
  [[nodiscard]] static std::vector<std::string> interfacesFor(
      const std::vector<protocol::IpAddress>& addresses);

  ~EbpfFastPath();
  EbpfFastPath(const EbpfFastPath&) = delete;
  EbpfFastPath& operator=(const EbpfFastPath&) = delete;

  // False when the route cannot be served in the kernel (IPv6) or the map is full.
  [[nodiscard]] bool install(const ChannelRoute& route);
  void remove(const ChannelRoute& route);
  // What the kernel relayed for the route since it was installed.
  [[nodiscard]] std::optional<ChannelCounts> counts(const ChannelRoute& route) const;
  // What the kernel relayed in all (summed over CPUs); callable from any thread.
  [[nodiscard]] ChannelCounts totals() const;

 private:
  struct Attachment {
    int ifindex = 0;
    bool created_qdisc = false;
  };
  EbpfFastPath() = default;

  relay_bpf* skeleton_ = nullptr;
  std::vector<Attachment> attachments_;
};

}  // namespace turnpike::server::fastpath

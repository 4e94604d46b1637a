#include "server/fastpath/ebpf_fast_path.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "server/fastpath/relay.skel.h"
#include "server/fastpath/relay_maps.h"

namespace turnpike::server::fastpath {
namespace {

std::string errorText(int error) { return std::strerror(error < 0 ? -error : error); }

// A hop in network byte order: this host's end and the other one.
tp_hop hop(const protocol::Endpoint& local, const protocol::Endpoint& remote) {
  tp_hop out{};
  std::memcpy(&out.local_addr, local.address.bytes().data(), sizeof(out.local_addr));
  std::memcpy(&out.remote_addr, remote.address.bytes().data(), sizeof(out.remote_addr));
  out.local_port = htons(local.port);
  out.remote_port = htons(remote.port);
  return out;
}

tp_to_peer_key toPeerKey(const ChannelRoute& route) {
  return {.client = hop(route.server, route.client), .channel = htons(route.channel), .pad = 0};
}

// The to_client map's key: the peer's hop.
tp_hop peerHop(const ChannelRoute& route) { return hop(route.relay, route.peer); }

bool allIpv4(const ChannelRoute& route) {
  return route.client.address.isV4() && route.server.address.isV4() && route.relay.address.isV4() &&
         route.peer.address.isV4();
}

bpf_tc_hook ingressHook(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  return hook;
}

bpf_tc_opts filterOptions(int prog_fd) {
  bpf_tc_opts options{};
  options.sz = sizeof(options);
  options.handle = 0x7470;  // "tp"
  options.priority = 1;
  options.prog_fd = prog_fd;
  return options;
}

}  // namespace

std::expected<std::unique_ptr<EbpfFastPath>, std::string> EbpfFastPath::attach(
    const std::vector<std::string>& interfaces) {
  if (interfaces.empty()) {
    return std::unexpected("no interface to attach to");
  }
  std::unique_ptr<EbpfFastPath> fast_path(new EbpfFastPath());
  fast_path->skeleton_ = relay_bpf__open_and_load();
  if (fast_path->skeleton_ == nullptr) {
    return std::unexpected("cannot load the BPF program: " + errorText(errno) +
                           " (needs root or CAP_BPF+CAP_NET_ADMIN and a kernel with BTF)");
  }
  const int prog_fd = bpf_program__fd(fast_path->skeleton_->progs.turnpike_relay);
  for (const std::string& name : interfaces) {
    const int ifindex = static_cast<int>(if_nametoindex(name.c_str()));
    if (ifindex == 0) {
      return std::unexpected("no interface " + name);
    }
    bpf_tc_hook hook = ingressHook(ifindex);
    const int created = bpf_tc_hook_create(&hook);
    if (created != 0 && created != -EEXIST) {
      return std::unexpected("cannot add a clsact qdisc to " + name + ": " + errorText(created));
    }
    fast_path->attachments_.push_back({ifindex, created == 0});
    bpf_tc_opts options = filterOptions(prog_fd);
    if (const int attached = bpf_tc_attach(&hook, &options); attached != 0) {
      return std::unexpected("cannot attach to " + name + ": " + errorText(attached));
    }
  }
  return fast_path;
}

std::vector<std::string> EbpfFastPath::interfacesFor(
    const std::vector<protocol::IpAddress>& addresses) {
  std::vector<std::string> names;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return names;
  }
  const bool any = std::ranges::any_of(addresses, [](const protocol::IpAddress& address) {
    return address == protocol::IpAddress::v4({0, 0, 0, 0});
  });
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET ||
        (entry->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    std::array<std::uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr,
                bytes.size());  // NOLINT
    const protocol::IpAddress address = protocol::IpAddress::v4(bytes);
    if ((any || std::ranges::find(addresses, address) != addresses.end()) &&
        std::ranges::find(names, entry->ifa_name) == names.end()) {
      names.emplace_back(entry->ifa_name);
    }
  }
  freeifaddrs(list);
  return names;
}

EbpfFastPath::~EbpfFastPath() {
  for (const Attachment& attachment : attachments_) {
    bpf_tc_hook hook = ingressHook(attachment.ifindex);
    bpf_tc_opts options = filterOptions(0);
    (void)bpf_tc_detach(&hook, &options);
    if (attachment.created_qdisc) {
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      (void)bpf_tc_hook_destroy(&hook);
    }
  }
  relay_bpf__destroy(skeleton_);
}

bool EbpfFastPath::install(const ChannelRoute& route) {
  if (!allIpv4(route)) {
    return false;
  }
  // Each direction's value is the other direction's hop.
  const tp_to_peer_key peer_key = toPeerKey(route);
  const tp_hop client_key = peerHop(route);
  const tp_to_peer_value peer_value{.peer = client_key, .packets = 0, .bytes = 0};
  const tp_to_client_value client_value{.client = peer_key.client,
                                        .channel = peer_key.channel,
                                        .pad = 0,
                                        .pad2 = 0,
                                        .packets = 0,
                                        .bytes = 0};
  const int to_peer = bpf_map__fd(skeleton_->maps.to_peer);
  const int to_client = bpf_map__fd(skeleton_->maps.to_client);
  if (bpf_map_update_elem(to_peer, &peer_key, &peer_value, BPF_ANY) != 0) {
    return false;
  }
  if (bpf_map_update_elem(to_client, &client_key, &client_value, BPF_ANY) != 0) {
    (void)bpf_map_delete_elem(to_peer, &peer_key);
    return false;
  }
  return true;
}

void EbpfFastPath::remove(const ChannelRoute& route) {
  if (!allIpv4(route)) {
    return;
  }
  const tp_to_peer_key peer_key = toPeerKey(route);
  const tp_hop client_key = peerHop(route);
  (void)bpf_map_delete_elem(bpf_map__fd(skeleton_->maps.to_peer), &peer_key);
  (void)bpf_map_delete_elem(bpf_map__fd(skeleton_->maps.to_client), &client_key);
}

std::optional<ChannelCounts> EbpfFastPath::counts(const ChannelRoute& route) const {
  if (!allIpv4(route)) {
    return std::nullopt;
  }
  const tp_to_peer_key peer_key = toPeerKey(route);
  const tp_hop client_key = peerHop(route);
  tp_to_peer_value peer_value{};
  tp_to_client_value client_value{};
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.to_peer), &peer_key, &peer_value) != 0 ||
      bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.to_client), &client_key, &client_value) !=
          0) {
    return std::nullopt;
  }
  return ChannelCounts{peer_value.packets, peer_value.bytes, client_value.packets,
                       client_value.bytes};
}

ChannelCounts EbpfFastPath::totals() const {
  ChannelCounts sum;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) {
    return sum;
  }
  std::vector<tp_totals> per_cpu(static_cast<std::size_t>(cpus));
  const __u32 zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.totals), &zero, per_cpu.data()) != 0) {
    return sum;
  }
  for (const tp_totals& cpu : per_cpu) {
    sum += {cpu.to_peer_packets, cpu.to_peer_bytes, cpu.to_client_packets, cpu.to_client_bytes};
  }
  return sum;
}

}  // namespace turnpike::server::fastpath

// turnpike's kernel fast path (fast_path: ebpf): a TC ingress program that relays ChannelData
// between UDP clients and their peers for channels user space has installed, without waking the
// server. IPv4 only; everything it does not recognise goes on to user space untouched.
//
//   client -> server  ChannelData to a listener, key (client, listener, channel) in to_peer:
//                     the 4-byte header is removed, the datagram leaves from the relay address
//                     and port to the peer.
//   peer -> relay     a datagram to a relay port from the bound peer, key (relay, peer) in
//                     to_client: a 4-byte ChannelData header is added, the datagram leaves from
//                     the listener to the client.
//
// User space (server/fastpath/ebpf_fast_path.cpp) installs an entry when a channel is bound and
// its permission is valid, removes it when either expires or the allocation ends, and reads the
// per-entry counters. The peer policy is enforced by ChannelBind in user space: no entry exists
// for a denied peer.
//
// After the rewrite the packet is routed again: a local destination (loopback, the benchmark)
// is delivered by returning TC_ACT_OK; a remote one is redirected out of the interface the FIB
// names, with its MAC addresses.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "server/fastpath/relay_maps.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, TURNPIKE_FAST_PATH_MAX_CHANNELS);
  __type(key, struct tp_to_peer_key);
  __type(value, struct tp_to_peer_value);
} to_peer SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, TURNPIKE_FAST_PATH_MAX_CHANNELS);
  __type(key, struct tp_hop);  // the peer's hop
  __type(value, struct tp_to_client_value);
} to_client SEC(".maps");

#define AF_INET 2
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct tp_totals);
} totals SEC(".maps");

static __always_inline struct tp_totals* cpuTotals(void) {
  const __u32 zero = 0;
  return bpf_map_lookup_elem(&totals, &zero);
}

#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define L3_OFFSET sizeof(struct ethhdr)
#define L4_OFFSET (sizeof(struct ethhdr) + sizeof(struct iphdr))
#define NOT_MINE -1  // not a packet of an installed channel: try the other direction

static __always_inline __u16 ipChecksum(struct iphdr* ip) {
  __u32 sum = 0;
  __u16* words = (__u16*)ip;
#pragma unroll
  for (int i = 0; i < (int)(sizeof(*ip) / 2); i++) {
    sum += words[i];
  }
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

// Rewrites the IPv4 and UDP headers of the (already resized) packet to leave on `hop`. The UDP
// checksum is left at 0, which IPv4 allows (RFC 768).
static __always_inline int rewriteHeaders(struct __sk_buff* skb, const struct tp_hop* hop,
                                          __u16 udp_length) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct iphdr* ip = data + L3_OFFSET;
  struct udphdr* udp = data + L4_OFFSET;
  if ((void*)(udp + 1) > end) {
    return -1;
  }
  ip->saddr = hop->local_addr;
  ip->daddr = hop->remote_addr;
  ip->tot_len = bpf_htons(udp_length + sizeof(struct iphdr));
  ip->check = 0;
  ip->check = ipChecksum(ip);
  udp->source = hop->local_port;
  udp->dest = hop->remote_port;
  udp->len = bpf_htons(udp_length);
  udp->check = 0;
  return 0;
}

// Sends the rewritten packet on: delivered here when the destination is local, else redirected
// to the next hop the FIB names.
static __always_inline int forward(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* ip = data + L3_OFFSET;
  if ((void*)(ip + 1) > end) {
    return TC_ACT_SHOT;
  }
  struct bpf_fib_lookup fib = {};
  fib.family = AF_INET;
  fib.l4_protocol = IPPROTO_UDP;
  fib.tot_len = bpf_ntohs(ip->tot_len);
  fib.ipv4_src = ip->saddr;
  fib.ipv4_dst = ip->daddr;
  fib.ifindex = skb->ingress_ifindex;
  if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS) {
    return TC_ACT_OK;  // local (or not routable from here): the stack decides
  }
  __builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
  return bpf_redirect(fib.ifindex, 0);
}

static __always_inline int clientToPeer(struct __sk_buff* skb, struct iphdr* ip, struct udphdr* udp,
                                        void* end) {
  __u8* header = (__u8*)(udp + 1);
  if ((void*)(header + 4) > end || (header[0] & 0xC0) != 0x40) {
    return NOT_MINE;  // not ChannelData: STUN for user space, or a peer's datagram
  }
  const __u16 udp_length = bpf_ntohs(udp->len);
  const __u16 data_length = ((__u16)header[2] << 8) | header[3];
  if (udp_length < 12 || data_length != udp_length - 12) {
    // Padded, short or lying ChannelData for user space -- or a peer's datagram to a relay port
    // that merely starts with 01 bits.
    return NOT_MINE;
  }
  struct tp_to_peer_key key = {};
  key.client.local_addr = ip->daddr;
  key.client.remote_addr = ip->saddr;
  key.client.local_port = udp->dest;
  key.client.remote_port = udp->source;
  key.channel = bpf_htons(((__u16)header[0] << 8) | header[1]);
  struct tp_to_peer_value* route = bpf_map_lookup_elem(&to_peer, &key);
  if (route == 0) {
    return NOT_MINE;
  }
  const struct tp_hop out = route->peer;
  __sync_fetch_and_add(&route->packets, 1);
  __sync_fetch_and_add(&route->bytes, data_length);
  struct tp_totals* sum = cpuTotals();
  if (sum != 0) {
    sum->to_peer_packets += 1;
    sum->to_peer_bytes += data_length;
  }
  // Remove 4 bytes right after the IP header (the first half of the UDP header); the fresh UDP
  // header then covers [UDP bytes 4-7][ChannelData header] and the payload follows it.
  if (bpf_skb_adjust_room(skb, -4, BPF_ADJ_ROOM_NET, 0) != 0) {
    return TC_ACT_SHOT;
  }
  if (rewriteHeaders(skb, &out, data_length + 8) != 0) {
    return TC_ACT_SHOT;
  }
  return forward(skb);
}

static __always_inline int peerToClient(struct __sk_buff* skb, struct iphdr* ip,
                                        struct udphdr* udp) {
  struct tp_hop key = {};
  key.local_addr = ip->daddr;
  key.remote_addr = ip->saddr;
  key.local_port = udp->dest;
  key.remote_port = udp->source;
  struct tp_to_client_value* route = bpf_map_lookup_elem(&to_client, &key);
  if (route == 0) {
    return TC_ACT_OK;
  }
  const __u16 udp_length = bpf_ntohs(udp->len);
  if (udp_length < 8 || udp_length > 0xFFFF - 4) {
    return TC_ACT_OK;
  }
  const __u16 data_length = udp_length - 8;
  const struct tp_hop out = route->client;
  const __u16 channel = bpf_ntohs(route->channel);
  __sync_fetch_and_add(&route->packets, 1);
  __sync_fetch_and_add(&route->bytes, data_length);
  struct tp_totals* sum = cpuTotals();
  if (sum != 0) {
    sum->to_client_packets += 1;
    sum->to_client_bytes += data_length;
  }
  if (bpf_skb_adjust_room(skb, 4, BPF_ADJ_ROOM_NET, 0) != 0) {
    return TC_ACT_SHOT;
  }
  if (rewriteHeaders(skb, &out, udp_length + 4) != 0) {
    return TC_ACT_SHOT;
  }
  const __u8 header[4] = {channel >> 8, channel & 0xFF, data_length >> 8, data_length & 0xFF};
  if (bpf_skb_store_bytes(skb, L4_OFFSET + sizeof(struct udphdr), header, sizeof(header), 0) != 0) {
    return TC_ACT_SHOT;
  }
  return forward(skb);
}

SEC("tc")
int turnpike_relay(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* ip = data + L3_OFFSET;
  struct udphdr* udp = data + L4_OFFSET;
  if ((void*)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
      ip->protocol != IPPROTO_UDP || ip->ihl != 5 ||
      (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0) {
    return TC_ACT_OK;
  }
  const int relayed = clientToPeer(skb, ip, udp, end);
  if (relayed != NOT_MINE) {
    return relayed;
  }
  // Unchanged, but the verifier wants the packet pointers taken afresh after the helper calls.
  data = (void*)(long)skb->data;
  end = (void*)(long)skb->data_end;
  ip = data + L3_OFFSET;
  udp = data + L4_OFFSET;
  if ((void*)(udp + 1) > end) {
    return TC_ACT_OK;
  }
  return peerToClient(skb, ip, udp);
}

char LICENSE[] SEC("license") = "GPL";

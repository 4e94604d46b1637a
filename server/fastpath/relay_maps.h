/* The fast path's maps, shared by the BPF program (relay.bpf.c) and user space
 * (ebpf_fast_path.cpp). Addresses and ports in network byte order, as on the wire. */
#ifndef TURNPIKE_SERVER_FASTPATH_RELAY_MAPS_H
#define TURNPIKE_SERVER_FASTPATH_RELAY_MAPS_H

#include <linux/types.h>

#define TURNPIKE_FAST_PATH_MAX_CHANNELS 262144

/* One hop of a relayed datagram, as this host sees it: its own address and port (the listener,
 * or the relay port) and the other end's (the client, or the peer). A datagram arriving on one
 * hop leaves on the other, from `local` to `remote`. */
struct tp_hop {
  __u32 local_addr;
  __u32 remote_addr;
  __u16 local_port;
  __u16 remote_port;
};

/* ChannelData from a client on a channel -> the relay hop it leaves on. */
struct tp_to_peer_key {
  struct tp_hop client;
  __u16 channel;
  __u16 pad;
};

struct tp_to_peer_value {
  struct tp_hop peer;
  __u64 packets; /* relayed by the kernel, counted there */
  __u64 bytes;   /* application data */
};

/* A datagram from the bound peer to the relay port -> the client hop and channel it leaves on. */
struct tp_to_client_value {
  struct tp_hop client;
  __u16 channel;
  __u16 pad;
  __u32 pad2;
  __u64 packets;
  __u64 bytes;
};

/* Totals for /metrics, one slot per CPU (BPF_MAP_TYPE_PERCPU_ARRAY, one entry). */
struct tp_totals {
  __u64 to_peer_packets;
  __u64 to_peer_bytes;
  __u64 to_client_packets;
  __u64 to_client_bytes;
};

#endif

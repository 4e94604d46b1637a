/* The fast path's maps, shared by the BPF program (relay.bpf.c) and user space
 * (ebpf_fast_path.cpp). Addresses and ports in network byte order, as on the wire. */
#ifndef TURNPIKE_SERVER_FASTPATH_RELAY_MAPS_H
#define TURNPIKE_SERVER_FASTPATH_RELAY_MAPS_H

#include <linux/types.h>

#define TURNPIKE_FAST_PATH_MAX_CHANNELS 262144

/* ChannelData from a client (5-tuple on the listener side) on a channel. */
struct tp_to_peer_key {
  __u32 client_addr;
  __u32 server_addr;
  __u16 client_port;
  __u16 server_port;
  __u16 channel;
  __u16 pad;
};

struct tp_to_peer_value {
  __u32 relay_addr;
  __u32 peer_addr;
  __u16 relay_port;
  __u16 peer_port;
  __u32 pad;
  __u64 packets; /* relayed by the kernel, counted there */
  __u64 bytes;   /* application data */
};

/* A datagram from the bound peer to the relay port. */
struct tp_to_client_key {
  __u32 relay_addr;
  __u32 peer_addr;
  __u16 relay_port;
  __u16 peer_port;
};

struct tp_to_client_value {
  __u32 server_addr;
  __u32 client_addr;
  __u16 server_port;
  __u16 client_port;
  __u16 channel;
  __u16 pad;
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

// The embedded default configuration (`turnpike --print-default-config`): every key with its
// default value and a comment. loadConfigText(kDefaultConfigYaml) yields the defaults.
#include "server/config/config.hpp"

namespace turnpike::server {

const std::string_view kDefaultConfigYaml = R"yaml(# turnpike configuration: the built-in defaults.
# Every key is optional; an absent key takes the value shown here. Unknown keys are
# rejected so that typos are caught.

# REALM sent in authentication challenges: non-empty, fewer than 128 characters.
realm: turnpike

# SOFTWARE attribute added to responses; "" omits it.
software: turnpike

# STUN/TURN listeners. transport: udp, tcp, tls, auto or dtls (required); auto serves TURN
# over TCP and over TLS on one port, told apart by each connection's first bytes; dtls is
# TURN over DTLS 1.2 on UDP (RFC 7350; uses the tls certificate). address: an IPv4 or IPv6
# literal, default 0.0.0.0. port: 1..65535, default 3478 (5349 for tls and dtls, 443 for
# auto). proxy_protocol: true (tcp, tls, auto) expects a PROXY protocol header (v1 or v2)
# first on every connection (behind an L4 load balancer); default false.
# tls_passthrough (tls, auto): {default: "IP:PORT", sni: {HOST: "IP:PORT"}} splices web
# clients (by SNI and ALPN) to a backend unread, e.g. an HTTPS site sharing port 443; off by
# default. Its proxy_protocol: v1 or v2 sends the backend a PROXY header first (default off).
listeners:
  - {transport: udp, address: 0.0.0.0, port: 3478}
  - {transport: tcp, address: 0.0.0.0, port: 3478}

# TLS (tls, auto and dtls listeners): 1.2 and 1.3 only (DTLS: 1.2 only), no
# renegotiation, no compression. The PEM files are required when such a listener exists.
# ciphers: TLS 1.2 and DTLS 1.2 (OpenSSL cipher list syntax); ciphersuites: TLS 1.3.
# Session tickets are encrypted with a key that is replaced every ticket_key_rotation
# seconds (1..86400); the key before it still resumes.
tls:
  # certificate: /etc/turnpike/cert.pem
  # private_key: /etc/turnpike/key.pem
  ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
  ciphersuites: "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
  ticket_key_rotation: 3600

# TURN relay.
relay:
  addresses: []            # relay sockets bind here (IP literals)
  external_addresses: []   # advertised instead, one per relay address, same family
  port_range: [49152, 65535]
allocation: {default_lifetime: 600, max_lifetime: 3600}   # seconds, at most 86400
auth:
  secrets: []   # REST API shared secrets; the first one mints credentials
  users: {}     # static long-term users, name: password
peers:
  allow: []     # CIDR prefixes, e.g. 10.0.0.0/8 or "::1/128"
  deny: []
# Abuse limits; 0 = unlimited (or off). IPv6 addresses count per /64.
limits:
  allocations_total: 0            # over it: 508
  allocations_per_user: 0         # over it: 486
  allocations_per_client_ip: 0    # over it: 486
  permissions_per_allocation: 64  # 1..4096; over it: 508
  channels_per_allocation: 64     # 1..4096; over it: 508
  tcp_connections_per_allocation: 32  # RFC 6062 peer connections; 1..4096; over it: 508
  bandwidth_per_allocation_bps: 0 # relayed payload, both ways; excess dropped
  bandwidth_per_user_bps: 0       # the same for all of a user's allocations
  unauthenticated_per_ip_per_second: 100  # STUN messages without an allocation, per
  unauthenticated_per_ip_burst: 200       # worker; excess dropped unanswered
  connections_total: 0            # TCP and TLS client connections, DTLS sessions
  connections_per_ip: 256
  connection_idle_timeout: 30     # seconds a connection may stay without an allocation
  tls_handshake_timeout: 10       # seconds (TLS and DTLS handshakes)
  dtls_half_open: 1000            # DTLS handshakes in progress per dtls listener and worker

# HTTP endpoint (metrics, health checks, credential API). port 0 disables it.
http:
  address: 127.0.0.1
  port: 9641
  # Credential API (POST /api/v1/credentials, GET /api/v1/turn): on when api_keys is not
  # empty. Bearer keys of at least 16 characters; needs auth.secrets to mint with.
  api_keys: []
  api_max_ttl: 86400                          # longest credential it mints, seconds
  api_rate_limit: {per_second: 5, burst: 20}  # per client address; per_second 0 = off
  # GET /selftest: a browser page that mints a credential with an API key pasted into it and
  # tests every advertised STUN/TURN URI (gathering and a relay-only call) from the browser.
  selftest: false

# stun:/turn:/turns: URIs the credential API hands out, e.g.
# ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"].
# Empty: derived from the listeners and the relay (external) addresses.
public_uris: []

# SIGTERM drains: new Allocate requests get 300 Try Alternate naming one of
# alternate_servers (ADDRESS:PORT, same address family as the client), or 403 without
# one; existing allocations keep relaying for up to `timeout` seconds (0: exit at
# once). A second SIGTERM exits at once.
drain: {timeout: 30, alternate_servers: []}

# Fleets of nodes behind DNS: 300 Try Alternate sends new Allocate requests to one of
# alternate_servers (ADDRESS:PORT, same family as the client, in turn) while this node is at
# or above a redirect_above load (allocations held; relayed bits/s, both ways; 0 = off), until
# every load is back under 90%. Draining uses them when drain.alternate_servers is empty.
# alternate_domain: sent as ALTERNATE-DOMAIN to TLS clients (the alternates' certificate name).
# Nonces validate on every node with the same auth.nonce_secret (not set: a random key).
cluster:
  alternate_servers: []
  alternate_domain: ""
  redirect_above: {allocations: 0, relayed_bps: 0}

# RFC 5780 NAT behaviour discovery over UDP: off by default (answers from other sockets
# and to other ports make the server a better reflector; see the README). When enabled,
# the first udp listener (a specific address) is the primary address and port, and
# turnpike also listens at alternate_address (same family) and alternate_port (default:
# the primary port + 1) in all four combinations.
nat_discovery:
  enabled: false
  # alternate_address: 192.0.2.2
  # alternate_port: 3479

# level: debug, info, warn or error. format: text or json.
log: {level: info, format: text}

# Worker threads: 0 = one per CPU core, at most 256.
threads: 0

# ebpf: relay bound channels of UDP clients (IPv4) in the kernel, at TC ingress of the
# interfaces that carry the listeners and relay addresses (needs root or CAP_BPF+CAP_NET_ADMIN).
# off: every packet through user space.
fast_path: off

# RFC 8016 mobility: a client that asks (MOBILITY-TICKET) gets a ticket with which it keeps its
# allocation when its address or port changes (Wi-Fi -> LTE), UDP clients. Off by default.
mobility: false

# RFC 6062 TCP allocations: REQUESTED-TRANSPORT TCP over a plain TCP control connection gets a
# TCP relay (Connect, ConnectionBind, ConnectionAttempt). Off by default.
tcp_allocations: false
)yaml";

}  // namespace turnpike::server

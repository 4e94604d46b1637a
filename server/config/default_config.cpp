// The embedded default configuration (turnpike --print-default-config): every key with its
// default value and a comment. loadConfigText() of this text gives the defaults (tested).
#include <string_view>

#include "server/config/config.hpp"

namespace turnpike::server {

const std::string_view kDefaultConfigYaml = R"yaml(# turnpike configuration: the built-in defaults.
# Every key is optional; an absent key takes the value shown here. Unknown keys are
# rejected so that typos are caught.

# REALM sent in authentication challenges: non-empty, fewer than 128 characters.
realm: turnpike

# SOFTWARE attribute added to responses; "" omits it.
software: turnpike

# STUN/TURN listeners. transport: udp, tcp or tls (required). address: an IPv4 or
# IPv6 literal, default 0.0.0.0. port: 1..65535, default 3478 (5349 for tls).
listeners:
  - {transport: udp, address: 0.0.0.0, port: 3478}
  - {transport: tcp, address: 0.0.0.0, port: 3478}

# TLS (tls listeners): 1.2 and 1.3 only, no renegotiation, no compression. The PEM
# files are required when a tls listener exists. ciphers: TLS 1.2 (OpenSSL cipher list
# syntax); ciphersuites: TLS 1.3. Session tickets are encrypted with a key that is
# replaced every ticket_key_rotation seconds (1..86400); the key before it still resumes.
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
limits: {allocations_total: 0, allocations_per_user: 0}   # 0 = unlimited

# HTTP endpoint (metrics, health checks). port 0 disables it.
http: {address: 127.0.0.1, port: 9641}

# SIGTERM drains: new Allocate requests get 300 Try Alternate naming one of
# alternate_servers (ADDRESS:PORT, same address family as the client), or 403 without
# one; existing allocations keep relaying for up to `timeout` seconds (0: exit at
# once). A second SIGTERM exits at once.
drain: {timeout: 30, alternate_servers: []}

# level: debug, info, warn or error. format: text or json.
log: {level: info, format: text}

# Worker threads: 0 = one per CPU core, at most 256.
threads: 0
)yaml";

}  // namespace turnpike::server

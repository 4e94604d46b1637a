// Plain server configuration. yaml-cpp types never leave server/config/ (style.md section 1).
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/endpoint.hpp"
#include "protocol/tls/client_hello.hpp"

namespace turnpike::server {

// kAuto: one TCP port for both TURN over TCP and TLS, told apart by each connection's first
// bytes (server/uv/tcp.hpp). kDtls: TURN over DTLS 1.2 on UDP (RFC 7350, server/uv/dtls_listener).
enum class Transport : std::uint8_t { kUdp, kTcp, kTls, kAuto, kDtls };

[[nodiscard]] std::string_view toString(Transport transport);

struct ListenerConfig {
  Transport transport = Transport::kUdp;
  protocol::IpAddress address;  // 0.0.0.0 by default
  std::uint16_t port = 3478;
  // tcp, tls and auto: every connection starts with a PROXY protocol header (v1 or v2) whose client
  // address replaces the socket's (behind an L4 load balancer).
  bool proxy_protocol = false;
  // tls and auto: TLS connections that are not TURN (by SNI and ALPN, see
  // protocol::passthroughBackend) are spliced unread to these IP:port backends.
  protocol::PassthroughRoutes tls_passthrough{};
  friend bool operator==(const ListenerConfig&, const ListenerConfig&) = default;
};

// TLS 1.2: forward secrecy (ECDHE) and AEAD only, in server preference order.
inline constexpr std::string_view kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// TLS 1.3: OpenSSL 3's default suites (all AEAD).
inline constexpr std::string_view kDefaultTls13Ciphersuites =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

struct TlsConfig {
  std::string certificate;  // PEM file path; required when a tls listener exists
  std::string private_key;  // PEM file path
  // TLS 1.2 ciphers in OpenSSL cipher list syntax, and TLS 1.3 suite names (':' separated).
  std::string ciphers{kDefaultTls12Ciphers};
  std::string ciphersuites{kDefaultTls13Ciphersuites};
  // Seconds a session ticket key encrypts new tickets for (server/tls/ticket_keys.hpp).
  std::uint32_t ticket_key_rotation = 3600;
  friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

// An address prefix such as 10.0.0.0/8 or ::1/128; parsed by protocol::AddressPrefix::parse.
using Cidr = protocol::AddressPrefix;

struct RelayConfig {
  std::vector<protocol::IpAddress> addresses;           // relay sockets bind here
  std::vector<protocol::IpAddress> external_addresses;  // advertised instead, 1:1 with addresses
  std::uint16_t port_min = 49152;
  std::uint16_t port_max = 65535;
  friend bool operator==(const RelayConfig&, const RelayConfig&) = default;
};

struct AllocationConfig {
  std::uint32_t default_lifetime = 600;  // seconds
  std::uint32_t max_lifetime = 3600;     // seconds
  friend bool operator==(const AllocationConfig&, const AllocationConfig&) = default;
};

struct AuthConfig {
  std::vector<std::string> secrets;          // REST shared secrets; the first mints
  std::map<std::string, std::string> users;  // static long-term users: name -> password
  // Nonces are keyed from it, so every node with the same secret accepts them; unset: a
  // random key per process. Fixed at start-up.
  std::optional<std::string> nonce_secret;
  friend bool operator==(const AuthConfig&, const AuthConfig&) = default;
};

struct PeersConfig {
  std::vector<Cidr> allow;
  std::vector<Cidr> deny;
  friend bool operator==(const PeersConfig&, const PeersConfig&) = default;
};

// Abuse limits (issue 6). 0 means unlimited (or off) wherever a limit allows it.
struct LimitsConfig {
  std::uint32_t allocations_total = 0;            // 508 over it
  std::uint32_t allocations_per_user = 0;         // 486 over it
  std::uint32_t allocations_per_client_ip = 0;    // 486 over it (IPv6: per /64)
  std::uint32_t permissions_per_allocation = 64;  // 1..4096; 508 over it
  std::uint32_t channels_per_allocation = 64;     // 1..4096; 508 over it
  // RFC 6062: peer connections of one TCP allocation (a Connect over it gets 508, an incoming
  // peer connection is closed).
  std::uint32_t tcp_connections_per_allocation = 32;  // 1..4096
  // Relayed payload, both directions together, as a token bucket with a 1 s burst; excess
  // packets are dropped and counted.
  std::uint64_t bandwidth_per_allocation_bps = 0;
  // The same for all of one user's allocations together, across worker threads.
  std::uint64_t bandwidth_per_user_bps = 0;
  // STUN requests from a source address (IPv6: /64) without an allocation, per worker thread:
  // a token bucket; over it, requests are dropped before any parsing of attributes or crypto.
  std::uint32_t unauthenticated_per_ip_per_second = 100;
  std::uint32_t unauthenticated_per_ip_burst = 200;
  // TCP and TLS client connections.
  std::uint32_t connections_total = 0;
  std::uint32_t connections_per_ip = 256;  // IPv6: per /64
  std::uint32_t connection_idle_timeout =
      30;                                    // seconds a connection may stay without an allocation
  std::uint32_t tls_handshake_timeout = 10;  // seconds (DTLS handshakes too)
  // DTLS handshakes in progress (after a valid cookie), per dtls listener and worker thread;
  // ClientHellos from new clients over it are dropped and counted.
  std::uint32_t dtls_half_open = 1000;
  friend bool operator==(const LimitsConfig&, const LimitsConfig&) = default;
};

// Token bucket per client address for the credential API; per_second 0 turns it off.
struct ApiRateLimit {
  std::uint32_t per_second = 5;
  std::uint32_t burst = 20;
  friend bool operator==(const ApiRateLimit&, const ApiRateLimit&) = default;
};

struct HttpConfig {
  protocol::IpAddress address = protocol::IpAddress::v4({127, 0, 0, 1});
  std::uint16_t port = 9641;
  std::vector<std::string> api_keys;  // credential API bearer keys; empty = the API is off
  std::uint32_t api_max_ttl = 86400;  // longest credential the API mints, seconds
  ApiRateLimit api_rate_limit;
  bool selftest = false;  // GET /selftest serves the browser self-test page
  friend bool operator==(const HttpConfig&, const HttpConfig&) = default;
};

// SIGTERM: stop taking allocations, let the existing ones finish (see kDefaultConfigYaml).
struct DrainConfig {
  std::uint32_t timeout = 30;  // seconds; 0 = exit at once
  std::vector<protocol::Endpoint> alternate_servers;
  friend bool operator==(const DrainConfig&, const DrainConfig&) = default;
};

// Fleets (issue 8): where 300 Try Alternate sends clients, and the loads past which new
// Allocate requests get it. Draining uses drain.alternate_servers, or these when that is empty.
struct ClusterConfig {
  std::vector<protocol::Endpoint> alternate_servers;
  std::string alternate_domain;                  // ALTERNATE-DOMAIN for TLS clients; empty: none
  std::uint64_t redirect_above_allocations = 0;  // 0: off
  std::uint64_t redirect_above_relayed_bps = 0;  // 0: off
  friend bool operator==(const ClusterConfig&, const ClusterConfig&) = default;
};

// RFC 5780 NAT behaviour discovery. Off by default: answers from other sockets and to other
// ports of the client make a public server a better reflector (README, Security). When on, the
// first udp listener (a specific address) is the primary address and port, and turnpike also
// listens on UDP at the alternate address and port in their four combinations.
struct NatDiscoveryConfig {
  bool enabled = false;
  protocol::IpAddress alternate_address;  // required when enabled; same family as the primary
  std::uint16_t alternate_port = 0;       // 0: the primary port + 1
  friend bool operator==(const NatDiscoveryConfig&, const NatDiscoveryConfig&) = default;
};

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };
enum class LogFormat : std::uint8_t { kText, kJson };
enum class FastPath : std::uint8_t { kOff, kEbpf };

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
  friend bool operator==(const LogConfig&, const LogConfig&) = default;
};

// Worker threads at most: `threads` is 0 (one per core, capped here) to this. A worker's index is
// the top byte of its allocation ids (RFC 8016 tickets name their worker).
inline constexpr std::uint32_t kMaxThreads = 256;

struct ServerConfig {
  std::string realm = "turnpike";
  std::string software = "turnpike";  // SOFTWARE attribute; empty = omit
  std::vector<ListenerConfig> listeners;
  TlsConfig tls;
  RelayConfig relay;
  AllocationConfig allocation;
  AuthConfig auth;
  PeersConfig peers;
  LimitsConfig limits;
  HttpConfig http;
  DrainConfig drain;
  ClusterConfig cluster;
  NatDiscoveryConfig nat_discovery;
  LogConfig log;
  std::uint32_t threads = 0;  // 0 = one worker per core (at most kMaxThreads)
  // fast_path: ebpf relays bound channels of UDP clients in the kernel (server/fastpath); off
  // (the default) keeps every packet in user space. When the program cannot load, the server
  // says why and runs in user space.
  FastPath fast_path = FastPath::kOff;
  // RFC 8016 mobility: Allocate with MOBILITY-TICKET gets a ticket, and a Refresh with it from a
  // new UDP address/port, by the same user, moves the allocation there. Off by default: a
  // stolen ticket alone is useless (the Refresh must be authenticated as the same user), but
  // off keeps the old behaviour. Any number of threads: a moved client's messages go to the worker
  // that holds the allocation.
  bool mobility = false;
  // RFC 6062 TCP allocations (REQUESTED-TRANSPORT TCP over a TCP or TLS control connection). Off by
  // default (442). Any number of threads: a ConnectionBind's new connection, which
  // SO_REUSEPORT may give to another worker, is handed to the one its CONNECTION-ID names.
  bool tcp_allocations = false;
  // stun:, turn: and turns: URIs the credential API hands out; empty = derived from the config.
  std::vector<std::string> public_uris;
  friend bool operator==(const ServerConfig&, const ServerConfig&) = default;
};

// A configuration problem: the dotted key path ("listeners[1].port") and what is wrong with it.
struct ConfigError {
  std::string key;
  std::string message;
};

[[nodiscard]] std::string toString(const ConfigError& error);

// The embedded default configuration (STUN/TURN on UDP and TCP 0.0.0.0:3478, HTTP on
// 127.0.0.1:9641), as YAML text. loadConfigText(kDefaultConfigYaml) yields the defaults.
extern const std::string_view kDefaultConfigYaml;

// Parses YAML text into a validated ServerConfig. Never throws.
[[nodiscard]] std::expected<ServerConfig, ConfigError> loadConfigText(std::string_view yaml_text);

// The whole of a text file of at most 16 MiB (configs, coturn configs), or why it cannot be read.
[[nodiscard]] std::expected<std::string, std::string> readTextFile(const std::string& path);

// Reads and parses a YAML file. Never throws.
[[nodiscard]] std::expected<ServerConfig, ConfigError> loadConfigFile(const std::string& path);

// With nat_discovery enabled: the four UDP endpoints by [address][port] (0 the primary, 1 the
// alternate), from a validated config; nullopt when it is off.
using NatDiscoveryEndpoints = std::array<std::array<protocol::Endpoint, 2>, 2>;
[[nodiscard]] std::optional<NatDiscoveryEndpoints> natDiscoveryEndpoints(
    const ServerConfig& config);

// Cross-field checks (e.g. a tls listener needs tls.certificate). Called by the loaders.
[[nodiscard]] std::expected<void, ConfigError> validate(const ServerConfig& config);

}  // namespace turnpike::server

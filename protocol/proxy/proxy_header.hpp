// The PROXY protocol (HAProxy's proxy-protocol.txt): the header an L4 load balancer sends first
// on a connection, naming the client it forwards. Version 1 (section 2.1, what nginx's stream
// module and older balancers send) is one text line; version 2 (section 2.2) is binary. The
// parser takes either, told apart by the first byte ('P' or 0x0D). Parser and builders, no I/O.
//
// Version 1, at most 107 bytes with its CRLF:
//
//   PROXY TCP4 203.0.113.7 192.0.2.1 40000 443\r\n
//   PROXY TCP6 2001:db8::7 2001:db8::1 40000 443\r\n
//   PROXY UNKNOWN[ anything]\r\n                (the connection's own addresses stand)
//
// Version 2:
//
//   0                   1                   2                   3
//   +---------------------------------------------------------------+
//   |  signature: 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A (12 bytes)     |
//   +---------------+---------------+-------------------------------+
//   | ver 2 | cmd   | family| proto |  length (bytes that follow)   |
//   +---------------+---------------+-------------------------------+
//   | addresses: INET 12 bytes (src, dst, sport, dport),            |
//   |            INET6 36 bytes, UNIX 216 bytes; then TLVs (skipped)|
//   +---------------------------------------------------------------+
//
// cmd 0 (LOCAL: the proxy's own connection, e.g. a health check) and families UNSPEC and UNIX
// carry no usable client: the connection's own addresses stand. Anything else the spec does not
// define is rejected, in either version.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/byte_io.hpp"
#include "protocol/stun/endpoint.hpp"

namespace turnpike::protocol {

inline constexpr std::size_t kProxyHeaderFixedSize = 16;
// A version 1 line, CRLF included, is at most this long (section 2.1).
inline constexpr std::size_t kProxyHeaderV1MaxSize = 107;
// The largest header accepted (16 + addresses + TLVs): the spec asks receivers for at least
// 216 + 16 bytes; load balancers' TLVs (AWS, GCP, Azure ids) take a few dozen more.
inline constexpr std::size_t kProxyHeaderMaxSize = 1024;

enum class ProxyHeaderError : std::uint8_t {
  kSignature,  // neither "PROXY " nor the 12-byte v2 signature (e.g. a client talking STUN or TLS)
  kVersion,    // v2: version nibble other than 2
  kCommand,    // command other than LOCAL (0) or PROXY (1)
  kFamily,     // address family or transport protocol the spec does not define
  kLength,     // length shorter than the family's addresses
  kTooLong,    // longer than the caller's limit; v1: no CRLF within 107 bytes
  kV1Syntax,   // v1: not "TCP4|TCP6 SRC DST SPORT DPORT" or "UNKNOWN" (addresses of the wrong
               // family, ports over 65535, extra or missing fields, a lone CR or LF)
};

[[nodiscard]] std::string_view toString(ProxyHeaderError error);

struct ProxyHeader {
  std::size_t size = 0;  // bytes the header takes, TLVs included; the client's data follows
  bool local = false;    // the LOCAL command (v2), or UNKNOWN (v1)
  int version = 2;
  // The original client and the address it connected to; nullopt for LOCAL, UNSPEC and UNIX.
  std::optional<Endpoint> source;
  std::optional<Endpoint> destination;
};

// Parses the start of a stream. A value holding nullopt means the bytes so far are a valid
// beginning and more are needed; an error is final (garbage is rejected as soon as a byte of the
// signature differs). max_size bounds the whole header.
[[nodiscard]] std::expected<std::optional<ProxyHeader>, ProxyHeaderError> parseProxyHeader(
    ConstBytes data, std::size_t max_size = kProxyHeaderMaxSize);

// Which PROXY header turnpike sends itself (tls_passthrough's proxy_protocol): none, v1 or v2.
enum class ProxyVersion : std::uint8_t { kNone, kV1, kV2 };

// The header of `version` naming source -> destination for a backend: v2 PROXY or v1 TCP4/TCP6
// when both are of one family, else v2 LOCAL or v1 UNKNOWN (the backend keeps the connection's
// own addresses). Empty for kNone.
[[nodiscard]] std::vector<std::byte> proxyHeaderFor(ProxyVersion version, const Endpoint& source,
                                                    const Endpoint& destination);

// Writes a v1 line for source and destination (same family), or "PROXY UNKNOWN\r\n" without
// them. For tests and tools.
[[nodiscard]] std::string writeProxyHeaderV1(const std::optional<Endpoint>& source,
                                             const std::optional<Endpoint>& destination);

// Writes a PROXY (or, without endpoints, LOCAL) header for a TCP connection into out; the number
// of bytes, or nullopt when out is too small or the families differ. For tests and tools.
[[nodiscard]] std::optional<std::size_t> writeProxyHeader(
    MutableBytes out, const std::optional<Endpoint>& source,
    const std::optional<Endpoint>& destination);

}  // namespace turnpike::protocol

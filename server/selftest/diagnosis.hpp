// `turnpike selftest`: what a failed step means, as one line an operator can act on. Pure
// functions (no I/O), so every message is unit-tested (tests/unit/server/selftest_test.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/types.hpp"

namespace turnpike::server::selftest {

enum class Transport : std::uint8_t { kUdp, kTcp, kTls };
[[nodiscard]] std::string_view toString(Transport transport);  // "udp", "tcp", "tls"

// How the tool authenticates: a REST credential minted from --secret, or --user/--password.
enum class AuthMode : std::uint8_t { kSecret, kUser };

// RFC 1918, RFC 6598 (shared address space, carrier-grade NAT), IPv4 link-local 169.254/16,
// IPv6 unique local fc00::/7 and link-local fe80::/10: addresses the internet cannot reach.
[[nodiscard]] bool isPrivateAddress(const protocol::IpAddress& address);
// Neither private nor loopback, unspecified, multicast or broadcast: an address the internet
// can reach (documentation ranges count as public; they stand in for public addresses).
[[nodiscard]] bool isPublicAddress(const protocol::IpAddress& address);

// The relay address flag: a private relayed address while the server was reached on a public
// address means relay.external_addresses is missing (clients on the internet get an address
// they cannot send to). nullopt when nothing is wrong (e.g. a loopback or private server).
[[nodiscard]] std::optional<std::string> relayAddressWarning(const protocol::Endpoint& relayed,
                                                             const protocol::Endpoint& server);

// "3 s", "1.5 s".
[[nodiscard]] std::string seconds(std::chrono::milliseconds timeout);

// No answer to a request over UDP within the timeout (after the retransmissions).
[[nodiscard]] std::string udpTimeoutMessage(const protocol::Endpoint& server,
                                            std::chrono::milliseconds timeout);
// No answer over an established TCP/TLS connection within the timeout.
[[nodiscard]] std::string streamTimeoutMessage(Transport transport,
                                               const protocol::Endpoint& server,
                                               std::chrono::milliseconds timeout);
// A socket error (errno) while talking to the server: ECONNREFUSED (a TCP RST, or an ICMP port
// unreachable over UDP), ECONNRESET, EHOSTUNREACH, ENETUNREACH, ... `connecting`: the error came
// from connect() (TCP/TLS), else from send/recv.
[[nodiscard]] std::string socketErrorMessage(Transport transport, const protocol::Endpoint& server,
                                             int error_number, bool connecting);
// connect() did not complete within the timeout.
[[nodiscard]] std::string connectTimeoutMessage(Transport transport,
                                                const protocol::Endpoint& server,
                                                std::chrono::milliseconds timeout);
// The server closed the connection instead of answering.
[[nodiscard]] std::string closedMessage(Transport transport, const protocol::Endpoint& server);
// The TLS handshake failed; `reason` is OpenSSL's (the verify result when verification failed).
[[nodiscard]] std::string tlsFailureMessage(const protocol::Endpoint& server,
                                            std::string_view reason, bool verify_failed);

// An error response to a request. `authenticated`: the request carried the credentials (a 401
// then means they were refused). `peer` is the XOR-PEER-ADDRESS of CreatePermission/ChannelBind.
struct ErrorContext {
  protocol::Method method = protocol::Method::kAllocate;
  std::uint16_t code = 0;
  std::string_view reason{};
  AuthMode auth = AuthMode::kSecret;
  bool authenticated = true;
  std::optional<protocol::Endpoint> peer{};
  std::optional<protocol::Endpoint> alternate_server{};  // ALTERNATE-SERVER of a 300
};
[[nodiscard]] std::string errorResponseMessage(const ErrorContext& context);

// The outcome of the echo: client -> relay -> peer -> relay -> client.
struct EchoOutcome {
  protocol::Endpoint relayed{};                   // XOR-RELAYED-ADDRESS
  protocol::Endpoint peer{};                      // the peer socket as the server addresses it
  std::optional<protocol::Endpoint> seen_from{};  // where the data reached the peer from
  bool returned = false;                          // the client got the echo back
};
// nullopt when the echo passed from the reported relay address; otherwise what went wrong.
// (A returned echo whose data came from another source is reported too: peers see another
// address than the one the server hands out.)
[[nodiscard]] std::optional<std::string> echoFailureMessage(const EchoOutcome& outcome,
                                                            std::chrono::milliseconds timeout);

}  // namespace turnpike::server::selftest

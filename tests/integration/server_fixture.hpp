// Integration-test support: runs the real turnpike binary (TURNPIKE_BINARY) on 127.0.0.1 or ::1
// with a generated config, and talks to it over UDP and TCP sockets (TLS: tls_test.cpp). Every wait
// is bounded: each helper takes a timeout and gives up (returning nullopt/false) when it expires.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/stun/builder.hpp"
#include "protocol/stun/endpoint.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/stun/types.hpp"

namespace turnpike::protocol {
// Readable gtest failure output for endpoints.
inline void PrintTo(const Endpoint& endpoint, std::ostream* os) { *os << endpoint.toString(); }
}  // namespace turnpike::protocol

namespace turnpike::test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

// The parts joined, in order.
inline Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& part : parts) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}
using Millis = std::chrono::milliseconds;

// How long a reply may take before a test gives up on it.
inline constexpr Millis kReplyTimeout = 2000ms;
// How long "no reply" is awaited.
inline constexpr Millis kNoReplyWindow = 300ms;
// Server start-up and shutdown bounds.
inline constexpr Millis kStartTimeout = 5000ms;
inline constexpr Millis kStopTimeout = 5000ms;

// ---- File descriptors and temporary files ----

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // Writes text to a file in the directory and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

[[nodiscard]] std::string readTextFile(const std::filesystem::path& path);

// ---- Child processes ----

struct ProcessResult {
  bool timed_out = false;  // killed with SIGKILL after the timeout
  int exit_code = -1;      // valid when exited
  bool exited = false;     // false: killed by a signal (or timed out)
  int signal = 0;          // the terminating signal when !exited
  std::string out;
  std::string err;
};

// Runs turnpike with args to completion (at most `timeout`, then SIGKILL), capturing its output.
[[nodiscard]] ProcessResult runTurnpike(const std::vector<std::string>& args,
                                        Millis timeout = kStartTimeout);

// Starts the binary with stdin from /dev/null and stdout+stderr into log_path. The child is
// killed if the test process dies. Returns the pid, or -1.
// max_open_files, when set, becomes the child's RLIMIT_NOFILE (soft and hard); soft_open_files
// lowers only the soft limit.
[[nodiscard]] pid_t spawnProcess(const std::string& binary, const std::vector<std::string>& args,
                                 const std::filesystem::path& log_path,
                                 std::optional<std::uint64_t> max_open_files = std::nullopt,
                                 std::optional<std::uint64_t> soft_open_files = std::nullopt);

// Waits for a child to exit, at most timeout. Returns the waitpid status, or nullopt on timeout.
[[nodiscard]] std::optional<int> waitForExit(pid_t pid, Millis timeout);

// ---- Sockets ----

[[nodiscard]] protocol::Endpoint loopback(bool ipv6, std::uint16_t port = 0);
[[nodiscard]] protocol::Endpoint localEndpointOf(int fd);

// A free port on this address for both UDP and TCP (bound then released), or nullopt when the
// address cannot be bound at all (e.g. no IPv6).
[[nodiscard]] std::optional<std::uint16_t> pickFreePort(const protocol::IpAddress& address);

// A non-blocking socket (SOCK_DGRAM or SOCK_STREAM) bound to local without SO_REUSEADDR or
// SO_REUSEPORT, or an invalid fd.
[[nodiscard]] UniqueFd boundSocket(int type, const protocol::Endpoint& local);

// A non-blocking UDP socket bound to an ephemeral port on the loopback of server's family and
// connected to server, so that only the server's datagrams are received.
[[nodiscard]] UniqueFd udpConnect(const protocol::Endpoint& server);
// The same from a given local address (port 0: any), e.g. 127.0.0.2 as a client's new address.
[[nodiscard]] UniqueFd udpConnectFrom(const protocol::Endpoint& local,
                                      const protocol::Endpoint& server);
bool sendUdp(int fd, protocol::ConstBytes data);
// The next datagram, or nullopt after timeout.
[[nodiscard]] std::optional<Bytes> recvUdp(int fd, Millis timeout = kReplyTimeout);
// True when nothing arrives for `window`.
[[nodiscard]] bool noUdpReply(int fd, Millis window = kNoReplyWindow);

// A non-blocking TCP connection, or an invalid fd when it is not established within timeout.
[[nodiscard]] UniqueFd tcpConnect(const protocol::Endpoint& server, Millis timeout = kReplyTimeout);
bool sendAll(int fd, protocol::ConstBytes data, Millis timeout = kReplyTimeout);
// Exactly n bytes, or nullopt on timeout, EOF or error.
[[nodiscard]] std::optional<Bytes> recvExactly(int fd, std::size_t n,
                                               Millis timeout = kReplyTimeout);
// One STUN message framed by its header length.
[[nodiscard]] std::optional<Bytes> recvStun(int fd, Millis timeout = kReplyTimeout);
// True when the peer closes (recv returns 0 or ECONNRESET) within timeout; data is discarded.
[[nodiscard]] bool waitForPeerClose(int fd, Millis timeout = kReplyTimeout);
// True when nothing arrives and the connection stays open for `window`.
[[nodiscard]] bool tcpStaysQuiet(int fd, Millis window = kNoReplyWindow);
// Everything the peer sends until it closes the connection, or nullopt on timeout or error.
[[nodiscard]] std::optional<Bytes> recvUntilClose(int fd, Millis timeout = kReplyTimeout);

// Unconnected UDP sockets (e.g. a TURN peer): one datagram to `to`, and the next datagram with
// its source.
bool sendUdpTo(int fd, const protocol::Endpoint& to, protocol::ConstBytes data);
struct ReceivedDatagram {
  protocol::Endpoint source;
  Bytes data;
};
[[nodiscard]] std::optional<ReceivedDatagram> recvUdpFrom(int fd, Millis timeout = kReplyTimeout);

// ---- STUN ----

[[nodiscard]] protocol::TransactionId randomTransactionId();

// A Binding request (or another type) built with MessageBuilder; `add` appends attributes.
[[nodiscard]] Bytes buildMessage(const protocol::TransactionId& id,
                                 const std::function<void(protocol::MessageBuilder&)>& add = {},
                                 std::uint16_t type = protocol::messageType(
                                     protocol::Method::kBinding, protocol::MessageClass::kRequest));

// Parses a reply that must be a valid RFC 8489 message; fails the test otherwise. The Message
// views `bytes`, which must outlive it.
[[nodiscard]] std::optional<protocol::Message> parseReply(const Bytes& bytes);

// The value of the first attribute of a type, or nullopt.
[[nodiscard]] std::optional<protocol::ConstBytes> attributeValue(const protocol::Message& message,
                                                                 std::uint16_t type);

// ---- HTTP ----

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last one of a name wins
  std::string body;
  [[nodiscard]] std::string header(const std::string& lower_case_name) const;
};

// "METHOD target HTTP/1.0" with Host, Connection: close, the given header lines ("Name: value")
// and, when there is a body, Content-Length.
[[nodiscard]] std::string httpRequest(std::string_view method, std::string_view target,
                                      const std::vector<std::string>& headers = {},
                                      std::string_view body = {});
// Sends a whole request on a fresh connection and reads the answer until the server closes it.
// nullopt on a connection failure, a timeout or an answer that is not HTTP.
[[nodiscard]] std::optional<HttpResponse> httpExchange(const protocol::Endpoint& server,
                                                       const std::string& request,
                                                       Millis timeout = kReplyTimeout);

// ---- The server fixture ----

struct ServerOptions {
  bool ipv6 = false;  // listen on ::1 instead of 127.0.0.1; the test is skipped without IPv6
  bool udp = true;
  bool tcp = true;
  std::string software = "turnpike";
  int threads = 2;
  // A tls listener on its own port (tlsServer()), with a certificate generated for the test.
  bool tls = false;
  // That listener's transport: "tls", "auto" (TURN over TCP and over TLS on the one port), or
  // "dtls" (a UDP port: TURN over DTLS, dtls_test.cpp).
  std::string tls_transport = "tls";
  // proxy_protocol: true on the tcp and tls (or auto) listeners.
  bool proxy_protocol = false;
  // The HTTP endpoint (/metrics, /healthz) on a free port of the loopback (httpServer()); off
  // by default.
  bool http = false;

  // TURN. Empty or zero values leave the server's defaults (and write no key).
  std::string realm;
  std::vector<std::string> relay_addresses;  // relay.addresses, e.g. {"127.0.0.1"}
  std::uint16_t relay_port_min = 0;          // relay.port_range, when both are set
  std::uint16_t relay_port_max = 0;
  std::map<std::string, std::string> users;  // auth.users: name -> password
  std::vector<std::string> secrets;          // auth.secrets (REST credentials)
  std::vector<std::string> peers_allow;      // peers.allow, e.g. {"127.0.0.0/8"}
  std::uint32_t default_lifetime = 0;        // allocation.default_lifetime (seconds)
  std::uint32_t max_lifetime = 0;            // allocation.max_lifetime (seconds)
  std::uint32_t allocations_total = 0;       // limits.allocations_total
  std::uint32_t allocations_per_user = 0;    // limits.allocations_per_user
  // Further limits.* keys, written as given (e.g. {"connections_per_ip", 2}). The fixture turns
  // the per-address limits off unless a test sets them: tests of other features send bursts
  // from 127.0.0.1 (limits are tested on their own).
  std::map<std::string, std::uint64_t> limits{{"unauthenticated_per_ip_per_second", 0},
                                              {"connections_per_ip", 0}};
  // drain: 0 (the tests' default) exits on SIGTERM without draining.
  std::uint32_t drain_timeout = 0;
  std::vector<std::string> alternate_servers;  // drain.alternate_servers, "ADDRESS:PORT"
  std::string log_format;                      // log.format; empty: the default (text)

  // The credential API (needs http and secrets). Empty or unset values write no key.
  std::vector<std::string> api_keys;            // http.api_keys
  std::uint32_t api_max_ttl = 0;                // http.api_max_ttl
  std::optional<std::uint32_t> api_per_second;  // http.api_rate_limit.per_second (0 = off)
  std::optional<std::uint32_t> api_burst;       // http.api_rate_limit.burst
  std::vector<std::string> public_uris;         // public_uris
  bool http_selftest = false;                   // http.selftest (GET /selftest)
  // Appended to the config as is, e.g. "nat_discovery: {enabled: true, ...}\n".
  std::string extra_yaml;

  // RLIMIT_NOFILE (soft and hard) for the server process, set in the child before exec; unset
  // keeps the test process's limit.
  std::optional<std::uint64_t> max_open_files;
  // Only the soft RLIMIT_NOFILE, below the hard one (turnpike raises it at start).
  std::optional<std::uint64_t> soft_open_files;
};

// Starts turnpike in SetUp (skipping when the loopback address cannot be bound) and stops it with
// SIGTERM in TearDown, checking exit code 0 and "stopped" in the log. Derived fixtures override
// options() to change the config.
class ServerFixture : public ::testing::Test {
 protected:
  [[nodiscard]] virtual ServerOptions options() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  // Sends `signal` and waits (bounded) for a clean exit: code 0 and "stopped" logged.
  void stopServer(int signal);
  // Sends `signal` and returns at once.
  void signalServer(int signal) const;
  // Writes the config for `options` (same ports and certificate files), or `yaml` as is, over
  // the running server's config file. Send SIGHUP to apply it.
  void rewriteConfig(const ServerOptions& options) const;
  void rewriteConfig(const std::string& yaml) const;
  // Sends SIGHUP and waits (bounded) for the next "reloaded" or "reload rejected" log line;
  // returns that line, or "" on timeout.
  [[nodiscard]] std::string reload() const;
  // Waits (bounded) for the server to exit by itself; its exit status, or nullopt on timeout.
  [[nodiscard]] std::optional<int> waitForServerExit(std::chrono::milliseconds timeout);
  [[nodiscard]] const std::filesystem::path& tempDir() const { return dir_.path(); }

  [[nodiscard]] const protocol::Endpoint& server() const { return server_; }
  // The tls listener (options().tls), and the certificate it serves.
  [[nodiscard]] const protocol::Endpoint& tlsServer() const { return tls_server_; }
  [[nodiscard]] const std::filesystem::path& tlsCertificate() const { return tls_certificate_; }
  [[nodiscard]] const std::filesystem::path& tlsPrivateKey() const { return tls_private_key_; }
  // The HTTP endpoint (options().http).
  [[nodiscard]] const protocol::Endpoint& httpServer() const { return http_server_; }
  [[nodiscard]] std::string serverLog() const;
  // True while the child has not exited (it is not reaped here).
  [[nodiscard]] bool serverRunning() const;
  // The server's process id while it runs (for /proc/<pid>), or -1.
  [[nodiscard]] pid_t serverPid() const { return pid_; }

  [[nodiscard]] UniqueFd udpClient() const { return udpConnect(server_); }
  [[nodiscard]] UniqueFd tcpClient() const { return tcpConnect(server_); }

  // A Binding request over UDP; true when a Binding success response comes back.
  [[nodiscard]] bool udpBindingWorks() const;
  // The same over a new TCP connection.
  [[nodiscard]] bool tcpBindingWorks() const;

 private:
  // One start attempt: false if the child exited early (e.g. lost a port race).
  bool tryStart(const ServerOptions& options, std::uint16_t port, std::string& failure);
  bool waitUntilAnswering(const ServerOptions& options, std::string& failure);
  bool waitForTurn(const ServerOptions& options, std::chrono::steady_clock::time_point deadline,
                   std::string& failure);

  TempDir dir_;
  std::filesystem::path log_path_;
  protocol::Endpoint server_;
  protocol::Endpoint tls_server_;
  protocol::Endpoint http_server_;
  std::filesystem::path tls_certificate_;
  std::filesystem::path tls_private_key_;
  std::filesystem::path config_path_;
  std::uint16_t tls_port_ = 0;
  std::uint16_t http_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace turnpike::test

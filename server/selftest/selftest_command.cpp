#include "server/selftest/selftest_command.hpp"

#include <openssl/rand.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string_view>

#include "auth/rest_credentials.hpp"
#include "server/selftest/connection.hpp"
#include "server/selftest/options.hpp"
#include "server/selftest/report.hpp"
#include "server/selftest/text.hpp"
#include "server/selftest/turn_session.hpp"

namespace turnpike::server {
namespace {

using protocol::Endpoint;
using selftest::Check;
using selftest::Clock;
using selftest::Status;
using selftest::Transport;

constexpr std::string_view kUsage =
    "usage: turnpike selftest --server HOST[:PORT] (--secret S | --user U --password P)\n"
    "                         [--tls-port N] [--ca FILE | --insecure] [--tls-name NAME]\n"
    "                         [--transports udp,tcp,tls] [--timeout SECONDS] [--json]\n"
    "Checks a running TURN server over UDP, TCP and TLS: Binding, Allocate, CreatePermission,\n"
    "ChannelBind, an echo through the relay to a peer socket of this tool, and the relayed\n"
    "address. Exit status 0 when every check passed, 1 when one failed, 2 on a usage error.\n"
    "  --server HOST[:PORT]  the server (name or IP; port default 3478, IPv6 as [::1]:3478)\n"
    "  --secret S            mint a TURN REST credential with this auth.secrets entry\n"
    "  --user U --password P a long-term credential (auth.users)\n"
    "  --tls-port N          the TLS listener's port (default 5349)\n"
    "  --ca FILE             verify the server certificate against this CA (default: the\n"
    "                        system trust store)\n"
    "  --insecure            do not verify the server certificate\n"
    "  --tls-name NAME       the name sent as SNI and checked in the certificate (default:\n"
    "                        HOST when it is a name, else its IP address is checked)\n"
    "  --transports LIST     which of udp,tcp,tls to check (default all); the others are\n"
    "                        reported as skipped\n"
    "  --timeout SECONDS     for each network step, 1..60 (default 3)\n"
    "  --json                print the report as JSON on stdout (progress goes to stderr)\n";

constexpr std::uint16_t kChannel = 0x4000;
constexpr std::int64_t kCredentialTtl = 3600;

std::string randomHex() {
  std::array<unsigned char, 8> bytes{};
  (void)RAND_bytes(bytes.data(), static_cast<int>(bytes.size()));
  std::string text;
  for (const unsigned char byte : bytes) {
    text += "0123456789abcdef"[byte >> 4U];
    text += "0123456789abcdef"[byte & 0xFU];
  }
  return text;
}

class Runner {
 public:
  Runner(const selftest::SelftestOptions& options, Endpoint server, Endpoint tls_server,
         std::ostream& progress)
      : options_(options),
        server_(server),
        tls_server_(tls_server),
        credentials_(makeCredentials(options)),
        progress_(progress) {}

  selftest::RunInfo info() const {
    std::string verify = options_.insecure          ? "not verified (--insecure)"
                         : options_.ca_file.empty() ? "verified with the system trust store"
                                                    : "verified with --ca " + options_.ca_file;
    if (!options_.insecure) {
      verify += ", name " +
                (options_.tls_name.empty() ? tls_server_.address.toString() : options_.tls_name);
    }
    return {.server = server_.toString(),
            .tls_server = tls_server_.toString(),
            .auth = credentials_.mode == selftest::AuthMode::kSecret
                        ? "REST credential from --secret, username " + credentials_.username
                        : "user " + credentials_.username,
            .tls_verify = verify};
  }

  const selftest::Report& run() {
    for (const Transport transport : selftest::kTransports) {
      if (options_.enabled(transport)) {
        runTransport(transport);
      } else {
        skipFrom(transport, Check::kConnect, "not requested (--transports)", false);
        progress_ << "[skip] " << selftest::padRight(toString(transport), 5)
                  << " not requested (--transports)\n";
      }
      progress_.flush();
    }
    return report_;
  }

 private:
  static selftest::Credentials makeCredentials(const selftest::SelftestOptions& options) {
    if (!options.secret) {
      return {*options.user, *options.password, selftest::AuthMode::kUser};
    }
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto credential =
        auth::mintRestCredential(*options.secret, "selftest", kCredentialTtl,
                                 std::chrono::duration_cast<std::chrono::seconds>(now).count());
    return {credential.username, credential.password, selftest::AuthMode::kSecret};
  }

  void record(Transport transport, Check check, Status status, std::string detail,
              Clock::time_point start) {
    selftest::Step step{
        .transport = transport,
        .check = check,
        .status = status,
        .detail = std::move(detail),
        .elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start)};
    if (status != Status::kNotApplicable) {
      progress_ << selftest::progressLine(step) << "\n";
      progress_.flush();
    }
    report_.add(std::move(step));
  }

  // Marks `from` and the checks after it skipped (printed when `print`).
  void skipFrom(Transport transport, Check from, const std::string& why, bool print = true) {
    for (auto check = static_cast<std::size_t>(from); check < selftest::kCheckCount; ++check) {
      selftest::Step step{.transport = transport,
                          .check = static_cast<Check>(check),
                          .status = Status::kSkipped,
                          .detail = why};
      if (print) {
        progress_ << selftest::progressLine(step) << "\n";
      }
      report_.add(std::move(step));
    }
  }

  // Opens the transport's connection; nullptr after recording the failure.
  std::unique_ptr<selftest::Connection> connect(Transport transport) {
    const auto start = Clock::now();
    if (transport == Transport::kUdp) {
      record(transport, Check::kConnect, Status::kNotApplicable, "", start);
      auto connection = selftest::connectUdp(server_);
      if (!connection) {
        record(
            transport, Check::kBinding, Status::kFail,
            selftest::socketErrorMessage(transport, server_, connection.error().error_number, true),
            start);
        return nullptr;
      }
      return std::move(*connection);
    }
    const Endpoint& server = transport == Transport::kTls ? tls_server_ : server_;
    const auto deadline = start + options_.timeout;
    auto connection = transport == Transport::kTcp
                          ? selftest::connectTcp(server, deadline)
                          : selftest::connectTls(server,
                                                 {.ca_file = options_.ca_file,
                                                  .insecure = options_.insecure,
                                                  .name = options_.tls_name},
                                                 deadline);
    if (!connection) {
      const selftest::IoError& error = connection.error();
      std::string message;
      switch (error.kind) {
        case selftest::IoError::Kind::kTimeout:
          message = selftest::connectTimeoutMessage(transport, server, options_.timeout);
          break;
        case selftest::IoError::Kind::kSocket:
          message = selftest::socketErrorMessage(transport, server, error.error_number, true);
          break;
        case selftest::IoError::Kind::kClosed:
          message = selftest::tlsFailureMessage(
              server, "the server closed the connection during the handshake", false);
          break;
        case selftest::IoError::Kind::kTls:
          message = selftest::tlsFailureMessage(server, error.detail, error.verify_failed);
          break;
      }
      record(transport, Check::kConnect, Status::kFail, message, start);
      return nullptr;
    }
    record(transport, Check::kConnect, Status::kPass,
           transport == Transport::kTls
               ? "TLS to " + server.toString() + ", certificate " + info().tls_verify
               : "TCP to " + server.toString(),
           start);
    return std::move(*connection);
  }

  // The peer socket, opened on first use, and its address as the server will address it.
  std::expected<Endpoint, std::string> peer() {
    if (peer_) {
      return peer_address_;
    }
    auto local = selftest::localAddressFor(server_);
    if (!local) {
      return std::unexpected("cannot find the local address toward " + server_.toString());
    }
    auto socket = selftest::PeerSocket::bind(*local);
    if (!socket) {
      return std::unexpected("cannot open the peer socket on " + local->toString());
    }
    peer_.emplace(std::move(*socket));
    peer_address_ = peer_->local();
    // Behind NAT the relay reaches the peer at its mapped address (what a real peer's ICE
    // candidate would be); learned over UDP when UDP works.
    if (udp_works_) {
      if (auto mapped = selftest::peerMappedAddress(*peer_, server_, options_.timeout)) {
        peer_address_ = *mapped;
      }
    }
    return peer_address_;
  }

  // client -> relay -> peer -> relay -> client, through the bound channel.
  void echo(Transport transport, selftest::TurnSession& session,
            const selftest::Allocation& allocation) {
    const auto start = Clock::now();
    const std::string payload =
        selftest::fill("turnpike selftest echo {} {}", toString(transport), randomHex());
    const auto bytes = protocol::asBytes(payload);
    // First from the peer to the relay, as a peer behind a NAT would, to open its pinhole.
    (void)peer_->sendTo(allocation.relayed, protocol::asBytes("turnpike selftest hello"));
    if (auto sent = session.sendChannelData(kChannel, bytes); !sent) {
      record(transport, Check::kEcho, Status::kFail, sent.error(), start);
      return;
    }
    selftest::EchoOutcome outcome{.relayed = allocation.relayed, .peer = peer_address_};
    const auto deadline = start + options_.timeout;
    while (auto datagram = peer_->receive(deadline)) {
      if (std::ranges::equal(datagram->bytes, bytes)) {
        outcome.seen_from = datagram->source;
        break;
      }
    }
    if (outcome.seen_from) {
      (void)peer_->sendTo(allocation.relayed, bytes);
      outcome.returned = session.awaitData(bytes, Clock::now() + options_.timeout);
    }
    if (auto problem = selftest::echoFailureMessage(outcome, options_.timeout)) {
      record(transport, Check::kEcho, outcome.returned ? Status::kWarn : Status::kFail, *problem,
             start);
      return;
    }
    record(transport, Check::kEcho, Status::kPass,
           selftest::fill("{} bytes to the peer {} and back via {}", payload.size(),
                          peer_address_.toString(), allocation.relayed.toString()),
           start);
  }

  // CreatePermission, ChannelBind and the echo, each recorded.
  void relayChecks(Transport transport, selftest::TurnSession& session,
                   const selftest::Allocation& allocation) {
    auto start = Clock::now();
    const auto peer_address = peer();
    if (!peer_address) {
      record(transport, Check::kPermission, Status::kFail, peer_address.error(), start);
      skipFrom(transport, Check::kChannel, "no peer socket");
      return;
    }
    if (auto done = session.createPermission(*peer_address); !done) {
      record(transport, Check::kPermission, Status::kFail, done.error(), start);
      skipFrom(transport, Check::kChannel, "after the failed permission");
      return;
    }
    record(transport, Check::kPermission, Status::kPass, "peer " + peer_address->toString(), start);
    start = Clock::now();
    if (auto done = session.channelBind(kChannel, *peer_address); !done) {
      record(transport, Check::kChannel, Status::kFail, done.error(), start);
      skipFrom(transport, Check::kEcho, "after the failed channel bind");
      return;
    }
    record(transport, Check::kChannel, Status::kPass,
           concat("channel 0x4000 -> ", peer_address->toString()), start);
    echo(transport, session, allocation);
  }

  void runTransport(Transport transport) {
    const Endpoint& server = transport == Transport::kTls ? tls_server_ : server_;
    auto connection = connect(transport);
    if (!connection) {
      skipFrom(transport, transport == Transport::kUdp ? Check::kAllocate : Check::kBinding,
               "no connection");
      return;
    }
    selftest::TurnSession session(*connection, server, credentials_, options_.timeout);
    auto start = Clock::now();
    auto mapped = session.binding();
    if (!mapped) {
      record(transport, Check::kBinding, Status::kFail, mapped.error(), start);
      skipFrom(transport, Check::kAllocate, "after the failed binding");
      return;
    }
    udp_works_ = udp_works_ || transport == Transport::kUdp;
    record(transport, Check::kBinding, Status::kPass, "mapped " + mapped->toString(), start);
    start = Clock::now();
    // The relay in the server's family: the peer socket is in that family too.
    auto allocation = session.allocate(server.address.family());
    if (!allocation) {
      record(transport, Check::kAllocate, Status::kFail, allocation.error(), start);
      skipFrom(transport, Check::kRelay, "after the failed allocate");
      return;
    }
    record(transport, Check::kAllocate, Status::kPass,
           selftest::fill("relayed {}, lifetime {} s", allocation->relayed.toString(),
                          allocation->lifetime),
           start);
    start = Clock::now();
    if (auto warning = selftest::relayAddressWarning(allocation->relayed, server)) {
      record(transport, Check::kRelay, Status::kWarn, *warning, start);
    } else {
      record(transport, Check::kRelay, Status::kPass,
             allocation->relayed.address.toString() +
                 (selftest::isPublicAddress(allocation->relayed.address)
                      ? " (public)"
                      : " (not public, like the server address)"),
             start);
    }
    relayChecks(transport, session, *allocation);
    start = Clock::now();
    if (auto freed = session.free(); !freed) {
      record(transport, Check::kRefresh, Status::kFail, freed.error(), start);
    } else {
      record(transport, Check::kRefresh, Status::kPass, "allocation deleted (Refresh, lifetime 0)",
             start);
    }
  }

  const selftest::SelftestOptions& options_;
  Endpoint server_;
  Endpoint tls_server_;
  selftest::Credentials credentials_;
  std::ostream& progress_;
  selftest::Report report_;
  bool udp_works_ = false;
  std::optional<selftest::PeerSocket> peer_;
  Endpoint peer_address_;
};

}  // namespace

int runSelftestCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::signal(SIGPIPE, SIG_IGN);  // a server that closes a TLS connection must not kill the tool
  auto options = selftest::parseSelftestOptions(args);
  if (!options) {
    err << "turnpike selftest: " << options.error() << "\n" << kUsage;
    return 2;
  }
  if (options->help) {
    out << kUsage;
    return 0;
  }
  auto address = selftest::resolveHost(options->server.host);
  if (!address) {
    err << "turnpike selftest: " << address.error() << "\n";
    return 1;
  }
  if (options->tls_name.empty() && !protocol::IpAddress::parse(options->server.host)) {
    options->tls_name = options->server.host;
  }
  std::ostream& progress = options->json ? err : out;
  Runner runner(*options, {*address, options->port}, {*address, options->tls_port}, progress);
  const selftest::RunInfo info = runner.info();
  progress << "turnpike selftest: " << options->server.host << " (udp/tcp " << info.server
           << ", tls " << info.tls_server << "), " << info.auth << "; TLS certificate "
           << info.tls_verify << "\n";
  const selftest::Report& report = runner.run();
  if (options->json) {
    out << selftest::reportJson(report, info);
  } else {
    out << "\n" << selftest::summaryTable(report);
  }
  return report.passed() ? 0 : 1;
}

}  // namespace turnpike::server

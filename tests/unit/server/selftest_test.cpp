// `turnpike selftest`: the pure parts. The private-vs-public relay flag, the message for each
// failure, the command line, and the report's table and JSON.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "server/http/json.hpp"
#include "server/selftest/diagnosis.hpp"
#include "server/selftest/options.hpp"
#include "server/selftest/report.hpp"

namespace turnpike::server::selftest {
namespace {

using namespace std::chrono_literals;
using protocol::Endpoint;
using protocol::IpAddress;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }
Endpoint endpoint(const char* address, std::uint16_t port) { return {ip(address), port}; }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SelftestAddressTest, PrivateRanges) {
  for (const char* address :
       {"10.0.0.5", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.254",
        "169.254.169.254", "fd00::1", "fc12::5", "fe80::1", "::ffff:10.1.2.3"}) {
    SCOPED_TRACE(address);
    EXPECT_TRUE(isPrivateAddress(ip(address)));
    EXPECT_FALSE(isPublicAddress(ip(address)));
  }
  for (const char* address :
       {"172.32.0.1", "100.128.0.1", "8.8.8.8", "203.0.113.5", "2001:db8::1", "127.0.0.1", "::1"}) {
    SCOPED_TRACE(address);
    EXPECT_FALSE(isPrivateAddress(ip(address)));
  }
}

TEST(SelftestAddressTest, PublicExcludesLoopbackUnspecifiedAndMulticast) {
  for (const char* address : {"127.0.0.1", "127.0.0.66", "0.0.0.0", "224.0.0.1", "255.255.255.255",
                              "::1", "::", "ff02::1", "::ffff:127.0.0.1"}) {
    SCOPED_TRACE(address);
    EXPECT_FALSE(isPublicAddress(ip(address)));
  }
  for (const char* address : {"8.8.8.8", "203.0.113.5", "2001:db8::1", "::ffff:8.8.8.8"}) {
    SCOPED_TRACE(address);
    EXPECT_TRUE(isPublicAddress(ip(address)));
  }
}

TEST(SelftestAddressTest, PrivateRelayOnAPublicServerIsFlagged) {
  const auto warning =
      relayAddressWarning(endpoint("10.0.0.5", 50000), endpoint("203.0.113.5", 3478));
  ASSERT_TRUE(warning.has_value());
  EXPECT_TRUE(contains(*warning, "10.0.0.5:50000")) << *warning;
  EXPECT_TRUE(contains(*warning, "203.0.113.5")) << *warning;
  EXPECT_TRUE(contains(*warning, "relay.external_addresses")) << *warning;
  EXPECT_TRUE(
      relayAddressWarning(endpoint("fd00::5", 50000), endpoint("2001:db8::1", 3478)).has_value());
}

TEST(SelftestAddressTest, NoFlagWhenNothingIsWrong) {
  // A loopback server (the tests' case), a private server (the tool runs inside that network),
  // and a public relay.
  EXPECT_FALSE(relayAddressWarning(endpoint("127.0.0.1", 50000), endpoint("127.0.0.1", 3478)));
  EXPECT_FALSE(relayAddressWarning(endpoint("10.0.0.5", 50000), endpoint("10.0.0.5", 3478)));
  EXPECT_FALSE(relayAddressWarning(endpoint("10.0.0.5", 50000), endpoint("127.0.0.1", 3478)));
  EXPECT_FALSE(relayAddressWarning(endpoint("203.0.113.5", 50000), endpoint("203.0.113.5", 3478)));
}

TEST(SelftestMessageTest, NetworkFailures) {
  const Endpoint server = endpoint("192.0.2.1", 3478);
  EXPECT_EQ(udpTimeoutMessage(server, 3s),
            "no answer over UDP from 192.0.2.1:3478 within 3 s: UDP blocked or the server is "
            "not listening");
  EXPECT_EQ(socketErrorMessage(Transport::kTls, endpoint("192.0.2.1", 5349), ECONNREFUSED, true),
            "TLS port 192.0.2.1:5349 refused the connection: nothing listens there");
  EXPECT_TRUE(contains(socketErrorMessage(Transport::kUdp, server, ECONNREFUSED, false),
                       "ICMP port unreachable"));
  EXPECT_TRUE(contains(socketErrorMessage(Transport::kTcp, server, EHOSTUNREACH, true),
                       "no route to the host"));
  EXPECT_TRUE(contains(connectTimeoutMessage(Transport::kTcp, server, 2s),
                       "TCP port 192.0.2.1:3478 did not accept a connection within 2 s"));
  const std::string tls = tlsFailureMessage(server, "self-signed certificate", true);
  EXPECT_TRUE(contains(tls, "did not verify: self-signed certificate")) << tls;
  EXPECT_TRUE(contains(tls, "--ca")) << tls;
  EXPECT_EQ(seconds(1500ms), "1.5 s");
}

TEST(SelftestMessageTest, ErrorResponses) {
  ErrorContext context{.method = protocol::Method::kAllocate, .code = 401};
  EXPECT_EQ(errorResponseMessage(context),
            "the server refused the credentials (401 Unauthorized): the secret does not match "
            "auth.secrets, or the clock is off");
  context.auth = AuthMode::kUser;
  EXPECT_TRUE(contains(errorResponseMessage(context), "auth.users"));

  context = {.method = protocol::Method::kCreatePermission,
             .code = 403,
             .peer = endpoint("127.0.0.1", 4000)};
  const std::string forbidden = errorResponseMessage(context);
  EXPECT_TRUE(contains(forbidden, "peer 127.0.0.1")) << forbidden;
  EXPECT_TRUE(contains(forbidden, "peers.allow")) << forbidden;

  context = {.method = protocol::Method::kAllocate, .code = 486};
  EXPECT_TRUE(contains(errorResponseMessage(context), "limits.allocations_per_user"));
  context.code = 508;
  EXPECT_TRUE(contains(errorResponseMessage(context), "relay.port_range"));
  context = {.method = protocol::Method::kAllocate,
             .code = 300,
             .alternate_server = endpoint("192.0.2.7", 3478)};
  EXPECT_TRUE(contains(errorResponseMessage(context), "192.0.2.7:3478"));
  // An unknown code keeps the server's code and reason.
  context = {.method = protocol::Method::kChannelBind, .code = 499, .reason = "Odd"};
  EXPECT_TRUE(contains(errorResponseMessage(context), "ChannelBind error 499 \"Odd\""));
}

TEST(SelftestMessageTest, Echo) {
  EchoOutcome outcome{.relayed = endpoint("127.0.0.66", 50000),
                      .peer = endpoint("127.0.0.1", 40000)};
  const auto nothing = echoFailureMessage(outcome, 3s);
  ASSERT_TRUE(nothing.has_value());
  EXPECT_TRUE(contains(*nothing, "nothing reached the peer 127.0.0.1:40000")) << *nothing;

  outcome.seen_from = endpoint("127.0.0.1", 50000);
  const auto wrong = echoFailureMessage(outcome, 3s);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_TRUE(contains(*wrong,
                       "the relay address 127.0.0.66:50000 did not pass the echo: "
                       "relay.external_addresses may be wrong, or a firewall drops the relay "
                       "range"))
      << *wrong;
  EXPECT_TRUE(contains(*wrong, "from 127.0.0.1:50000")) << *wrong;

  outcome.returned = true;
  ASSERT_TRUE(echoFailureMessage(outcome, 3s).has_value());  // returned, from elsewhere
  outcome.seen_from = outcome.relayed;
  EXPECT_FALSE(echoFailureMessage(outcome, 3s).has_value());
}

TEST(SelftestOptionsTest, HostPort) {
  EXPECT_EQ(parseHostPort("turn.example.com")->host, "turn.example.com");
  EXPECT_FALSE(parseHostPort("turn.example.com")->port.has_value());
  EXPECT_EQ(parseHostPort("192.0.2.1:3479")->port, 3479);
  EXPECT_EQ(parseHostPort("[::1]:3479")->host, "::1");
  EXPECT_EQ(parseHostPort("[::1]:3479")->port, 3479);
  EXPECT_EQ(parseHostPort("2001:db8::1")->host, "2001:db8::1");
  for (const char* bad : {"", ":3478", "host:", "host:0", "host:70000", "[::1", "[::1]x"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(parseHostPort(bad).has_value());
  }
}

TEST(SelftestOptionsTest, ValidCommandLines) {
  auto options = parseSelftestOptions({"--server", "192.0.2.1", "--secret", "s"});
  ASSERT_TRUE(options.has_value()) << options.error();
  EXPECT_EQ(options->port, kDefaultPort);
  EXPECT_EQ(options->tls_port, kDefaultTlsPort);
  EXPECT_EQ(options->timeout, kDefaultTimeout);
  EXPECT_TRUE(options->enabled(Transport::kTls));

  options = parseSelftestOptions({"--server=192.0.2.1:3479", "--user", "u", "--password=p",
                                  "--tls-port", "443", "--transports", "udp,tcp", "--timeout", "2",
                                  "--json", "--insecure"});
  ASSERT_TRUE(options.has_value()) << options.error();
  EXPECT_EQ(options->port, 3479);
  EXPECT_EQ(options->tls_port, 443);
  EXPECT_EQ(options->timeout, 2s);
  EXPECT_TRUE(options->json);
  EXPECT_TRUE(options->insecure);
  EXPECT_TRUE(options->enabled(Transport::kUdp));
  EXPECT_FALSE(options->enabled(Transport::kTls));
}

TEST(SelftestOptionsTest, BadCommandLinesNameTheProblem) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--secret", "s"}, "--server"},
      {{"--server", "h"}, "credentials are required"},
      {{"--server", "h", "--user", "u"}, "credentials are required"},
      {{"--server", "h", "--secret", "s", "--user", "u", "--password", "p"}, "not both"},
      {{"--server", "h", "--secret", ""}, "--secret must not be empty"},
      {{"--server", "h", "--secret", "s", "--ca", "f", "--insecure"}, "--ca or --insecure"},
      {{"--server", "h", "--secret", "s", "--tls-port", "0"}, "--tls-port"},
      {{"--server", "h", "--secret", "s", "--timeout", "0"}, "--timeout"},
      {{"--server", "h", "--secret", "s", "--transports", "udp,quic"}, "'quic'"},
      {{"--server", "h", "--secret", "s", "--server", "g"}, "more than once"},
      {{"--server", "h", "--secret"}, "--secret needs a value"},
      {{"--server", "h", "--secret", "s", "--frobnicate"}, "unknown argument '--frobnicate'"},
  };
  for (const auto& [args, expected] : cases) {
    const auto options = parseSelftestOptions(args);
    ASSERT_FALSE(options.has_value()) << expected;
    EXPECT_TRUE(contains(options.error(), expected)) << options.error();
  }
}

Report sampleReport() {
  Report report;
  report.add({.transport = Transport::kUdp,
              .check = Check::kBinding,
              .status = Status::kPass,
              .detail = "mapped 127.0.0.1:40000",
              .elapsed = 1200us});
  report.add({.transport = Transport::kUdp,
              .check = Check::kEcho,
              .status = Status::kFail,
              .detail = "the relay address did not pass the echo"});
  report.add({.transport = Transport::kTcp, .check = Check::kRelay, .status = Status::kWarn});
  return report;
}

TEST(SelftestReportTest, ProgressLine) {
  EXPECT_EQ(progressLine(sampleReport().steps()[0]),
            "[ ok ] udp   binding        mapped 127.0.0.1:40000  1.2 ms");
  EXPECT_TRUE(progressLine(sampleReport().steps()[1]).starts_with("[FAIL] udp   echo"));
}

TEST(SelftestReportTest, SummaryTableAndVerdict) {
  const Report report = sampleReport();
  EXPECT_FALSE(report.passed());
  EXPECT_EQ(report.status(Transport::kTls, Check::kEcho), Status::kSkipped);
  const std::string table = summaryTable(report);
  EXPECT_TRUE(contains(table, "check          udp      tcp      tls\n")) << table;
  EXPECT_TRUE(contains(table, "binding        pass     skipped  skipped\n")) << table;
  EXPECT_TRUE(contains(table, "echo           fail     skipped  skipped\n")) << table;
  EXPECT_TRUE(contains(table, "FAIL udp echo: the relay address did not pass the echo\n")) << table;
  EXPECT_TRUE(table.ends_with("FAIL (1 failed, 1 warnings)\n")) << table;

  Report good;
  good.add({.transport = Transport::kUdp, .check = Check::kBinding, .status = Status::kPass});
  good.add({.transport = Transport::kTcp, .check = Check::kRelay, .status = Status::kWarn});
  EXPECT_TRUE(good.passed());  // a warning does not fail the run
  EXPECT_TRUE(summaryTable(good).ends_with("PASS (1 warnings)\n"));
}

TEST(SelftestReportTest, Json) {
  const std::string json = reportJson(sampleReport(), {.server = "127.0.0.1:3478"});
  EXPECT_TRUE(json.starts_with("{\"result\":\"fail\",\"server\":\"127.0.0.1:3478\"")) << json;
  EXPECT_TRUE(contains(json,
                       "{\"transport\":\"udp\",\"check\":\"binding\",\"status\":\"pass\","
                       "\"detail\":\"mapped 127.0.0.1:40000\",\"elapsed_us\":1200}"))
      << json;
  EXPECT_TRUE(contains(json, "\"summary\":{\"udp\":{\"connect\":\"skipped\",\"binding\":\"pass\""))
      << json;
}

}  // namespace
}  // namespace turnpike::server::selftest

// `turnpike selftest` against the real server on 127.0.0.1 (udp, tcp and tls listeners): it
// passes, its JSON report parses, and it fails with the specific message for a wrong secret, a
// closed TLS port and a relay address that peers cannot reach.
#include <cstdio>
#include <string>
#include <vector>

#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {
namespace {

constexpr Millis kSelftestTimeout = 40000ms;  // the whole command, well above its own bounds
constexpr const char* kSecret = "selftest-secret";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string describe(const ProcessResult& result) {
  std::string text = result.timed_out ? "timed out" : result.exited ? "exit code " : "signal ";
  if (!result.timed_out) {
    text += std::to_string(result.exited ? result.exit_code : result.signal);
  }
  return text + "\n--- stdout ---\n" + result.out + "--- stderr ---\n" + result.err;
}

ServerOptions selftestServer() {
  ServerOptions options;
  options.tls = true;
  options.secrets = {kSecret};
  options.peers_allow = {"127.0.0.0/8"};  // the tool's peer socket is on the loopback
  return options;
}

class SelftestCliTest : public ServerFixture {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = selftestServer();
    options.relay_addresses = {"127.0.0.1"};
    return options;
  }

  // selftest against this server; `extra` replaces or adds options.
  [[nodiscard]] ProcessResult selftest(const std::vector<std::string>& extra,
                                       const std::string& secret = kSecret,
                                       std::uint16_t tls_port = 0) const {
    std::vector<std::string> args = {"selftest",
                                     "--server",
                                     server().toString(),
                                     "--secret",
                                     secret,
                                     "--tls-port",
                                     std::to_string(tls_port != 0 ? tls_port : tlsServer().port),
                                     "--ca",
                                     tlsCertificate().string(),
                                     "--tls-name",
                                     "localhost",
                                     "--timeout",
                                     "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return runTurnpike(args, kSelftestTimeout);
  }
};

TEST_F(SelftestCliTest, PassesAgainstALocalServer) {
  const ProcessResult result = selftest({});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  for (const char* transport : {"udp  ", "tcp  ", "tls  "}) {
    for (const char* check :
         {"binding", "allocate", "relay-address", "permission", "channel-bind", "echo", "free"}) {
      EXPECT_TRUE(contains(result.out, std::string("[ ok ] ") + transport + " " + check))
          << transport << check << "\n"
          << describe(result);
    }
  }
  EXPECT_TRUE(contains(result.out, "[ ok ] tls   connect        TLS to " + tlsServer().toString() +
                                       ", certificate verified with --ca"))
      << describe(result);
  EXPECT_TRUE(contains(result.out, "relayed 127.0.0.1:")) << describe(result);
  EXPECT_TRUE(contains(result.out, "echo           pass     pass     pass\n")) << describe(result);
  EXPECT_TRUE(contains(result.out, "\nPASS (0 warnings)\n")) << describe(result);
  // Every allocation was freed: the server logs each end with its reason.
  EXPECT_FALSE(contains(serverLog(), "reason=expired")) << serverLog();
}

TEST_F(SelftestCliTest, JsonReportParses) {
  const ProcessResult result = selftest({"--json"});
  ASSERT_TRUE(result.exited) << describe(result);
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  // Progress lines go to stderr; stdout is only the report.
  EXPECT_TRUE(contains(result.err, "[ ok ] udp   echo")) << describe(result);
  const TempDir dir;
  const auto report = dir.write("report.json", result.out);
  // python3 (a test dependency) parses the report and prints what the test checks.
  const std::string command =
      "python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); "
      "print(r[\"result\"], len(r[\"steps\"]), "
      "sorted({v for t in r[\"summary\"].values() for v in t.values()}), "
      "r[\"summary\"][\"udp\"][\"connect\"], r[\"summary\"][\"tls\"][\"echo\"])' " +
      report.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string parsed;
  std::array<char, 256> chunk{};
  while (std::fgets(chunk.data(), chunk.size(), pipe) != nullptr) {
    parsed += chunk.data();
  }
  EXPECT_EQ(::pclose(pipe), 0) << parsed << result.out;
  EXPECT_EQ(parsed, "pass 24 ['n/a', 'pass'] n/a pass\n") << result.out;
}

TEST_F(SelftestCliTest, WrongSecretIsNamed) {
  const ProcessResult result = selftest({}, "not-the-secret");
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_TRUE(contains(result.out,
                       "[FAIL] udp   allocate       the server refused the credentials (401 "
                       "Unauthorized): the secret does not match auth.secrets, or the clock is "
                       "off"))
      << describe(result);
  EXPECT_TRUE(contains(result.out, "allocate       fail     fail     fail\n")) << describe(result);
  EXPECT_TRUE(contains(result.out, "binding        pass     pass     pass\n")) << describe(result);
}

TEST_F(SelftestCliTest, ClosedTlsPortIsNamed) {
  const auto closed = pickFreePort(server().address);
  ASSERT_TRUE(closed.has_value());
  const ProcessResult result = selftest({}, kSecret, *closed);
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  const std::string expected =
      "[FAIL] tls   connect        TLS port 127.0.0.1:" + std::to_string(*closed) +
      " refused the connection: nothing listens there";
  EXPECT_TRUE(contains(result.out, expected)) << describe(result);
  // UDP and TCP still pass; the TLS checks after the connection are skipped.
  EXPECT_TRUE(contains(result.out, "echo           pass     pass     skipped\n"))
      << describe(result);
}

TEST_F(SelftestCliTest, TransportsNotRequestedAreSkipped) {
  const ProcessResult result = selftest({"--transports", "udp"});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(contains(result.out, "[skip] tls   not requested (--transports)"))
      << describe(result);
  EXPECT_TRUE(contains(result.out, "echo           pass     skipped  skipped\n"))
      << describe(result);
}

// Over IPv6 the tool asks for an IPv6 relay (its peer socket is on ::1).
class SelftestIpv6Test : public SelftestCliTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = selftestServer();
    options.ipv6 = true;
    options.relay_addresses = {"::1"};
    options.peers_allow = {"::1/128"};
    return options;
  }
};

TEST_F(SelftestIpv6Test, PassesOverIpv6) {
  const ProcessResult result = selftest({});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(contains(result.out, "[ ok ] udp   allocate       relayed [::1]:"))
      << describe(result);
  EXPECT_TRUE(contains(result.out, "echo           pass     pass     pass\n")) << describe(result);
}

// relay.external_addresses advertises 127.0.0.66, which the relay sockets (bound to 127.0.0.1)
// do not own: the data reaches the peer from 127.0.0.1, and the peer's answer to 127.0.0.66 is
// lost. Traffic stays on 127.0.0.0/8.
class SelftestWrongExternalAddressTest : public SelftestCliTest {
 protected:
  [[nodiscard]] ServerOptions options() const override {
    ServerOptions options = selftestServer();
    options.extra_yaml = "relay: {addresses: [127.0.0.1], external_addresses: [127.0.0.66]}\n";
    return options;
  }
};

TEST_F(SelftestWrongExternalAddressTest, UnreachableRelayAddressIsNamed) {
  const ProcessResult result = selftest({"--transports", "udp,tcp"});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_TRUE(contains(result.out, "[FAIL] udp   echo           the relay address 127.0.0.66:"))
      << describe(result);
  EXPECT_TRUE(contains(result.out,
                       "did not pass the echo: relay.external_addresses may be wrong, or a "
                       "firewall drops the relay range (the data reached the peer from "
                       "127.0.0.1:"))
      << describe(result);
  EXPECT_TRUE(contains(result.out, "echo           fail     fail     skipped\n"))
      << describe(result);
}

}  // namespace
}  // namespace turnpike::test

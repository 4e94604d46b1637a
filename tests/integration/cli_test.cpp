// The turnpike command line: --version, --check-config on good and bad files, unknown arguments,
// and a start-up that fails because the port is taken.
#include <sys/socket.h>

#include <string>
#include <vector>

#include "tests/integration/server_fixture.hpp"

namespace turnpike::test {
namespace {

std::string describe(const ProcessResult& result) {
  std::string text = result.timed_out ? "timed out" : result.exited ? "exit code " : "signal ";
  if (!result.timed_out) {
    text += std::to_string(result.exited ? result.exit_code : result.signal);
  }
  return text + "\n--- stdout ---\n" + result.out + "--- stderr ---\n" + result.err;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string listenersYaml(std::uint16_t port) {
  const std::string p = std::to_string(port);
  return "listeners:\n"
         "  - {transport: udp, address: 127.0.0.1, port: " +
         p +
         "}\n"
         "  - {transport: tcp, address: 127.0.0.1, port: " +
         p + "}\n";
}

TEST(CliTest, VersionPrintsNameAndVersion) {
  const ProcessResult result = runTurnpike({"--version"});
  ASSERT_TRUE(result.exited && result.exit_code == 0) << describe(result);
  EXPECT_EQ(result.out, "turnpike " TURNPIKE_EXPECTED_VERSION "\n");
}

TEST(CliTest, UnknownArgumentExitsWith2AndUsage) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--frobnicate"}, std::vector<std::string>{"--config"},
        std::vector<std::string>{"--check-config"},
        std::vector<std::string>{"--version", "extra"}}) {
    SCOPED_TRACE(args.front() + (args.size() > 1 ? " " + args[1] : ""));
    const ProcessResult result = runTurnpike(args);
    ASSERT_TRUE(result.exited) << describe(result);
    EXPECT_EQ(result.exit_code, 2) << describe(result);
    EXPECT_TRUE(contains(result.err, "usage")) << describe(result);
  }
}

TEST(CliTest, CheckConfigAcceptsAValidFile) {
  const TempDir dir;
  const auto path = dir.write("good.yaml", listenersYaml(3478) +
                                               "software: turnpike\n"
                                               "threads: 2\n"
                                               "log: {level: debug}\n");
  const ProcessResult result = runTurnpike({"--check-config", path.string()});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(contains(result.out, path.string() + ": OK")) << describe(result);
}

TEST(CliTest, CheckConfigAcceptsThePrintedDefaultConfig) {
  const ProcessResult printed = runTurnpike({"--print-default-config"});
  ASSERT_TRUE(printed.exited && printed.exit_code == 0) << describe(printed);
  const TempDir dir;
  const auto path = dir.write("default.yaml", printed.out);
  const ProcessResult result = runTurnpike({"--check-config", path.string()});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(contains(result.out, ": OK")) << describe(result);
}

struct BadConfig {
  std::string name;
  std::string yaml;
  std::vector<std::string> expected;  // substrings of stderr
};

TEST(CliTest, CheckConfigRejectsBadFilesNamingTheKey) {
  const std::vector<BadConfig> cases{
      {"port out of range",
       "listeners:\n  - {transport: udp, address: 127.0.0.1, port: 70000}\n",
       {"listeners[0].port"}},
      {"port zero",
       "listeners:\n  - {transport: udp, address: 127.0.0.1, port: 0}\n",
       {"listeners[0].port"}},
      {"second listener's port",
       "listeners:\n  - {transport: udp, address: 127.0.0.1, port: 3478}\n"
       "  - {transport: tcp, address: 127.0.0.1, port: not-a-port}\n",
       {"listeners[1].port"}},
      {"unknown key", listenersYaml(3478) + "listner: []\n", {"listner", "unknown key"}},
      {"bad transport",
       "listeners:\n  - {transport: sctp, address: 127.0.0.1, port: 3478}\n",
       {"listeners[0].transport"}},
      {"bad address",
       "listeners:\n  - {transport: udp, address: 127.0.0.300, port: 3478}\n",
       {"listeners[0].address"}},
      {"tls listener without a certificate",
       "listeners:\n  - {transport: tls, address: 127.0.0.1, port: 5349}\n",
       {"tls"}},
      {"YAML syntax error",
       "listeners: [{transport: udp, address: 127.0.0.1\nsoftware: x\n",
       {"yaml"}},
      {"bad log level", listenersYaml(3478) + "log: {level: chatty}\n", {"log.level"}},
  };
  const TempDir dir;
  int index = 0;
  for (const BadConfig& bad : cases) {
    SCOPED_TRACE(bad.name);
    const auto path = dir.write("bad" + std::to_string(index++) + ".yaml", bad.yaml);
    const ProcessResult result = runTurnpike({"--check-config", path.string()});
    ASSERT_TRUE(result.exited) << describe(result);
    EXPECT_NE(result.exit_code, 0) << describe(result);
    EXPECT_FALSE(contains(result.out, "OK")) << describe(result);
    for (const std::string& part : bad.expected) {
      EXPECT_TRUE(contains(result.err, part)) << "expected \"" << part << "\"\n"
                                              << describe(result);
    }
  }
}

TEST(CliTest, CheckConfigOnAMissingFileFails) {
  const TempDir dir;
  const std::string path = (dir.path() / "does-not-exist.yaml").string();
  const ProcessResult result = runTurnpike({"--check-config", path});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_NE(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(contains(result.err, path)) << describe(result);
  EXPECT_TRUE(contains(result.err, "cannot read")) << describe(result);
}

TEST(CliTest, ConfigWithBadFileDoesNotStart) {
  const TempDir dir;
  const auto path = dir.write("bad.yaml", "listeners: 5\n");
  const ProcessResult result = runTurnpike({"--config", path.string()});
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_NE(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(contains(result.err, "listeners")) << describe(result);
}

// Another socket holds the port (without SO_REUSEPORT): turnpike must fail with a bind error.
void expectPortInUseFailure(int socket_type) {
  const auto port = pickFreePort(loopback(false).address);
  ASSERT_TRUE(port);
  const UniqueFd holder = boundSocket(socket_type, loopback(false, *port));
  ASSERT_TRUE(holder.valid());
  if (socket_type == SOCK_STREAM) {
    ASSERT_EQ(::listen(holder.get(), 1), 0);
  }
  const TempDir dir;
  const auto path = dir.write("busy.yaml", listenersYaml(*port) +
                                               "threads: 1\n"
                                               "http: {port: 0}\n");
  const ProcessResult result = runTurnpike({"--config", path.string()}, 5000ms);
  ASSERT_FALSE(result.timed_out) << "turnpike kept running on a busy port\n" << describe(result);
  ASSERT_TRUE(result.exited) << describe(result);
  EXPECT_NE(result.exit_code, 0) << describe(result);
  EXPECT_TRUE(contains(result.err, "bind")) << describe(result);
  EXPECT_TRUE(contains(result.err, std::to_string(*port))) << describe(result);
}

TEST(CliTest, UdpPortInUseFailsWithABindError) { expectPortInUseFailure(SOCK_DGRAM); }

TEST(CliTest, TcpPortInUseFailsWithABindError) { expectPortInUseFailure(SOCK_STREAM); }

}  // namespace
}  // namespace turnpike::test

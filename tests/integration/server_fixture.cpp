#include "tests/integration/server_fixture.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "protocol/stun/attributes.hpp"
#include "tests/support/test_certificate.hpp"

namespace turnpike::test {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::Endpoint;
using protocol::IpAddress;

constexpr Millis kPollStep = 10ms;
constexpr Millis kProbeInterval = 100ms;
constexpr int kStartAttempts = 3;

std::string describeStatus(int status) {
  if (WIFEXITED(status)) {
    return "exit code " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

// tls: the tls listener's endpoint and PEM files, used when options.tls.
struct TlsListenerFiles {
  std::uint16_t port = 0;
  std::string certificate;
  std::string private_key;
};

// A YAML flow list of double-quoted strings: ["a", "b"].
std::string yamlList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) {
    out += (out.size() > 1 ? ", \"" : "\"") + item + "\"";
  }
  return out + "]";
}

// The TURN keys of the config: only those the options set.
void turnYaml(const ServerOptions& options, std::ostringstream& yaml) {
  if (!options.realm.empty()) {
    yaml << "realm: \"" << options.realm << "\"\n";
  }
  const bool port_range = options.relay_port_min != 0 && options.relay_port_max != 0;
  if (!options.relay_addresses.empty() || port_range) {
    yaml << "relay:\n";
    if (!options.relay_addresses.empty()) {
      yaml << "  addresses: " << yamlList(options.relay_addresses) << "\n";
    }
    if (port_range) {
      yaml << "  port_range: [" << options.relay_port_min << ", " << options.relay_port_max
           << "]\n";
    }
  }
  if (!options.users.empty() || !options.secrets.empty()) {
    yaml << "auth:\n";
    if (!options.users.empty()) {
      yaml << "  users:\n";
      for (const auto& [user, password] : options.users) {
        yaml << "    \"" << user << "\": \"" << password << "\"\n";
      }
    }
    if (!options.secrets.empty()) {
      yaml << "  secrets: " << yamlList(options.secrets) << "\n";
    }
  }
  if (!options.peers_allow.empty()) {
    yaml << "peers: {allow: " << yamlList(options.peers_allow) << "}\n";
  }
  if (options.default_lifetime != 0 || options.max_lifetime != 0) {
    yaml << "allocation: {";
    if (options.default_lifetime != 0) {
      yaml << "default_lifetime: " << options.default_lifetime
           << (options.max_lifetime != 0 ? ", " : "");
    }
    if (options.max_lifetime != 0) {
      yaml << "max_lifetime: " << options.max_lifetime;
    }
    yaml << "}\n";
  }
  yaml << "limits: {allocations_total: " << options.allocations_total
       << ", allocations_per_user: " << options.allocations_per_user;
  for (const auto& [key, value] : options.limits) {
    yaml << ", " << key << ": " << value;
  }
  yaml << "}\n";
}

// public_uris, when the options set it.
void apiYaml(const ServerOptions& options, std::ostringstream& yaml) {
  if (!options.public_uris.empty()) {
    yaml << "public_uris: " << yamlList(options.public_uris) << "\n";
  }
}

// The http keys of the credential API that the options set, as ", key: value" flow entries.
std::string apiHttpKeys(const ServerOptions& options) {
  std::ostringstream keys;
  if (!options.api_keys.empty()) {
    keys << ", api_keys: " << yamlList(options.api_keys);
  }
  if (options.api_max_ttl != 0) {
    keys << ", api_max_ttl: " << options.api_max_ttl;
  }
  if (options.api_per_second || options.api_burst) {
    keys << ", api_rate_limit: {"
         << (options.api_per_second ? "per_second: " + std::to_string(*options.api_per_second) : "")
         << (options.api_per_second && options.api_burst ? ", " : "")
         << (options.api_burst ? "burst: " + std::to_string(*options.api_burst) : "") << "}";
  }
  if (options.http_selftest) {
    keys << ", selftest: true";
  }
  return keys.str();
}

std::string configYaml(const ServerOptions& options, std::uint16_t port,
                       const TlsListenerFiles& tls, std::uint16_t http_port) {
  const std::string address = options.ipv6 ? "\"::1\"" : "127.0.0.1";
  std::ostringstream yaml;
  yaml << "listeners:\n";
  if (options.udp) {
    yaml << "  - {transport: udp, address: " << address << ", port: " << port << "}\n";
  }
  const char* proxy = options.proxy_protocol ? ", proxy_protocol: true" : "";
  if (options.tcp) {
    yaml << "  - {transport: tcp, address: " << address << ", port: " << port << proxy << "}\n";
  }
  if (options.tls) {
    yaml << "  - {transport: " << options.tls_transport << ", address: " << address
         << ", port: " << tls.port << proxy << "}\n"
         << "tls: {certificate: \"" << tls.certificate << "\", private_key: \"" << tls.private_key
         << "\"}\n";
  }
  yaml << "software: \"" << options.software << "\"\n"
       << "threads: " << options.threads << "\n"
       << "log: {level: debug"
       << (options.log_format.empty() ? "" : ", format: " + options.log_format) << "}\n"
       << "drain: {timeout: " << options.drain_timeout
       << ", alternate_servers: " << yamlList(options.alternate_servers) << "}\n"
       << "http: {";
  if (http_port != 0) {
    yaml << "address: " << address << ", ";
  }
  yaml << "port: " << http_port << apiHttpKeys(options) << "}\n";
  apiYaml(options, yaml);
  turnYaml(options, yaml);
  yaml << options.extra_yaml;
  return yaml.str();
}

bool isBindingSuccess(const Bytes& reply, const protocol::TransactionId& id) {
  auto message = protocol::Message::parse(reply);
  return message &&
         message->type() == protocol::messageType(protocol::Method::kBinding,
                                                  protocol::MessageClass::kSuccessResponse) &&
         message->transactionId() == id;
}

}  // namespace

// ---- UniqueFd, TempDir ----

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void UniqueFd::reset() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "turnpike-itest-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    return;
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& text) const {
  const std::filesystem::path file = path_ / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  EXPECT_TRUE(out.good()) << "cannot write " << file;
  return file;
}

std::string readTextFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- Processes ----

namespace {

// fork + exec with stdin from /dev/null and stdout/stderr into files (the same file when the
// paths are equal). Everything the child needs is prepared before fork: after it, only
// async-signal-safe calls.
pid_t forkExec(const std::string& binary, const std::vector<std::string>& args,
               const std::string& out_path, const std::string& err_path,
               std::optional<std::uint64_t> max_open_files = std::nullopt,
               std::optional<std::uint64_t> soft_open_files = std::nullopt) {
  rlimit soft_limit{};
  if (soft_open_files && ::getrlimit(RLIMIT_NOFILE, &soft_limit) == 0) {
    soft_limit.rlim_cur = std::min<rlim_t>(*soft_open_files, soft_limit.rlim_max);
  }
  std::vector<std::string> storage;
  storage.push_back(binary);
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const bool same_file = out_path == err_path;
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid != 0) {
    return pid;  // the parent, or -1
  }
  // The child: die with the test process so that a crashed test leaves no server behind.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);
  }
  constexpr int kFlags = O_WRONLY | O_CREAT | O_TRUNC | O_APPEND;
  const int null_fd = ::open("/dev/null", O_RDONLY);
  const int out_fd = ::open(out_path.c_str(), kFlags, 0600);
  const int err_fd = same_file ? out_fd : ::open(err_path.c_str(), kFlags, 0600);
  if (null_fd < 0 || out_fd < 0 || err_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 ||
      ::dup2(err_fd, 2) < 0) {
    ::_exit(127);
  }
  // Signals blocked or ignored by the test runner must not leak into the server.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  if (max_open_files) {
    const rlimit limit{*max_open_files, *max_open_files};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      ::_exit(127);
    }
  }
  if (soft_open_files && ::setrlimit(RLIMIT_NOFILE, &soft_limit) != 0) {
    ::_exit(127);
  }
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

}  // namespace

pid_t spawnProcess(const std::string& binary, const std::vector<std::string>& args,
                   const std::filesystem::path& log_path,
                   std::optional<std::uint64_t> max_open_files,
                   std::optional<std::uint64_t> soft_open_files) {
  return forkExec(binary, args, log_path.string(), log_path.string(), max_open_files,
                  soft_open_files);
}

std::optional<int> waitForExit(pid_t pid, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t rc = ::waitpid(pid, &status, WNOHANG);
    if (rc == pid) {
      return status;
    }
    if (rc < 0 && errno != EINTR) {
      return std::nullopt;
    }
    if (Clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(kPollStep);
  }
}

ProcessResult runTurnpike(const std::vector<std::string>& args, Millis timeout) {
  ProcessResult result;
  const TempDir dir;
  const std::string out_path = (dir.path() / "stdout").string();
  const std::string err_path = (dir.path() / "stderr").string();
  const pid_t pid = forkExec(TURNPIKE_BINARY, args, out_path, err_path);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return result;
  }
  std::optional<int> status = waitForExit(pid, timeout);
  if (!status) {
    result.timed_out = true;
    ::kill(pid, SIGKILL);
    status = waitForExit(pid, kStopTimeout);
  }
  if (status) {
    result.exited = WIFEXITED(*status);
    result.exit_code = result.exited ? WEXITSTATUS(*status) : -1;
    result.signal = WIFSIGNALED(*status) ? WTERMSIG(*status) : 0;
  }
  result.out = readTextFile(out_path);
  result.err = readTextFile(err_path);
  return result;
}

// ---- HTTP ----

std::string HttpResponse::header(const std::string& lower_case_name) const {
  const auto it = headers.find(lower_case_name);
  return it == headers.end() ? "" : it->second;
}

std::string httpRequest(std::string_view method, std::string_view target,
                        const std::vector<std::string>& headers, std::string_view body) {
  std::string request = std::string(method) + " " + std::string(target) +
                        " HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n";
  for (const std::string& line : headers) {
    request += line + "\r\n";
  }
  if (!body.empty()) {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return request + "\r\n" + std::string(body);
}

std::optional<HttpResponse> httpExchange(const Endpoint& server, const std::string& request,
                                         Millis timeout) {
  const UniqueFd fd = tcpConnect(server, timeout);
  if (!fd.valid() || !sendAll(fd.get(), protocol::asBytes(request), timeout)) {
    return std::nullopt;
  }
  const std::optional<Bytes> answer = recvUntilClose(fd.get(), timeout);
  if (!answer) {
    return std::nullopt;
  }
  const std::string text(protocol::asText(*answer));
  const std::size_t head_end = text.find("\r\n\r\n");
  if (!text.starts_with("HTTP/1.") || head_end == std::string::npos || text.size() < 12) {
    return std::nullopt;
  }
  HttpResponse response;
  response.status = std::atoi(text.substr(9, 3).c_str());
  response.body = text.substr(head_end + 4);
  std::istringstream lines(text.substr(0, head_end));
  std::string line;
  std::getline(lines, line);  // the status line
  while (std::getline(lines, line)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::string name = line.substr(0, colon);
    std::ranges::transform(name, name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    while (!value.empty() && (value.back() == '\r' || value.back() == ' ')) {
      value.pop_back();
    }
    response.headers[name] = value;
  }
  return response;
}

// ---- STUN ----

protocol::TransactionId randomTransactionId() {
  thread_local std::mt19937_64 engine{std::random_device{}()};  // tests call it from threads
  protocol::TransactionId id{};
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::byte& b : id) {
    b = static_cast<std::byte>(byte(engine));
  }
  return id;
}

Bytes buildMessage(const protocol::TransactionId& id,
                   const std::function<void(protocol::MessageBuilder&)>& add, std::uint16_t type) {
  Bytes buffer(protocol::kMaxMessageSize);
  protocol::MessageBuilder builder(buffer, type, id);
  if (add) {
    add(builder);
  }
  const auto out = builder.finish();
  if (!out) {
    ADD_FAILURE() << "building a test message failed: " << protocol::toString(out.error());
    return {};
  }
  buffer.resize(out->size());
  return buffer;
}

std::optional<protocol::Message> parseReply(const Bytes& bytes) {
  auto message = protocol::Message::parse(bytes);
  if (!message) {
    ADD_FAILURE() << "reply of " << bytes.size()
                  << " bytes does not parse: " << protocol::toString(message.error());
    return std::nullopt;
  }
  return *message;
}

std::optional<protocol::ConstBytes> attributeValue(const protocol::Message& message,
                                                   std::uint16_t type) {
  const protocol::RawAttribute* attribute = message.find(type);
  if (attribute == nullptr) {
    return std::nullopt;
  }
  return message.value(*attribute);
}

// ---- ServerFixture ----

void ServerFixture::SetUp() {
  const ServerOptions opts = options();
  const IpAddress address = loopback(opts.ipv6).address;
  std::string failure;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    const std::optional<std::uint16_t> port = pickFreePort(address);
    if (!port) {
      if (opts.ipv6) {
        GTEST_SKIP() << "cannot bind UDP and TCP on ::1 (no IPv6 loopback)";
      }
      FAIL() << "no free port on " << address.toString();
    }
    if (tryStart(opts, *port, failure)) {
      return;
    }
    if (pid_ > 0) {
      break;  // running but not answering: not a port race, give up
    }
  }
  FAIL() << "turnpike did not start: " << failure << "\n--- server log ---\n" << serverLog();
}

bool ServerFixture::tryStart(const ServerOptions& options, std::uint16_t port,
                             std::string& failure) {
  server_ = loopback(options.ipv6, port);
  TlsListenerFiles tls;
  if (options.tls) {
    if (tls_certificate_.empty()) {
      CertificateFiles files;
      if (const std::string error = writeSelfSignedCertificate(dir_.path(), "server", files);
          !error.empty()) {
        failure = "cannot make a test certificate: " + error;
        return false;
      }
      tls_certificate_ = files.certificate;
      tls_private_key_ = files.private_key;
    }
    // Its own port: TCP and TLS cannot share one.
    std::optional<std::uint16_t> tls_port;
    for (int attempt = 0; attempt < kStartAttempts && (!tls_port || *tls_port == port); ++attempt) {
      tls_port = pickFreePort(server_.address);
    }
    if (!tls_port || *tls_port == port) {
      failure = "no free port for the tls listener";
      return false;
    }
    tls = {*tls_port, tls_certificate_.string(), tls_private_key_.string()};
    tls_server_ = loopback(options.ipv6, *tls_port);
  }
  std::uint16_t http_port = 0;  // 0: disabled
  if (options.http) {
    std::optional<std::uint16_t> free;
    for (int attempt = 0;
         attempt < kStartAttempts && (!free || *free == port || (options.tls && *free == tls.port));
         ++attempt) {
      free = pickFreePort(server_.address);
    }
    if (!free || *free == port || (options.tls && *free == tls.port)) {
      failure = "no free port for the http endpoint";
      return false;
    }
    http_port = *free;
    http_server_ = loopback(options.ipv6, http_port);
  }
  config_path_ = dir_.write("turnpike.yaml", configYaml(options, port, tls, http_port));
  tls_port_ = tls.port;
  http_port_ = http_port;
  log_path_ = dir_.path() / "turnpike.log";
  pid_ = spawnProcess(TURNPIKE_BINARY, {"--config", config_path_.string()}, log_path_,
                      options.max_open_files, options.soft_open_files);
  if (pid_ < 0) {
    failure = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  return waitUntilAnswering(options, failure);
}

bool ServerFixture::waitUntilAnswering(const ServerOptions& options, std::string& failure) {
  const auto deadline = Clock::now() + kStartTimeout;
  if (!waitForTurn(options, deadline, failure)) {
    return false;
  }
  // The HTTP endpoint starts after the workers: wait for it too, so that a test's first scrape
  // does not race it (seen under TSan). libevent closes the probe's fd an iteration after the
  // client sees EOF; tests that count fds allow for that (ReliabilityTest::resources).
  const auto http_answered = [this] {
    return httpExchange(http_server_, "GET /healthz HTTP/1.0\r\n\r\n", kProbeInterval).has_value();
  };
  while (http_port_ != 0 && !http_answered()) {
    if (Clock::now() >= deadline) {
      failure = "the http endpoint did not accept within " + std::to_string(kStartTimeout.count()) +
                " ms";
      return false;
    }
    std::this_thread::sleep_for(kProbeInterval);
  }
  return true;
}

bool ServerFixture::waitForTurn(const ServerOptions& options, Clock::time_point deadline,
                                std::string& failure) {
  const UniqueFd udp = options.udp ? udpClient() : UniqueFd();
  while (Clock::now() < deadline) {
    if (const std::optional<int> status = waitForExit(pid_, 0ms)) {
      failure = "exited during start-up with " + describeStatus(*status);
      pid_ = -1;
      return false;
    }
    if (options.udp) {
      const protocol::TransactionId id = randomTransactionId();
      sendUdp(udp.get(), buildMessage(id));
      const auto probe_deadline = Clock::now() + kProbeInterval;
      while (Clock::now() < probe_deadline) {
        const auto reply =
            recvUdp(udp.get(), std::chrono::duration_cast<Millis>(probe_deadline - Clock::now()));
        if (reply && isBindingSuccess(*reply, id)) {
          return true;
        }
      }
    } else {
      if (tcpConnect(server_, kProbeInterval).valid()) {
        return true;
      }
      std::this_thread::sleep_for(kProbeInterval);
    }
  }
  failure = "no Binding answer within " + std::to_string(kStartTimeout.count()) + " ms";
  return false;
}

void ServerFixture::TearDown() {
  if (pid_ > 0) {
    stopServer(SIGTERM);
  }
}

void ServerFixture::stopServer(int signal) {
  ASSERT_GT(pid_, 0) << "the server is not running";
  const pid_t pid = std::exchange(pid_, -1);
  ASSERT_EQ(::kill(pid, signal), 0) << std::strerror(errno);
  std::optional<int> status = waitForExit(pid, kStopTimeout);
  if (!status) {
    ::kill(pid, SIGKILL);
    (void)waitForExit(pid, kStopTimeout);
    FAIL() << "turnpike did not exit within " << kStopTimeout.count() << " ms of signal " << signal
           << "\n--- server log ---\n"
           << serverLog();
  }
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << describeStatus(*status) << "\n--- server log ---\n"
      << serverLog();
  EXPECT_NE(serverLog().find("stopped"), std::string::npos)
      << "no \"stopped\" in the log\n--- server log ---\n"
      << serverLog();
}

void ServerFixture::signalServer(int signal) const {
  ASSERT_GT(pid_, 0) << "the server is not running";
  ASSERT_EQ(::kill(pid_, signal), 0) << std::strerror(errno);
}

void ServerFixture::rewriteConfig(const ServerOptions& options) const {
  const TlsListenerFiles tls{tls_port_, tls_certificate_.string(), tls_private_key_.string()};
  rewriteConfig(configYaml(options, server_.port, tls, http_port_));
}

void ServerFixture::rewriteConfig(const std::string& yaml) const {
  // Write a new file and rename it over the old one, so the server never reads half of it.
  const std::filesystem::path next = config_path_.string() + ".next";
  {
    std::ofstream out(next, std::ios::trunc);
    out << yaml;
  }
  std::filesystem::rename(next, config_path_);
}

std::string ServerFixture::reload() const {
  auto outcomes = [this] {
    std::vector<std::string> lines;
    std::istringstream log(serverLog());
    for (std::string line; std::getline(log, line);) {
      if (line.find("reloaded ") != std::string::npos ||
          line.find("reload rejected") != std::string::npos) {
        lines.push_back(line);
      }
    }
    return lines;
  };
  const std::size_t before = outcomes().size();
  if (::kill(pid_, SIGHUP) != 0) {
    return "";
  }
  const auto deadline = Clock::now() + kStopTimeout;
  while (Clock::now() < deadline) {
    if (const auto lines = outcomes(); lines.size() > before) {
      return lines[before];
    }
    std::this_thread::sleep_for(kPollStep);
  }
  return "";
}

std::optional<int> ServerFixture::waitForServerExit(std::chrono::milliseconds timeout) {
  const std::optional<int> status = waitForExit(pid_, timeout);
  if (status) {
    pid_ = -1;
  }
  return status;
}

std::string ServerFixture::serverLog() const {
  return log_path_.empty() ? std::string() : readTextFile(log_path_);
}

bool ServerFixture::serverRunning() const {
  if (pid_ <= 0) {
    return false;
  }
  // WNOWAIT: look without reaping, so that stopServer still collects the exit status.
  siginfo_t info{};
  const int rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  return rc == 0 && info.si_pid == 0;
}

bool ServerFixture::udpBindingWorks() const {
  const UniqueFd udp = udpClient();
  const protocol::TransactionId id = randomTransactionId();
  if (!udp.valid() || !sendUdp(udp.get(), buildMessage(id))) {
    return false;
  }
  const auto reply = recvUdp(udp.get());
  return reply && isBindingSuccess(*reply, id);
}

bool ServerFixture::tcpBindingWorks() const {
  const UniqueFd tcp = tcpClient();
  const protocol::TransactionId id = randomTransactionId();
  if (!tcp.valid() || !sendAll(tcp.get(), buildMessage(id))) {
    return false;
  }
  const auto reply = recvStun(tcp.get());
  return reply && isBindingSuccess(*reply, id);
}

}  // namespace turnpike::test

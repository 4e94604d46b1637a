// stun_load: a STUN Binding load generator for comparing servers (benchmarks/compare_binding.sh).
// Sends Binding requests from many UDP sockets at a fixed rate, checks every answer with the
// project's own parser (same transaction ID, XOR-MAPPED-ADDRESS equal to the socket's address),
// and prints one line of key=value results.
//
//   stun_load --server 127.0.0.1:3478 --rate 20000 --seconds 10 [--sockets 64]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/attributes.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/message.hpp"

namespace {

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)
using Clock = std::chrono::steady_clock;

struct Options {
  Endpoint server{IpAddress::v4({127, 0, 0, 1}), 3478};
  double rate = 20000;  // requests per second, all sockets together
  double seconds = 10;
  int sockets = 64;
};

struct Flow {
  int fd = -1;
  Endpoint local;
  std::uint64_t next_id = 0;
};

bool parseArgs(int argc, char** argv, Options& options) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    const std::string value(args[i + 1]);
    if (args[i] == "--server") {
      const auto server = Endpoint::parse(value);
      if (!server) {
        return false;
      }
      options.server = *server;
    } else if (args[i] == "--rate") {
      options.rate = std::stod(value);
    } else if (args[i] == "--seconds") {
      options.seconds = std::stod(value);
    } else if (args[i] == "--sockets") {
      options.sockets = std::stoi(value);
    } else {
      return false;
    }
  }
  return args.size() % 2 == 0 && options.rate > 0 && options.sockets > 0;
}

Flow openFlow(const Endpoint& server) {
  Flow flow;
  flow.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(server.port);
  std::memcpy(&to.sin_addr, server.address.bytes().data(), 4);
  ::connect(flow.fd, reinterpret_cast<sockaddr*>(&to), sizeof(to));  // NOLINT
  sockaddr_in local{};
  socklen_t length = sizeof(local);
  ::getsockname(flow.fd, reinterpret_cast<sockaddr*>(&local), &length);  // NOLINT
  std::array<std::uint8_t, 4> ip{};
  std::memcpy(ip.data(), &local.sin_addr, 4);
  flow.local = {IpAddress::v4(ip), ntohs(local.sin_port)};
  return flow;
}

TransactionId idFor(std::size_t flow, std::uint64_t sequence) {
  TransactionId id{};
  for (std::size_t i = 0; i < 4; ++i) {
    id[i] = static_cast<std::byte>(flow >> (8 * i));
  }
  for (std::size_t i = 0; i < 8; ++i) {
    id[4 + i] = static_cast<std::byte>(sequence >> (8 * i));
  }
  return id;
}

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// True when the response answers this flow's request with its own address.
bool validResponse(ConstBytes data, const Flow& flow, std::size_t index) {
  auto message = Message::parse(data);
  if (!message || message->messageClass() != MessageClass::kSuccessResponse) {
    return false;
  }
  const TransactionId id = message->transactionId();
  const RawAttribute* mapped = message->find(attr::kXorMappedAddress);
  if (mapped == nullptr || idFor(index, 0)[0] != id[0]) {
    return false;
  }
  auto endpoint = decodeXorAddress(message->value(*mapped), id);
  return endpoint && *endpoint == flow.local;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parseArgs(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: stun_load --server IP:PORT [--rate N] [--seconds S] [--sockets K]\n");
    return 2;
  }
  std::vector<Flow> flows;
  std::vector<pollfd> polls;
  for (int i = 0; i < options.sockets; ++i) {
    flows.push_back(openFlow(options.server));
    polls.push_back({flows.back().fd, POLLIN, 0});
  }
  std::array<std::byte, 1500> buffer{};
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t invalid = 0;
  const double cpu_start = cpuSeconds();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(options.seconds);
  const auto drain_end = end + std::chrono::milliseconds(500);
  std::size_t next_flow = 0;
  for (auto now = start; now < drain_end; now = Clock::now()) {
    // Send what the schedule says is due by now.
    const double elapsed = std::chrono::duration<double>(now - start).count();
    const auto due = static_cast<std::uint64_t>(std::min(elapsed, options.seconds) * options.rate);
    for (; sent < due; ++sent) {
      Flow& flow = flows[next_flow];
      MessageBuilder builder(buffer, messageType(Method::kBinding, MessageClass::kRequest),
                             idFor(next_flow, flow.next_id++));
      builder.addFingerprint();
      const auto request = builder.finish();
      (void)::send(flow.fd, request->data(), request->size(), 0);
      next_flow = (next_flow + 1) % flows.size();
    }
    if (::poll(polls.data(), polls.size(), 1) <= 0) {
      continue;
    }
    for (std::size_t i = 0; i < flows.size(); ++i) {
      if ((polls[i].revents & POLLIN) == 0) {
        continue;
      }
      ssize_t n = 0;
      while ((n = ::recv(flows[i].fd, buffer.data(), buffer.size(), 0)) > 0) {
        const bool ok =
            validResponse(ConstBytes(buffer).first(static_cast<std::size_t>(n)), flows[i], i);
        ok ? ++received : ++invalid;
      }
    }
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "sent=%llu received=%llu invalid=%llu loss_pct=%.3f rate=%.0f wall_s=%.2f "
      "generator_cpu_s=%.2f\n",
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
      static_cast<unsigned long long>(invalid),
      sent == 0 ? 0.0 : 100.0 * static_cast<double>(sent - received) / static_cast<double>(sent),
      static_cast<double>(sent) / options.seconds, wall, cpuSeconds() - cpu_start);
  for (const Flow& flow : flows) {
    ::close(flow.fd);
  }
  return invalid == 0 ? 0 : 1;
}

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include "server/fastpath/ebpf_fast_path.hpp"
using namespace turnpike;
int main(int argc, char** argv) {
  auto fp = server::fastpath::EbpfFastPath::attach({"lo"});
  if (!fp) {
    std::printf("attach failed: %s\n", fp.error().c_str());
    return 1;
  }
  const auto lo = protocol::IpAddress::v4({127, 0, 0, 1});
  server::fastpath::ChannelRoute route{{lo, static_cast<std::uint16_t>(std::atoi(argv[1]))},
                                       {lo, 5000},
                                       {lo, 6000},
                                       {lo, 7000},
                                       0x4000};
  if (!(*fp)->install(route)) {
    std::printf("install failed\n");
    return 1;
  }
  std::printf("installed\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto c = (*fp)->counts(route);
  if (!c) {
    std::printf("no counts\n");
    return 1;
  }
  std::printf("to_peer %llu pkts %llu bytes, to_client %llu pkts %llu bytes\n",
              (unsigned long long)c->to_peer_packets, (unsigned long long)c->to_peer_bytes,
              (unsigned long long)c->to_client_packets, (unsigned long long)c->to_client_bytes);
  return 0;
}

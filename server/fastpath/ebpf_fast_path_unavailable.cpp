// The fast path in a build without clang, bpftool or libbpf (server/CMakeLists.txt): attach()
// says so, and the server relays in user space.
#include "server/fastpath/ebpf_fast_path.hpp"

namespace turnpike::server::fastpath {

std::expected<std::unique_ptr<EbpfFastPath>, std::string> EbpfFastPath::attach(
    const std::vector<std::string>& /*interfaces*/) {
  return std::unexpected(
      "this turnpike was built without the eBPF fast path (it needs clang, bpftool and "
      "libbpf-dev at build time)");
}

std::vector<std::string> EbpfFastPath::interfacesFor(
    const std::vector<protocol::IpAddress>& /*addresses*/) {
  return {};
}

EbpfFastPath::~EbpfFastPath() = default;

bool EbpfFastPath::install(const ChannelRoute& /*route*/) { return false; }

void EbpfFastPath::remove(const ChannelRoute& /*route*/) {}

std::optional<ChannelCounts> EbpfFastPath::counts(const ChannelRoute& /*route*/) const {
  return std::nullopt;
}

ChannelCounts EbpfFastPath::totals() const { return {}; }

}  // namespace turnpike::server::fastpath

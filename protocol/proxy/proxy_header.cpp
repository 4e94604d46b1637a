#include "protocol/proxy/proxy_header.hpp"

#include <algorithm>
#include <array>

namespace turnpike::protocol {
namespace {

constexpr std::array<std::uint8_t, 12> kSignature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t kVersion2 = 0x2;
constexpr std::uint8_t kCommandLocal = 0x0;
constexpr std::uint8_t kCommandProxy = 0x1;
constexpr std::uint8_t kFamilyUnspec = 0x0;
constexpr std::uint8_t kFamilyInet = 0x1;
constexpr std::uint8_t kFamilyInet6 = 0x2;
constexpr std::uint8_t kFamilyUnix = 0x3;
constexpr std::uint8_t kProtocolDgram = 0x2;
constexpr std::uint8_t kProtocolStream = 0x1;
constexpr std::size_t kInetSize = 12;
constexpr std::size_t kInet6Size = 36;
constexpr std::size_t kUnixSize = 216;

}  // namespace

std::string_view toString(ProxyHeaderError error) {
  switch (error) {
    case ProxyHeaderError::kSignature:
      return "no PROXY v2 signature";
    case ProxyHeaderError::kVersion:
      return "PROXY header version is not 2";
    case ProxyHeaderError::kCommand:
      return "unknown PROXY command";
    case ProxyHeaderError::kFamily:
      return "unknown PROXY address family or protocol";
    case ProxyHeaderError::kLength:
      return "PROXY header length too short for its addresses";
    case ProxyHeaderError::kTooLong:
      return "PROXY header too long";
  }
  return "unknown";
}

std::expected<std::optional<ProxyHeader>, ProxyHeaderError> parseProxyHeader(ConstBytes data,
                                                                             std::size_t max_size) {
  // The signature, byte by byte as it arrives: garbage is refused without waiting for more.
  const std::size_t signature_bytes = std::min(data.size(), kSignature.size());
  for (std::size_t i = 0; i < signature_bytes; ++i) {
    if (load8(data, i) != kSignature[i]) {
      return std::unexpected(ProxyHeaderError::kSignature);
    }
  }
  if (data.size() > kSignature.size()) {
    const std::uint8_t version_command = load8(data, 12);
    if (version_command >> 4U != kVersion2) {
      return std::unexpected(ProxyHeaderError::kVersion);
    }
    const std::uint8_t command = version_command & 0x0FU;
    if (command != kCommandLocal && command != kCommandProxy) {
      return std::unexpected(ProxyHeaderError::kCommand);
    }
  }
  if (data.size() > 13) {
    const std::uint8_t family = load8(data, 13) >> 4U;
    const std::uint8_t protocol = load8(data, 13) & 0x0FU;
    if (family > kFamilyUnix || protocol > kProtocolDgram) {
      return std::unexpected(ProxyHeaderError::kFamily);
    }
  }
  if (data.size() < kProxyHeaderFixedSize) {
    return std::optional<ProxyHeader>{};
  }
  const std::size_t length = load16(data, 14);
  const std::size_t size = kProxyHeaderFixedSize + length;
  if (size > max_size) {
    return std::unexpected(ProxyHeaderError::kTooLong);
  }
  const bool local = (load8(data, 12) & 0x0FU) == kCommandLocal;
  const std::uint8_t family = load8(data, 13) >> 4U;
  // Section 2.2: the address block's size by family; whatever follows it is TLVs.
  const std::size_t needed = family == kFamilyInet    ? kInetSize
                             : family == kFamilyInet6 ? kInet6Size
                             : family == kFamilyUnix  ? kUnixSize
                                                      : 0;
  // A LOCAL header's addresses are ignored (the spec lets a sender put anything there).
  if (!local && length < needed) {
    return std::unexpected(ProxyHeaderError::kLength);
  }
  if (data.size() < size) {
    return std::optional<ProxyHeader>{};
  }
  ProxyHeader header;
  header.size = size;
  header.local = local;
  if (local || family == kFamilyUnspec || family == kFamilyUnix) {
    return header;  // the connection's own addresses stand
  }
  constexpr std::size_t kAt = kProxyHeaderFixedSize;
  if (family == kFamilyInet) {
    header.source = Endpoint{IpAddress::v4(loadArray<4>(data, kAt)), load16(data, kAt + 8)};
    header.destination =
        Endpoint{IpAddress::v4(loadArray<4>(data, kAt + 4)), load16(data, kAt + 10)};
  } else {
    header.source = Endpoint{IpAddress::v6(loadArray<16>(data, kAt)), load16(data, kAt + 32)};
    header.destination =
        Endpoint{IpAddress::v6(loadArray<16>(data, kAt + 16)), load16(data, kAt + 34)};
  }
  return header;
}

std::optional<std::size_t> writeProxyHeader(MutableBytes out, const std::optional<Endpoint>& source,
                                            const std::optional<Endpoint>& destination) {
  const bool proxy = source.has_value() && destination.has_value();
  if (source.has_value() != destination.has_value() ||
      (proxy && source->address.family() != destination->address.family())) {
    return std::nullopt;
  }
  const bool v4 = proxy && source->address.isV4();
  const std::size_t length = !proxy ? 0 : v4 ? kInetSize : kInet6Size;
  const std::size_t size = kProxyHeaderFixedSize + length;
  if (out.size() < size) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < kSignature.size(); ++i) {
    store8(out, i, kSignature[i]);
  }
  store8(out, 12,
         static_cast<std::uint8_t>(kVersion2 << 4U | (proxy ? kCommandProxy : kCommandLocal)));
  const std::uint8_t family = !proxy ? kFamilyUnspec : v4 ? kFamilyInet : kFamilyInet6;
  store8(out, 13, static_cast<std::uint8_t>(family << 4U | (proxy ? kProtocolStream : 0)));
  store16(out, 14, static_cast<std::uint16_t>(length));
  if (proxy) {
    const std::size_t address_size = source->address.size();
    for (std::size_t i = 0; i < address_size; ++i) {
      store8(out, kProxyHeaderFixedSize + i, source->address.bytes()[i]);
      store8(out, kProxyHeaderFixedSize + address_size + i, destination->address.bytes()[i]);
    }
    store16(out, kProxyHeaderFixedSize + 2 * address_size, source->port);
    store16(out, kProxyHeaderFixedSize + 2 * address_size + 2, destination->port);
  }
  return size;
}

}  // namespace turnpike::protocol

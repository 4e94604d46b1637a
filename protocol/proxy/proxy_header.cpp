#include "protocol/proxy/proxy_header.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

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

constexpr std::string_view kV1Prefix = "PROXY ";

// One decimal port, 0 to 65535, digits only.
std::optional<std::uint16_t> parsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint32_t port = 0;
  for (const char c : text) {
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return port <= 65535 ? std::optional(static_cast<std::uint16_t>(port)) : std::nullopt;
}

// "TCP4 SRC DST SPORT DPORT" split on single spaces (section 2.1: exactly one between fields);
// nullopt for any other number of fields.
std::optional<std::array<std::string_view, 5>> fiveFields(std::string_view text) {
  std::array<std::string_view, 5> out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t space = text.find(' ');
    if ((space == std::string_view::npos) != (i + 1 == out.size())) {
      return std::nullopt;
    }
    out[i] = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
  }
  return out;
}

// Version 1: the text line (section 2.1).
std::expected<std::optional<ProxyHeader>, ProxyHeaderError> parseV1(ConstBytes data,
                                                                    std::size_t max_size) {
  const std::size_t limit = std::min(max_size, kProxyHeaderV1MaxSize);
  const std::size_t prefix_bytes = std::min(data.size(), kV1Prefix.size());
  for (std::size_t i = 0; i < prefix_bytes; ++i) {
    if (load8(data, i) != static_cast<std::uint8_t>(kV1Prefix[i])) {
      return std::unexpected(ProxyHeaderError::kSignature);
    }
  }
  // The line ends at the first LF, which must follow a CR; no other control bytes.
  const std::size_t scan = std::min(data.size(), limit);
  std::size_t end = 0;
  for (; end < scan; ++end) {
    const std::uint8_t byte = load8(data, end);
    if (byte == '\n') {
      break;
    }
    if (byte == '\r' && end + 1 < data.size() && load8(data, end + 1) != '\n') {
      return std::unexpected(ProxyHeaderError::kV1Syntax);
    }
    if ((byte < 0x20 && byte != '\r') || byte > 0x7E) {
      return std::unexpected(ProxyHeaderError::kV1Syntax);
    }
  }
  if (end == scan) {
    if (data.size() >= limit) {
      return std::unexpected(ProxyHeaderError::kTooLong);
    }
    return std::optional<ProxyHeader>{};  // no LF yet
  }
  if (end == 0 || load8(data, end - 1) != '\r') {
    return std::unexpected(ProxyHeaderError::kV1Syntax);
  }
  // Between "PROXY " and the CR.
  const std::string_view line =
      asText(data.first(end - 1)).substr(std::min(kV1Prefix.size(), end - 1));
  ProxyHeader header;
  header.size = end + 1;
  header.version = 1;
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
    header.local = true;  // the connection's own addresses stand; the rest is to be ignored
    return header;
  }
  const auto fields = fiveFields(line);
  if (!fields || ((*fields)[0] != "TCP4" && (*fields)[0] != "TCP6")) {
    return std::unexpected(ProxyHeaderError::kV1Syntax);
  }
  const auto& parts = *fields;
  const bool v4 = parts[0] == "TCP4";
  const std::optional<IpAddress> source = IpAddress::parse(parts[1]);
  const std::optional<IpAddress> destination = IpAddress::parse(parts[2]);
  const std::optional<std::uint16_t> source_port = parsePort(parts[3]);
  const std::optional<std::uint16_t> destination_port = parsePort(parts[4]);
  if (!source || !destination || !source_port || !destination_port || source->isV4() != v4 ||
      destination->isV4() != v4) {
    return std::unexpected(ProxyHeaderError::kV1Syntax);
  }
  header.source = Endpoint{*source, *source_port};
  header.destination = Endpoint{*destination, *destination_port};
  return header;
}

}  // namespace

std::string_view toString(ProxyHeaderError error) {
  switch (error) {
    case ProxyHeaderError::kSignature:
      return "no PROXY signature (v1 or v2)";
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
    case ProxyHeaderError::kV1Syntax:
      return "malformed PROXY v1 line";
  }
  return "unknown";
}

std::expected<std::optional<ProxyHeader>, ProxyHeaderError> parseProxyHeader(ConstBytes data,
                                                                             std::size_t max_size) {
  if (!data.empty() && load8(data, 0) == static_cast<std::uint8_t>(kV1Prefix[0])) {
    return parseV1(data, max_size);
  }
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

std::string writeProxyHeaderV1(const std::optional<Endpoint>& source,
                               const std::optional<Endpoint>& destination) {
  if (!source || !destination) {
    return "PROXY UNKNOWN\r\n";
  }
  std::string line = source->address.isV4() ? "PROXY TCP4 " : "PROXY TCP6 ";
  line.append(source->address.toString())
      .append(" ")
      .append(destination->address.toString())
      .append(" ")
      .append(std::to_string(source->port))
      .append(" ")
      .append(std::to_string(destination->port))
      .append("\r\n");
  return line;
}

std::vector<std::byte> proxyHeaderFor(ProxyVersion version, const Endpoint& source,
                                      const Endpoint& destination) {
  const bool same_family = source.address.family() == destination.address.family();
  if (version == ProxyVersion::kV1) {
    const std::string line = same_family ? writeProxyHeaderV1(source, destination)
                                         : writeProxyHeaderV1(std::nullopt, std::nullopt);
    const auto bytes = std::as_bytes(std::span(line));
    return {bytes.begin(), bytes.end()};
  }
  if (version == ProxyVersion::kV2) {
    std::array<std::byte, kProxyHeaderFixedSize + kInet6Size> buffer{};
    const std::optional<std::size_t> size =
        same_family ? writeProxyHeader(buffer, source, destination)
                    : writeProxyHeader(buffer, std::nullopt, std::nullopt);
    return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size.value_or(0))};
  }
  return {};
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

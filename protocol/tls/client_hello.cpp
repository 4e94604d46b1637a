#include "protocol/tls/client_hello.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace turnpike::protocol {

namespace {

constexpr std::uint8_t kContentHandshake = 22;
constexpr std::uint8_t kHandshakeClientHello = 1;
constexpr std::size_t kRecordHeaderSize = 5;
constexpr std::size_t kHandshakeHeaderSize = 4;
constexpr std::size_t kMaxRecordPayload = 16384;  // RFC 8446 5.1: 2^14
constexpr std::uint16_t kExtServerName = 0;
constexpr std::uint16_t kExtAlpn = 16;
constexpr std::size_t kMaxHostName = 255;

using Result = std::expected<std::optional<ClientHello>, ClientHelloError>;

// A bounds-checked cursor over the hello's body.
class Reader {
 public:
  explicit Reader(ConstBytes bytes) : bytes_(bytes) {}
  [[nodiscard]] std::size_t left() const { return bytes_.size() - pos_; }
  [[nodiscard]] bool u8(std::size_t& out) {
    if (left() < 1) return false;
    out = load8(bytes_, pos_);
    pos_ += 1;
    return true;
  }
  [[nodiscard]] bool u16(std::size_t& out) {
    if (left() < 2) return false;
    out = load16(bytes_, pos_);
    pos_ += 2;
    return true;
  }
  [[nodiscard]] bool take(std::size_t n, ConstBytes& out) {
    if (left() < n) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  [[nodiscard]] bool skip(std::size_t n) {
    ConstBytes ignored;
    return take(n, ignored);
  }

 private:
  ConstBytes bytes_;
  std::size_t pos_ = 0;
};

// RFC 6066 3: ServerNameList; the host_name (type 0) entry, at most one of it.
bool parseServerName(ConstBytes data, std::string& out) {
  Reader reader(data);
  std::size_t list_size = 0;
  if (!reader.u16(list_size) || list_size != reader.left() || list_size == 0) return false;
  while (reader.left() > 0) {
    std::size_t type = 0;
    std::size_t size = 0;
    ConstBytes name;
    if (!reader.u8(type) || !reader.u16(size) || !reader.take(size, name)) return false;
    if (type != 0) continue;
    std::optional<std::string> host_name = normalizeHostName(asText(name));
    if (!out.empty() || !host_name) return false;
    out = std::move(*host_name);
  }
  return true;
}

// RFC 7301 3.1: ProtocolNameList, non-empty, each name 1..255 bytes.
bool parseAlpn(ConstBytes data, std::vector<std::string>& out) {
  Reader reader(data);
  std::size_t list_size = 0;
  if (!reader.u16(list_size) || list_size != reader.left() || list_size < 2) return false;
  while (reader.left() > 0) {
    std::size_t size = 0;
    ConstBytes name;
    if (!reader.u8(size) || size == 0 || !reader.take(size, name)) return false;
    out.emplace_back(asText(name));
  }
  return true;
}

// RFC 8446 4.1.2 (and the TLS 1.0-1.2 layout, which is the same up to the extensions).
bool parseBody(ConstBytes body, ClientHello& hello) {
  Reader reader(body);
  std::size_t size = 0;
  // legacy_version, random, legacy_session_id (0..32)
  if (!reader.skip(2 + 32) || !reader.u8(size) || size > 32 || !reader.skip(size)) return false;
  // cipher_suites: 2..2^16-2, even
  if (!reader.u16(size) || size < 2 || size % 2 != 0 || !reader.skip(size)) return false;
  // legacy_compression_methods: 1..255
  if (!reader.u8(size) || size < 1 || !reader.skip(size)) return false;
  if (reader.left() == 0) return true;  // no extensions (SSL 3.0 style)
  if (!reader.u16(size) || size != reader.left()) return false;
  bool seen_server_name = false;
  while (reader.left() > 0) {
    std::size_t type = 0;
    ConstBytes data;
    if (!reader.u16(type) || !reader.u16(size) || !reader.take(size, data)) return false;
    if (type == kExtServerName) {
      if (seen_server_name || !parseServerName(data, hello.server_name)) return false;
      seen_server_name = true;
    } else if (type == kExtAlpn) {
      if (hello.alpn_offered || !parseAlpn(data, hello.alpn)) return false;
      hello.alpn_offered = true;
    }
  }
  return true;
}

}  // namespace

std::string_view toString(ClientHelloError error) {
  switch (error) {
    case ClientHelloError::kNotHandshake:
      return "not a TLS ClientHello";
    case ClientHelloError::kMalformed:
      return "malformed ClientHello";
    case ClientHelloError::kTooLong:
      return "ClientHello too long";
  }
  return "unknown";
}

Result parseClientHello(ConstBytes data, std::size_t max_size) {
  // Join the handshake fragments of consecutive records until the whole hello is there.
  std::vector<std::byte> message;
  std::size_t offset = 0;
  std::size_t needed = 0;  // handshake bytes the hello takes, once its header is known
  while (true) {
    if (data.size() - offset < kRecordHeaderSize) {
      // Reject what can already be told apart from a handshake record.
      if (data.size() > offset && load8(data, offset) != kContentHandshake) {
        return std::unexpected(offset == 0 ? ClientHelloError::kNotHandshake
                                           : ClientHelloError::kMalformed);
      }
      if (data.size() > offset + 1 && load8(data, offset + 1) != 3) {
        return std::unexpected(offset == 0 ? ClientHelloError::kNotHandshake
                                           : ClientHelloError::kMalformed);
      }
      if (offset + kRecordHeaderSize > max_size) return std::unexpected(ClientHelloError::kTooLong);
      return std::optional<ClientHello>{};
    }
    const std::size_t type = load8(data, offset);
    const std::size_t major = load8(data, offset + 1);
    const std::size_t length = load16(data, offset + 3);
    if (type != kContentHandshake || major != 3) {
      return std::unexpected(offset == 0 ? ClientHelloError::kNotHandshake
                                         : ClientHelloError::kMalformed);
    }
    if (length == 0 || length > kMaxRecordPayload) {
      return std::unexpected(ClientHelloError::kMalformed);
    }
    const std::size_t record_end = offset + kRecordHeaderSize + length;
    if (record_end > max_size) return std::unexpected(ClientHelloError::kTooLong);
    if (data.size() < record_end) return std::optional<ClientHello>{};
    const ConstBytes fragment = data.subspan(offset + kRecordHeaderSize, length);
    message.insert(message.end(), fragment.begin(), fragment.end());
    offset = record_end;
    if (needed == 0 && message.size() >= kHandshakeHeaderSize) {
      if (load8(message, 0) != kHandshakeClientHello) {
        return std::unexpected(ClientHelloError::kNotHandshake);
      }
      needed = kHandshakeHeaderSize + load24(message, 1);
      if (needed > max_size) return std::unexpected(ClientHelloError::kTooLong);
    }
    if (needed != 0 && message.size() >= needed) {
      // Nothing may follow the hello in its handshake records before the server replies.
      if (message.size() != needed) return std::unexpected(ClientHelloError::kMalformed);
      ClientHello hello;
      hello.size = offset;
      if (!parseBody(ConstBytes(message).subspan(kHandshakeHeaderSize), hello)) {
        return std::unexpected(ClientHelloError::kMalformed);
      }
      return hello;
    }
  }
}

std::optional<std::string> normalizeHostName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostName) {
    return std::nullopt;
  }
  std::string out(name);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) {
      return std::nullopt;
    }
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::optional<Endpoint> passthroughBackend(const ClientHello& hello,
                                           const PassthroughRoutes& routes) {
  for (const std::string& name : hello.alpn) {
    if (std::ranges::find(kAlpnStunIds, name) != kAlpnStunIds.end()) {
      return std::nullopt;
    }
  }
  if (!hello.server_name.empty()) {
    if (const auto it = routes.sni.find(hello.server_name); it != routes.sni.end()) {
      return it->second;
    }
  }
  if (hello.alpn_offered) {
    return routes.default_backend;
  }
  return std::nullopt;
}

}  // namespace turnpike::protocol

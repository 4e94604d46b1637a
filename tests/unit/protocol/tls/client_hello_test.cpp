// TLS ClientHello parsing: hellos captured from openssl s_client (OpenSSL 3, TLS 1.3), the same
// hellos fed a byte at a time and split over records, and built hellos that break each rule.
#include "protocol/tls/client_hello.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace turnpike::protocol {
namespace {

using Bytes = std::vector<std::byte>;

Bytes fromHex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// openssl s_client -servername Example.test -alpn h2,http/1.1
const Bytes kWebHello = fromHex(
    "160301014b01000147030310dbed2b02ebfeadd1fb71ab70314b5c4afb0d5caaca0b659fbdb8de45"
    "bd42a0203700f78317fe2ecb87a8f5f194f9a9a57887acef0ea5335295f2de32e335ed58003e1302"
    "13031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039"
    "c009c0130033009d009c003d003c0035002f00ff010000c000000011000f00000c4578616d706c65"
    "2e74657374000b000403000102000a00160014001d0017001e001900180100010101020103010400"
    "2300000010000e000c02683208687474702f312e310016000000170000000d002a00280403050306"
    "03080708080809080a080b080408050806040105010601030303010302040205020602002b000908"
    "0304030303020301002d00020101003300260024001d0020da4c210052bdaf0da3910403c7887f8c"
    "48b8e12441f0bc13fb352dadeee2e540");
// openssl s_client -noservername -alpn stun.turn
const Bytes kTurnHello = fromHex(
    "16030101340100013003034bdf34c21d767be27442e79703c169634f1972722cd5b933dcc2eb5fb6"
    "02dd2320885f2df7ee23e85b123ec2f569783bb750f4285ad6d1a8c57c41cb61ae93aa19003e1302"
    "13031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039"
    "c009c0130033009d009c003d003c0035002f00ff010000a9000b000403000102000a00160014001d"
    "0017001e0019001801000101010201030104002300000010000c000a097374756e2e7475726e0016"
    "000000170000000d002a0028040305030603080708080809080a080b080408050806040105010601"
    "030303010302040205020602002b0009080304030303020301002d00020101003300260024001d00"
    "20a2284dc1a57fbf70ef8a3aef841e618350ae7cfb4ae5bb047bf0a8568acd2838");
// openssl s_client -noservername
const Bytes kBareHello = fromHex(
    "16030101240100012003033d4921e1cef2f66f006c3df00dbc8acc9dde186d2568c385949b97b8fe"
    "ce6306202fa825ed80454ae06fccdb2dece2b9fcd66df2bffd69d526bfd6402185693f0b003e1302"
    "13031301c02cc030009fcca9cca8ccaac02bc02f009ec024c028006bc023c0270067c00ac0140039"
    "c009c0130033009d009c003d003c0035002f00ff01000099000b000403000102000a00160014001d"
    "0017001e0019001801000101010201030104002300000016000000170000000d002a002804030503"
    "0603080708080809080a080b080408050806040105010601030303010302040205020602002b0009"
    "080304030303020301002d00020101003300260024001d002044f3a91cf814208cb5b255f3f3f5c6"
    "6177933c9b3aeb37d58c9a15e9842abe3e");

void put16(Bytes& out, std::size_t value) {
  out.push_back(static_cast<std::byte>(value >> 8U));
  out.push_back(static_cast<std::byte>(value & 0xFFU));
}

void put8(Bytes& out, std::size_t value) { out.push_back(static_cast<std::byte>(value)); }

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

Bytes extension(std::size_t type, const Bytes& data) {
  Bytes out;
  put16(out, type);
  put16(out, data.size());
  append(out, data);
  return out;
}

Bytes serverName(std::string_view name) {
  Bytes entry;
  put8(entry, 0);
  put16(entry, name.size());
  for (const char c : name) put8(entry, static_cast<unsigned char>(c));
  Bytes out;
  put16(out, entry.size());
  append(out, entry);
  return extension(0, out);
}

Bytes alpn(const std::vector<std::string>& names) {
  Bytes list;
  for (const auto& name : names) {
    put8(list, name.size());
    for (const char c : name) put8(list, static_cast<unsigned char>(c));
  }
  Bytes out;
  put16(out, list.size());
  append(out, list);
  return extension(16, out);
}

// A handshake message: ClientHello with the given extensions block (nullopt: none at all).
Bytes helloMessage(const std::optional<Bytes>& extensions, std::size_t session_id = 32) {
  Bytes body;
  put16(body, 0x0303);
  body.resize(body.size() + 32, std::byte{0x11});  // random
  put8(body, session_id);
  body.resize(body.size() + session_id, std::byte{0x22});
  put16(body, 2);
  put16(body, 0x1301);
  put8(body, 1);
  put8(body, 0);
  if (extensions) {
    put16(body, extensions->size());
    append(body, *extensions);
  }
  Bytes out;
  put8(out, 1);
  put8(out, body.size() >> 16U);
  put16(out, body.size() & 0xFFFFU);
  append(out, body);
  return out;
}

// The message in records of at most `fragment` bytes each.
Bytes records(const Bytes& message, std::size_t fragment = 16384) {
  Bytes out;
  for (std::size_t i = 0; i < message.size(); i += fragment) {
    const std::size_t n = std::min(fragment, message.size() - i);
    put8(out, 22);
    put16(out, 0x0301);
    put16(out, n);
    out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(i),
               message.begin() + static_cast<std::ptrdiff_t>(i + n));
  }
  return out;
}

Bytes join(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& part : parts) append(out, part);
  return out;
}

ClientHello parsed(const Bytes& data) {
  const auto result = parseClientHello(data);
  EXPECT_TRUE(result.has_value()) << (result ? "" : toString(result.error()));
  if (!result || !result->has_value()) {
    ADD_FAILURE() << "no hello";
    return {};
  }
  return **result;
}

ClientHelloError rejected(const Bytes& data, std::size_t max_size = kClientHelloMaxSize) {
  const auto result = parseClientHello(data, max_size);
  EXPECT_FALSE(result.has_value());
  return result ? ClientHelloError::kMalformed : result.error();
}

TEST(ClientHelloTest, OpensslHelloWithServerNameAndAlpn) {
  const ClientHello hello = parsed(kWebHello);
  EXPECT_EQ(hello.size, kWebHello.size());
  EXPECT_EQ(hello.server_name, "example.test");  // lowercased
  EXPECT_TRUE(hello.alpn_offered);
  EXPECT_EQ(hello.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
}

TEST(ClientHelloTest, OpensslHelloWithTurnAlpnAndNoServerName) {
  const ClientHello hello = parsed(kTurnHello);
  EXPECT_EQ(hello.server_name, "");
  EXPECT_EQ(hello.alpn, (std::vector<std::string>{"stun.turn"}));
}

TEST(ClientHelloTest, OpensslHelloWithoutExtensionsWeRead) {
  const ClientHello hello = parsed(kBareHello);
  EXPECT_EQ(hello.server_name, "");
  EXPECT_FALSE(hello.alpn_offered);
  EXPECT_TRUE(hello.alpn.empty());
}

TEST(ClientHelloTest, EveryPrefixNeedsMore) {
  for (std::size_t n = 0; n < kWebHello.size(); ++n) {
    const auto result = parseClientHello(std::span(kWebHello).first(n));
    ASSERT_TRUE(result.has_value()) << n;
    EXPECT_FALSE(result->has_value()) << n;
  }
}

TEST(ClientHelloTest, BytesAfterTheHelloAreNotPartOfIt) {
  Bytes data = kWebHello;
  append(data, Bytes{std::byte{0x14}, std::byte{0x03}, std::byte{0x03}});
  EXPECT_EQ(parsed(data).size, kWebHello.size());
}

TEST(ClientHelloTest, HelloSplitOverRecords) {
  const Bytes message = helloMessage(join({serverName("a.example"), alpn({"h2"})}));
  for (const std::size_t fragment : {1U, 3U, 4U, 5U, 50U}) {
    const Bytes data = records(message, fragment);
    const ClientHello hello = parsed(data);
    EXPECT_EQ(hello.size, data.size()) << fragment;
    EXPECT_EQ(hello.server_name, "a.example") << fragment;
    EXPECT_EQ(hello.alpn, std::vector<std::string>{"h2"}) << fragment;
  }
}

TEST(ClientHelloTest, NoExtensionsAtAll) {
  const ClientHello hello = parsed(records(helloMessage(std::nullopt)));
  EXPECT_EQ(hello.server_name, "");
  EXPECT_FALSE(hello.alpn_offered);
}

TEST(ClientHelloTest, NotTls) {
  // A STUN Binding request, HTTP, a PROXY header and a TLS alert record.
  EXPECT_EQ(rejected(fromHex("000100002112a442")), ClientHelloError::kNotHandshake);
  EXPECT_EQ(rejected(fromHex("474554202f")), ClientHelloError::kNotHandshake);
  EXPECT_EQ(rejected(fromHex("0d0a0d0a")), ClientHelloError::kNotHandshake);
  EXPECT_EQ(rejected(fromHex("150303000202")), ClientHelloError::kNotHandshake);
  // Told apart from the first byte, and from a wrong major version in the second.
  EXPECT_EQ(rejected(fromHex("00")), ClientHelloError::kNotHandshake);
  EXPECT_EQ(rejected(fromHex("1602")), ClientHelloError::kNotHandshake);
  // A handshake record holding a ServerHello, not a ClientHello.
  Bytes server_hello = helloMessage(std::nullopt);
  server_hello[0] = std::byte{2};
  EXPECT_EQ(rejected(records(server_hello)), ClientHelloError::kNotHandshake);
}

TEST(ClientHelloTest, RecordLimits) {
  EXPECT_EQ(rejected(fromHex("1603010000")), ClientHelloError::kMalformed);  // empty record
  EXPECT_EQ(rejected(fromHex("1603014001")), ClientHelloError::kMalformed);  // over 2^14
  // An alert between two fragments of the hello.
  const Bytes split = records(helloMessage(std::nullopt), 10);
  Bytes data(split.begin(), split.begin() + 15);
  append(data, fromHex("150303000202"));
  EXPECT_EQ(rejected(data), ClientHelloError::kMalformed);
}

TEST(ClientHelloTest, TooLongForTheBound) {
  // The declared handshake length is over the bound: rejected before the bytes arrive.
  EXPECT_EQ(rejected(fromHex("16030100040100ffff")), ClientHelloError::kTooLong);
  // A record that would end past the bound.
  EXPECT_EQ(rejected(kWebHello, kWebHello.size() - 1), ClientHelloError::kTooLong);
  // Many tiny records: the bound counts record headers too.
  const Bytes tiny = records(helloMessage(alpn({std::string(200, 'x')})), 1);
  EXPECT_EQ(rejected(tiny, 1000), ClientHelloError::kTooLong);
  EXPECT_TRUE(parseClientHello(tiny, tiny.size()).has_value());
}

TEST(ClientHelloTest, BodyLengthsMustAddUp) {
  Bytes message = helloMessage(join({serverName("a.example")}));
  message.push_back(std::byte{0});  // a byte past the extensions, counted in the lengths
  message[3] = static_cast<std::byte>(static_cast<unsigned>(message[3]) + 1);
  EXPECT_EQ(rejected(records(message)), ClientHelloError::kMalformed);
  // Session id over 32 bytes.
  EXPECT_EQ(rejected(records(helloMessage(std::nullopt, 33))), ClientHelloError::kMalformed);
  // Handshake message shorter than its declared length, with the record ending: trailing data
  // in the record after the hello.
  Bytes trailing = helloMessage(std::nullopt);
  trailing.push_back(std::byte{1});
  EXPECT_EQ(rejected(records(trailing)), ClientHelloError::kMalformed);
  // Truncated fixed part.
  Bytes short_body;
  put8(short_body, 1);
  put8(short_body, 0);
  put16(short_body, 10);
  short_body.resize(14, std::byte{3});
  EXPECT_EQ(rejected(records(short_body)), ClientHelloError::kMalformed);
}

TEST(ClientHelloTest, BadServerName) {
  EXPECT_EQ(rejected(records(helloMessage(serverName("")))), ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(serverName(std::string(256, 'a'))))),
            ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(serverName(std::string("a\0b", 3))))),
            ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(serverName("a b")))), ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(join({serverName("a"), serverName("b")})))),
            ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(extension(0, fromHex("0005000002"))))),
            ClientHelloError::kMalformed);
  // An empty server_name extension (as a server sends it) is not a list.
  EXPECT_EQ(rejected(records(helloMessage(extension(0, {})))), ClientHelloError::kMalformed);
  EXPECT_EQ(parsed(records(helloMessage(serverName(std::string(255, 'a'))))).server_name.size(),
            255U);
}

TEST(ClientHelloTest, BadAlpn) {
  EXPECT_EQ(rejected(records(helloMessage(alpn({})))), ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(alpn({""})))), ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(extension(16, fromHex("0003056832"))))),
            ClientHelloError::kMalformed);
  EXPECT_EQ(rejected(records(helloMessage(join({alpn({"h2"}), alpn({"h2"})})))),
            ClientHelloError::kMalformed);
}

TEST(ClientHelloTest, ExtensionOverrunningTheBlock) {
  Bytes ext = serverName("a.example");
  ext[3] = static_cast<std::byte>(static_cast<unsigned>(ext[3]) + 1);
  EXPECT_EQ(rejected(records(helloMessage(ext))), ClientHelloError::kMalformed);
}

}  // namespace
}  // namespace turnpike::protocol

namespace turnpike::protocol {
namespace {

const Endpoint kWeb{*IpAddress::parse("127.0.0.1"), 8443};
const Endpoint kOther{*IpAddress::parse("127.0.0.2"), 9443};

ClientHello hello(std::string server_name, std::optional<std::vector<std::string>> alpn) {
  ClientHello out;
  out.server_name = std::move(server_name);
  out.alpn_offered = alpn.has_value();
  out.alpn = alpn.value_or(std::vector<std::string>{});
  return out;
}

TEST(PassthroughBackendTest, TheDocumentedRule) {
  PassthroughRoutes routes;
  routes.default_backend = kWeb;
  routes.sni.emplace("other.test", kOther);
  // 1. stun.* ALPN is TURN, whatever the name.
  EXPECT_EQ(passthroughBackend(hello("other.test", {{"h2", "stun.turn"}}), routes), std::nullopt);
  EXPECT_EQ(passthroughBackend(hello("", {{"stun.nat-discovery"}}), routes), std::nullopt);
  // 2. a listed name goes to its backend, with or without ALPN.
  EXPECT_EQ(passthroughBackend(hello("other.test", {{"h2"}}), routes), kOther);
  EXPECT_EQ(passthroughBackend(hello("other.test", std::nullopt), routes), kOther);
  // 3. other ALPN goes to the default.
  EXPECT_EQ(passthroughBackend(hello("example.test", {{"h2", "http/1.1"}}), routes), kWeb);
  EXPECT_EQ(passthroughBackend(hello("", {{"http/1.1"}}), routes), kWeb);
  // 4. no ALPN and an unlisted or absent name: TURN.
  EXPECT_EQ(passthroughBackend(hello("example.test", std::nullopt), routes), std::nullopt);
  EXPECT_EQ(passthroughBackend(hello("", std::nullopt), routes), std::nullopt);
  // Without a default, web ALPN with an unlisted name stays with TURN.
  routes.default_backend.reset();
  EXPECT_EQ(passthroughBackend(hello("example.test", {{"h2"}}), routes), std::nullopt);
}

}  // namespace
}  // namespace turnpike::protocol

// Micro-benchmarks of the codec's hot paths (style.md section 10). CPU time per operation is the
// figure to read: these machines are noisy, wall time is not.
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "auth/long_term_key.hpp"
#include "protocol/stun/binding.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/stun/message.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/stream_framer.hpp"

namespace {

using namespace turnpike::protocol;  // NOLINT(google-build-using-namespace)
namespace auth = turnpike::auth;

constexpr TransactionId kTransactionId{std::byte{1}, std::byte{2},  std::byte{3},  std::byte{4},
                                       std::byte{5}, std::byte{6},  std::byte{7},  std::byte{8},
                                       std::byte{9}, std::byte{10}, std::byte{11}, std::byte{12}};
const Endpoint kSource{IpAddress::v4({192, 0, 2, 1}), 32853};

// A Binding request as browsers send it: SOFTWARE-less, with FINGERPRINT.
std::vector<std::byte> bindingRequest() {
  std::vector<std::byte> buffer(256);
  MessageBuilder builder(buffer, messageType(Method::kBinding, MessageClass::kRequest),
                         kTransactionId);
  builder.addFingerprint();
  buffer.resize(builder.finish()->size());
  return buffer;
}

// An authenticated Allocate-sized request: USERNAME, REALM, NONCE, MESSAGE-INTEGRITY.
std::vector<std::byte> authenticatedRequest(const auth::Md5Key& key) {
  std::vector<std::byte> buffer(512);
  MessageBuilder builder(buffer, messageType(Method::kAllocate, MessageClass::kRequest),
                         kTransactionId);
  builder.addRequestedTransport(kProtocolUdp);
  builder.addText(attr::kUsername, "1766361600:alice");
  builder.addText(attr::kRealm, "turnpike.test");
  builder.addText(attr::kNonce, "obMatJos2AAACfrhmh5aHlXFrM1yg7Ux");
  builder.addMessageIntegrity(key);
  builder.addFingerprint();
  buffer.resize(builder.finish()->size());
  return buffer;
}

void BM_ParseBindingRequest(benchmark::State& state) {
  const auto request = bindingRequest();
  for (auto _ : state) {
    auto message = Message::parse(request);
    benchmark::DoNotOptimize(message);
  }
}
BENCHMARK(BM_ParseBindingRequest);

void BM_VerifyMessageIntegrity(benchmark::State& state) {
  const auto key = auth::longTermKeyMd5("1766361600:alice", "turnpike.test", "password");
  const auto request = authenticatedRequest(key);
  const auto message = Message::parse(request);
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifyMessageIntegrity(*message, key));
  }
}
BENCHMARK(BM_VerifyMessageIntegrity);

void BM_VerifyFingerprint(benchmark::State& state) {
  const auto request = bindingRequest();
  const auto message = Message::parse(request);
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifyFingerprint(*message));
  }
}
BENCHMARK(BM_VerifyFingerprint);

void BM_LongTermKeyMd5(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(auth::longTermKeyMd5("1766361600:alice", "turnpike.test", "pw"));
  }
}
BENCHMARK(BM_LongTermKeyMd5);

// The whole Binding service: parse, fingerprint check, build XOR-MAPPED-ADDRESS, SOFTWARE and
// FINGERPRINT into the response buffer.
void BM_AnswerBindingRequest(benchmark::State& state) {
  const auto request = bindingRequest();
  std::array<std::byte, kMinResponseBuffer> out{};
  const BindingOptions options{.software = "turnpike"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(handleStunRequest(request, kSource, options, out));
  }
}
BENCHMARK(BM_AnswerBindingRequest);

void BM_BuildBindingResponse(benchmark::State& state) {
  std::array<std::byte, kMinResponseBuffer> out{};
  for (auto _ : state) {
    MessageBuilder builder(out, messageType(Method::kBinding, MessageClass::kSuccessResponse),
                           kTransactionId);
    builder.addXorAddress(attr::kXorMappedAddress, kSource);
    builder.addText(attr::kSoftware, "turnpike");
    builder.addFingerprint();
    benchmark::DoNotOptimize(builder.finish());
  }
}
BENCHMARK(BM_BuildBindingResponse);

void BM_ParseChannelData(benchmark::State& state) {
  std::vector<std::byte> datagram(4 + 120);
  writeChannelDataHeader(datagram, 0x4000, 120);
  for (auto _ : state) {
    benchmark::DoNotOptimize(parseChannelData(datagram));
  }
}
BENCHMARK(BM_ParseChannelData);

// Framing a TCP stream of 120-byte ChannelData frames, 64 KiB per read.
void BM_StreamFramerChannelData(benchmark::State& state) {
  std::vector<std::byte> frame(4 + 120);
  writeChannelDataHeader(frame, 0x4000, 120);
  StreamFramer framer;
  std::size_t frames = 0;
  for (auto _ : state) {
    const MutableBytes space = framer.writableSpace();
    const std::size_t n = std::min(space.size(), frame.size());
    std::copy_n(frame.begin(), n, space.begin());
    framer.commit(n);
    while (auto next = framer.next()) {
      if (!*next) {
        break;
      }
      ++frames;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
}
BENCHMARK(BM_StreamFramerChannelData);

}  // namespace

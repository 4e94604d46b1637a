// The hot paths allocate nothing (style.md section 9): count operator new around them.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "protocol/stun/binding.hpp"
#include "protocol/stun/builder.hpp"
#include "protocol/stun/integrity.hpp"
#include "protocol/turn/channel_data.hpp"
#include "protocol/turn/stream_framer.hpp"

#include "tests/support/counting_new.hpp"

namespace turnpike::protocol {
namespace {

constexpr TransactionId kId{std::byte{1}, std::byte{2},  std::byte{3},  std::byte{4},
                            std::byte{5}, std::byte{6},  std::byte{7},  std::byte{8},
                            std::byte{9}, std::byte{10}, std::byte{11}, std::byte{12}};

std::vector<std::byte> request(bool with_unknown) {
  std::vector<std::byte> buffer(256);
  MessageBuilder builder(buffer, messageType(Method::kBinding, MessageClass::kRequest), kId);
  if (with_unknown) {
    builder.addU32(0x0031, 7);
  }
  builder.addFingerprint();
  buffer.resize(builder.finish()->size());
  return buffer;
}

using turnpike::test::allocationsDuring;

// The counter itself works, so the zero results below mean something.
TEST(NoAllocationTest, CounterSeesAllocations) {
  EXPECT_GE(allocationsDuring([] {
              std::vector<int> v(10);
              EXPECT_EQ(v.size(), 10U);
            }),
            1U);
}

TEST(NoAllocationTest, BindingResponderAllocatesNothing) {
  const auto ok = request(false);
  const auto unknown = request(true);
  std::array<std::byte, kMinResponseBuffer> out{};
  const Endpoint source{IpAddress::v4({192, 0, 2, 1}), 32853};
  const BindingOptions options{.software = "turnpike"};
  // Warm up once: OpenSSL and thread-local contexts may allocate on first use.
  (void)handleStunRequest(ok, source, options, out);
  EXPECT_EQ(allocationsDuring([&] {
              for (int i = 0; i < 100; ++i) {
                EXPECT_EQ(handleStunRequest(ok, source, options, out).outcome,
                          StunOutcome::kBindingSuccess);
                EXPECT_EQ(handleStunRequest(unknown, source, options, out).outcome,
                          StunOutcome::kUnknownAttribute);
              }
            }),
            0U);
}

TEST(NoAllocationTest, IntegrityCheckAllocatesNothingAfterWarmUp) {
  std::vector<std::byte> buffer(256);
  const std::array<std::byte, 16> key{};
  MessageBuilder builder(buffer, messageType(Method::kAllocate, MessageClass::kRequest), kId);
  builder.addMessageIntegrity(key);
  const auto message = Message::parse(*builder.finish());
  ASSERT_TRUE(message);
  (void)verifyMessageIntegrity(*message, key);
  EXPECT_EQ(allocationsDuring([&] {
              for (int i = 0; i < 100; ++i) {
                EXPECT_EQ(verifyMessageIntegrity(*message, key), IntegrityResult::kOk);
              }
            }),
            0U);
}

TEST(NoAllocationTest, ChannelDataAndFramingAllocateNothing) {
  std::vector<std::byte> frame(4 + 120);
  writeChannelDataHeader(frame, 0x4000, 120);
  StreamFramer framer;
  EXPECT_EQ(allocationsDuring([&] {
              for (int i = 0; i < 1000; ++i) {
                EXPECT_TRUE(parseChannelData(frame));
                const MutableBytes space = framer.writableSpace();
                std::copy(frame.begin(), frame.end(), space.begin());
                framer.commit(frame.size());
                auto next = framer.next();
                EXPECT_TRUE(next && *next);
              }
            }),
            0U);
}

}  // namespace
}  // namespace turnpike::protocol

// The relay hot path through the TURN core allocates nothing (style.md section 9): ChannelData
// both ways, Send and Data indications. Counts operator new, so it is its own executable.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/unit/protocol/turn/core_fixture.hpp"

#include "tests/support/counting_new.hpp"

namespace turnpike::protocol::core_test {
namespace {

using turnpike::test::allocationsDuring;

class CoreNoAllocationTest : public CoreFixture {
 protected:
  void setUpRelay(const ClientSource& source) {
    allocateOk(source);
    ASSERT_EQ(errorCodeOf(channelBind(source, 0x4000, peer)), 0);
    ASSERT_EQ(errorCodeOf(createPermission(source, {peer2})), 0);  // no channel: indications
  }
};

TEST_F(CoreNoAllocationTest, CounterSeesAllocations) {
  EXPECT_GE(allocationsDuring([] {
              std::vector<int> v(10);
              EXPECT_EQ(v.size(), 10U);
            }),
            1U);
}

TEST_F(CoreNoAllocationTest, ChannelDataBothWaysAllocatesNothing) {
  for (const bool tcp : {false, true}) {
    SCOPED_TRACE(tcp ? "TCP" : "UDP");
    const ClientSource source = tcp ? tcpClient(7) : udpClient(40100);
    setUpRelay(source);
    const Bytes to_peer = channelData(0x4000, test::patternBytes(161), tcp);
    const Bytes from_peer = test::patternBytes(161);
    const std::uint64_t tag = tagOf(source);
    std::size_t sent = 0;
    const auto both_ways = [&] {
      outbox.clear();
      core->onClientMessage(source, to_peer, now, outbox);
      sent += outbox.entries().size();
      outbox.clear();
      core->onPeerDatagram(tag, peer, from_peer, now, outbox);
      sent += outbox.entries().size();
    };
    both_ways();  // warm up
    sent = 0;
    EXPECT_EQ(allocationsDuring([&] {
                for (int i = 0; i < 1000; ++i) both_ways();
              }),
              0U);
    EXPECT_EQ(sent, 2000U);
  }
}

TEST_F(CoreNoAllocationTest, SendAndDataIndicationsAllocateNothing) {
  setUpRelay(client);
  const Bytes send_indication = sendIndication(peer2, test::patternBytes(161));
  const Bytes from_peer = test::patternBytes(161);
  const std::uint64_t tag = tagOf(client);
  std::size_t sent = 0;
  const auto both_ways = [&] {
    outbox.clear();
    core->onClientMessage(client, send_indication, now, outbox);
    sent += outbox.entries().size();
    outbox.clear();
    core->onPeerDatagram(tag, peer2, from_peer, now, outbox);
    sent += outbox.entries().size();
  };
  both_ways();
  sent = 0;
  EXPECT_EQ(allocationsDuring([&] {
              for (int i = 0; i < 1000; ++i) both_ways();
            }),
            0U);
  EXPECT_EQ(sent, 2000U);
}

}  // namespace
}  // namespace turnpike::protocol::core_test

// Endpoint text: parse() reads what toString() writes, and nothing looser.
#include "protocol/stun/endpoint.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string_view>

namespace turnpike::protocol {
namespace {

TEST(EndpointTest, ParsesWhatToStringWrites) {
  for (const std::string_view text :
       {"192.0.2.1:3478", "[2001:db8::1]:5349", "[::1]:1", "127.0.0.1:65535"}) {
    SCOPED_TRACE(text);
    const auto endpoint = Endpoint::parse(text);
    ASSERT_TRUE(endpoint.has_value());
    EXPECT_EQ(endpoint->toString(), text);
  }
  // Brackets around IPv4 are tolerated (checked against a value, so two nullopts cannot pass).
  EXPECT_EQ(Endpoint::parse("[192.0.2.1]:80"),
            std::optional(Endpoint{IpAddress::v4({192, 0, 2, 1}), 80}));
}

TEST(EndpointTest, RejectsAnythingElse) {
  for (const std::string_view text :
       {"", "192.0.2.1", "192.0.2.1:", "192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:80x",
        "192.0.2.1: 80", "2001:db8::1:3478", "[2001:db8::1]", "host.example:3478", ":3478",
        "[2001:db8::1:3478", "192.0.2.1:-1"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(Endpoint::parse(text).has_value());
  }
}

}  // namespace
}  // namespace turnpike::protocol

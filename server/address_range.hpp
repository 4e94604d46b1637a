// Inclusive address ranges ("10.0.0.0-10.0.0.255") and their conversion to CIDR prefixes, for
// translating coturn's allowed-peer-ip / denied-peer-ip into peers.allow / peers.deny.
#pragma once

#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/stun/endpoint.hpp"

namespace turnpike::server {

// Every address from `first` to `last`, both included. Both have the same family and
// first <= last (in address order, which is the byte order of IpAddress::bytes()).
struct AddressRange {
  protocol::IpAddress first;
  protocol::IpAddress last;

  friend bool operator==(const AddressRange&, const AddressRange&) = default;
};

// "A" (one address), "A-B" (coturn's range form) or "A/len" (a CIDR prefix). On failure the
// error says why, e.g. "10.0.0.9 comes after 10.0.0.1".
[[nodiscard]] std::expected<AddressRange, std::string> parseAddressRange(std::string_view text);

// The addresses a prefix covers.
[[nodiscard]] AddressRange toRange(const protocol::AddressPrefix& prefix);

// The shortest list of prefixes that covers exactly `range`, in address order (RFC 4632
// section 3.1 aggregation): 10.0.0.1-10.0.0.6 gives 10.0.0.1/32, 10.0.0.2/31, 10.0.0.4/31,
// 10.0.0.6/32.
[[nodiscard]] std::vector<protocol::AddressPrefix> toPrefixes(const AddressRange& range);

// What is left of `range` after removing every address in `holes` (holes of the other family
// are ignored), as disjoint ranges in address order.
[[nodiscard]] std::vector<AddressRange> subtract(const AddressRange& range,
                                                 std::span<const AddressRange> holes);

}  // namespace turnpike::server

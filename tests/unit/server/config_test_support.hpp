// Shared by the config tests: an endpoint literal, and the table-driven refusals (each file
// instantiates ConfigErrorTest with its own table; the TEST_P is in config_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "server/config/config.hpp"

namespace turnpike::server {

inline protocol::Endpoint endpoint(std::string_view address, std::uint16_t port) {
  return {protocol::IpAddress::parse(address).value(), port};
}

// A document loadConfigText() refuses, the key its error names and, when not empty, a part of
// the message.
struct ConfigErrorCase {
  std::string name;
  std::string yaml;
  std::string key;
  std::string says{};  // empty: any message
};

inline void PrintTo(const ConfigErrorCase& error_case, std::ostream* os) { *os << error_case.name; }

class ConfigErrorTest : public testing::TestWithParam<ConfigErrorCase> {};

inline std::string configErrorName(const testing::TestParamInfo<ConfigErrorCase>& info) {
  return info.param.name;
}

}  // namespace turnpike::server

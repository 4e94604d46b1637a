// `turnpike selftest`: small text helpers for its messages and table (g++ 12 has no <format>).
#pragma once

#include <array>
#include <cstdio>
#include <string>
#include <string_view>

#include "server/log.hpp"

namespace turnpike::server::selftest {

// The pattern with each "{}" replaced by the next argument's text (as concat() writes it).
template <typename... Args>
[[nodiscard]] std::string fill(std::string_view pattern, const Args&... args) {
  const std::array<std::string, sizeof...(Args)> parts{concat(args)...};
  std::string out;
  std::size_t next = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '{' && i + 1 < pattern.size() && pattern[i + 1] == '}' &&
        next < parts.size()) {
      out += parts.at(next++);
      ++i;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

// text, then spaces up to width.
[[nodiscard]] inline std::string padRight(std::string_view text, std::size_t width) {
  std::string out(text);
  if (out.size() < width) {
    out.append(width - out.size(), ' ');
  }
  return out;
}

// One decimal: "1.2".
[[nodiscard]] inline std::string fixed1(double value) {
  std::array<char, 32> text{};
  (void)std::snprintf(text.data(), text.size(), "%.1f", value);
  return text.data();
}

}  // namespace turnpike::server::selftest

#include "auth/base64.hpp"

#include <array>
#include <cstdint>

namespace turnpike::auth {
namespace {

constexpr std::string_view kStandard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlSafe =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::uint8_t kNotInAlphabet = 0xFF;
using ReverseTable = std::array<std::uint8_t, 256>;

constexpr ReverseTable makeReverse(std::string_view alphabet) {
  ReverseTable table{};
  table.fill(kNotInAlphabet);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr ReverseTable kStandardReverse = makeReverse(kStandard);
constexpr ReverseTable kUrlSafeReverse = makeReverse(kUrlSafe);

std::string encode(std::span<const std::byte> data, std::string_view alphabet, bool pad) {
  std::string text;
  text.reserve(base64EncodedSize(data.size()));
  auto sextet = [&](std::uint32_t group, unsigned shift) {
    text.push_back(alphabet[(group >> shift) & 0x3FU]);
  };
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t group = std::to_integer<std::uint32_t>(data[i]) << 16U |
                                std::to_integer<std::uint32_t>(data[i + 1]) << 8U |
                                std::to_integer<std::uint32_t>(data[i + 2]);
    sextet(group, 18);
    sextet(group, 12);
    sextet(group, 6);
    sextet(group, 0);
  }
  const std::size_t rest = data.size() - i;
  if (rest == 0) {
    return text;
  }
  std::uint32_t group = std::to_integer<std::uint32_t>(data[i]) << 16U;
  if (rest == 2) {
    group |= std::to_integer<std::uint32_t>(data[i + 1]) << 8U;
  }
  sextet(group, 18);
  sextet(group, 12);
  if (rest == 2) {
    sextet(group, 6);
  }
  if (pad) {
    text.append(3 - rest, '=');
  }
  return text;
}

// Decodes unpadded characters (the padding already stripped and checked by the caller).
std::optional<std::size_t> decodeUnpadded(std::string_view text, const ReverseTable& reverse,
                                          std::span<std::byte> out) {
  const std::size_t rest = text.size() % 4;
  if (rest == 1) {
    return std::nullopt;  // 6 bits cannot make a byte
  }
  const std::size_t size = text.size() / 4 * 3 + (rest == 0 ? 0 : rest - 1);
  if (size > out.size()) {
    return std::nullopt;
  }
  std::size_t written = 0;
  std::uint32_t group = 0;
  std::size_t count = 0;
  for (const char c : text) {
    const std::uint8_t value = reverse[static_cast<unsigned char>(c)];
    if (value == kNotInAlphabet) {
      return std::nullopt;
    }
    group = group << 6U | value;
    if (++count == 4) {
      out[written++] = static_cast<std::byte>(group >> 16U);
      out[written++] = static_cast<std::byte>(group >> 8U);
      out[written++] = static_cast<std::byte>(group);
      group = 0;
      count = 0;
    }
  }
  // RFC 4648 section 3.5: the unused low bits of the last character must be zero.
  if (count == 2) {
    if ((group & 0x0FU) != 0) {
      return std::nullopt;
    }
    out[written++] = static_cast<std::byte>(group >> 4U);
  } else if (count == 3) {
    if ((group & 0x03U) != 0) {
      return std::nullopt;
    }
    out[written++] = static_cast<std::byte>(group >> 10U);
    out[written++] = static_cast<std::byte>(group >> 2U);
  }
  return written;
}

std::optional<std::vector<std::byte>> decodeToVector(
    std::string_view text,
    std::optional<std::size_t> (*decode)(std::string_view, std::span<std::byte>)) {
  std::vector<std::byte> bytes(text.size() / 4 * 3 + 2);
  const auto size = decode(text, bytes);
  if (!size) {
    return std::nullopt;
  }
  bytes.resize(*size);
  return bytes;
}

}  // namespace

std::string base64Encode(std::span<const std::byte> data) { return encode(data, kStandard, true); }

std::string base64Encode(std::string_view data) {
  return base64Encode(std::as_bytes(std::span(data.data(), data.size())));
}

std::optional<std::size_t> base64Decode(std::string_view text, std::span<std::byte> out) {
  // RFC 4648 section 3.2: padded to a multiple of 4 with at most two '='.
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  // A third '=' is left in the data part and rejected there as outside the alphabet.
  return decodeUnpadded(text.substr(0, text.size() - padding), kStandardReverse, out);
}

std::optional<std::vector<std::byte>> base64Decode(std::string_view text) {
  return decodeToVector(
      text, [](std::string_view t, std::span<std::byte> out) { return base64Decode(t, out); });
}

std::string base64UrlEncode(std::span<const std::byte> data) {
  return encode(data, kUrlSafe, false);
}

std::optional<std::size_t> base64UrlDecode(std::string_view text, std::span<std::byte> out) {
  return decodeUnpadded(text, kUrlSafeReverse, out);
}

std::optional<std::vector<std::byte>> base64UrlDecode(std::string_view text) {
  return decodeToVector(
      text, [](std::string_view t, std::span<std::byte> out) { return base64UrlDecode(t, out); });
}

}  // namespace turnpike::auth

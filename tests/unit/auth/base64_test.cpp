// Base64 and base64url: the RFC 4648 section 10 test vectors, the URL-safe alphabet, strict
// rejection of everything that is not the one canonical encoding, and round trips.
#include "auth/base64.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::auth {
namespace {

std::vector<std::byte> bytesOf(std::string_view text) {
  std::vector<std::byte> bytes;
  for (const char c : text) {
    bytes.push_back(static_cast<std::byte>(c));
  }
  return bytes;
}

struct Vector {
  std::string_view plain;
  std::string_view base64;
  std::string_view base64url;
};

// RFC 4648 section 10; the unpadded column is the same text without '='.
constexpr std::array<Vector, 7> kRfc4648Vectors{{
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
}};

TEST(Base64Test, Rfc4648Vectors) {
  for (const Vector& v : kRfc4648Vectors) {
    SCOPED_TRACE(v.plain);
    EXPECT_EQ(base64Encode(v.plain), v.base64);
    EXPECT_EQ(base64Encode(bytesOf(v.plain)), v.base64);
    EXPECT_EQ(base64UrlEncode(bytesOf(v.plain)), v.base64url);
    EXPECT_EQ(base64Decode(v.base64), bytesOf(v.plain));
    EXPECT_EQ(base64UrlDecode(v.base64url), bytesOf(v.plain));
    EXPECT_EQ(base64EncodedSize(v.plain.size()), v.base64.size());
    EXPECT_EQ(base64UrlEncodedSize(v.plain.size()), v.base64url.size());
  }
}

TEST(Base64Test, AlphabetsDifferInTheLastTwoCharacters) {
  const std::vector<std::byte> bytes{std::byte{0xFB}, std::byte{0xFF}};
  EXPECT_EQ(base64Encode(bytes), "+/8=");
  EXPECT_EQ(base64UrlEncode(bytes), "-_8");
  EXPECT_EQ(base64Decode("+/8="), bytes);
  EXPECT_EQ(base64UrlDecode("-_8"), bytes);
  EXPECT_FALSE(base64Decode("-_8="));
  EXPECT_FALSE(base64UrlDecode("+/8"));
}

TEST(Base64Test, StandardDecodingIsStrict) {
  for (const std::string_view bad : {
           "Zg",         // padding required
           "Zg=",        // length not a multiple of 4
           "Zh==",       // non-zero unused bits (RFC 4648 section 3.5)
           "Zm9=",       // non-zero unused bits with one '='
           "Z===",       // three '='
           "====",       //
           "=Zg=",       // '=' not at the end
           "Zg==Zg==",   // padding in the middle
           "Zm9v\n",     // whitespace
           "Zm 9v",      //
           "Zm9v Zm9v",  //
           "Zm9\x80",    // non-ASCII
           "Zm9\0"       // NUL (a 4-character literal with an embedded NUL)
       }) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(base64Decode(bad));
  }
  EXPECT_FALSE(base64Decode(std::string_view("Zm9\0", 4)));
}

TEST(Base64Test, UrlDecodingIsStrict) {
  for (const std::string_view bad : {
           "Zg==",   // no padding in base64url here
           "Zm8=",   //
           "Zm9vY",  // 4n+1 characters cannot come from whole bytes
           "Z",      //
           "Zh",     // non-zero unused bits
           "Zm9",    //
           "Zm9v ",  // whitespace
       }) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(base64UrlDecode(bad));
  }
}

TEST(Base64Test, DecodeIntoSpanChecksTheSpace) {
  std::array<std::byte, 6> out{};
  EXPECT_EQ(base64Decode("Zm9vYmFy", out), 6U);
  EXPECT_EQ(out[5], std::byte{'r'});
  EXPECT_EQ(base64UrlDecode("Zm9vYmE", out), 5U);
  std::array<std::byte, 5> small{};
  EXPECT_FALSE(base64Decode("Zm9vYmFy", small));
  EXPECT_FALSE(base64UrlDecode("Zm9vYmFy", small));
  EXPECT_EQ(base64Decode("", std::span<std::byte>{}), 0U);
}

TEST(Base64Test, RoundTripsEveryLengthAndByteValue) {
  std::vector<std::byte> data;
  for (std::size_t length = 0; length <= 300; ++length) {
    SCOPED_TRACE(length);
    EXPECT_EQ(base64Decode(base64Encode(data)), data);
    EXPECT_EQ(base64UrlDecode(base64UrlEncode(data)), data);
    EXPECT_EQ(base64Encode(data).size(), base64EncodedSize(length));
    EXPECT_EQ(base64UrlEncode(data).size(), base64UrlEncodedSize(length));
    data.push_back(static_cast<std::byte>((length * 167 + 13) & 0xFF));
  }
}

}  // namespace
}  // namespace turnpike::auth

// The credential API's JSON reader (strict, flat objects only) and writer: what is accepted,
// everything that is rejected and where, UTF-8 edge cases, escaping, and writer -> reader round
// trips.
#include "server/http/json.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::server {
namespace {

JsonObject parseOk(std::string_view text) {
  auto parsed = parseJsonObject(text);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << (parsed ? "" : parsed.error().reason) << " at "
                                  << (parsed ? 0 : parsed.error().offset);
  return parsed.value_or(JsonObject{});
}

std::string stringMember(const JsonObject& object, std::string_view name) {
  const JsonValue* value = object.find(name);
  EXPECT_NE(value, nullptr) << name;
  const auto* text = value == nullptr ? nullptr : std::get_if<std::string>(value);
  EXPECT_NE(text, nullptr) << name << " is not a string";
  return text == nullptr ? "" : *text;
}

// ---- Reader: accepted ----

TEST(JsonReader, FlatObjectWithEveryValueKind) {
  const JsonObject object =
      parseOk(R"({"user": "alice", "ttl": 3600, "neg": -42, "zero": 0, "t": true, "f": false,
                  "n": null})");
  ASSERT_EQ(object.members().size(), 7U);
  EXPECT_EQ(object.members()[0].name, "user");
  EXPECT_EQ(stringMember(object, "user"), "alice");
  EXPECT_EQ(std::get<std::int64_t>(*object.find("ttl")), 3600);
  EXPECT_EQ(std::get<std::int64_t>(*object.find("neg")), -42);
  EXPECT_EQ(std::get<std::int64_t>(*object.find("zero")), 0);
  EXPECT_EQ(std::get<bool>(*object.find("t")), true);
  EXPECT_EQ(std::get<bool>(*object.find("f")), false);
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(*object.find("n")));
  EXPECT_EQ(object.find("missing"), nullptr);
}

TEST(JsonReader, EmptyObjectAndWhitespaceEverywhere) {
  EXPECT_TRUE(parseOk("{}").members().empty());
  EXPECT_TRUE(parseOk(" \t\r\n{ \t\r\n} \t\r\n").members().empty());
  const JsonObject object = parseOk("\n{\n \"a\"\t:\r1 ,\"b\":\"x\"\n}\n");
  EXPECT_EQ(object.members().size(), 2U);
}

TEST(JsonReader, Int64Limits) {
  const JsonObject object =
      parseOk(R"({"max": 9223372036854775807, "min": -9223372036854775808, "mz": -0})");
  EXPECT_EQ(std::get<std::int64_t>(*object.find("max")), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(std::get<std::int64_t>(*object.find("min")), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(std::get<std::int64_t>(*object.find("mz")), 0);
}

TEST(JsonReader, StringEscapes) {
  const JsonObject object = parseOk(
      R"({"s": "q\" b\\ s\/ \b\f\n\r\t", "u": "\u0041\u00e9\u20AC", "pair": "\ud83d\ude00",
          "nul": "a\u0000b"})");
  EXPECT_EQ(stringMember(object, "s"), "q\" b\\ s/ \b\f\n\r\t");
  EXPECT_EQ(stringMember(object, "u"), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(stringMember(object, "pair"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stringMember(object, "nul"), std::string("a\0b", 3));
}

TEST(JsonReader, RawUtf8InStringsAndNames) {
  const JsonObject object = parseOk("{\"caf\xC3\xA9\": \"\xE2\x82\xAC \xF0\x9F\x98\x80\"}");
  EXPECT_EQ(stringMember(object, "caf\xC3\xA9"), "\xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(JsonReader, MemberLimitIsInclusive) {
  std::string text = "{";
  for (int i = 0; i < 32; ++i) {
    text += (i == 0 ? "\"m" : ",\"m") + std::to_string(i) + "\":" + std::to_string(i);
  }
  EXPECT_EQ(parseOk(text + "}").members().size(), 32U);
  const auto too_many = parseJsonObject(text + ",\"m32\":32}");
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().reason, "too many members");
}

TEST(JsonReader, InputLimitIsInclusive) {
  const std::string padding(4096 - std::string_view(R"({"a":""})").size(), 'x');
  const std::string at_limit = R"({"a":")" + padding + R"("})";
  ASSERT_EQ(at_limit.size(), 4096U);
  EXPECT_EQ(stringMember(parseOk(at_limit), "a"), padding);
  const auto over = parseJsonObject(at_limit + " ");
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().reason, "the JSON text is too long");
  EXPECT_TRUE(parseJsonObject(at_limit + " ", JsonLimits{.max_input = 4097}).has_value());
}

// ---- Reader: rejected, table-driven ----

struct BadCase {
  std::string_view name;
  std::string text;
  std::size_t offset;
};

void PrintTo(const BadCase& bad, std::ostream* os) { *os << bad.name; }

class JsonReaderRejects : public testing::TestWithParam<BadCase> {};

TEST_P(JsonReaderRejects, WithTheOffset) {
  const BadCase& bad = GetParam();
  const auto parsed = parseJsonObject(bad.text);
  ASSERT_FALSE(parsed.has_value()) << bad.text;
  EXPECT_EQ(parsed.error().offset, bad.offset) << parsed.error().reason;
  EXPECT_FALSE(parsed.error().reason.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Json, JsonReaderRejects,
    testing::Values(
        // Not an object at the top.
        BadCase{"Empty", "", 0}, BadCase{"OnlySpace", "  ", 2}, BadCase{"Array", "[]", 0},
        BadCase{"String", "\"a\"", 0}, BadCase{"Number", "1", 0}, BadCase{"Null", "null", 0},
        BadCase{"ByteOrderMark", "\xEF\xBB\xBF{}", 0},
        // Structure.
        BadCase{"Unclosed", "{", 1}, BadCase{"UnclosedAfterMember", R"({"a":1)", 6},
        BadCase{"TrailingComma", R"({"a":1,})", 7}, BadCase{"LeadingComma", R"({,"a":1})", 1},
        BadCase{"MissingColon", R"({"a" 1})", 5}, BadCase{"MissingValue", R"({"a":})", 5},
        BadCase{"MissingComma", R"({"a":1 "b":2})", 7}, BadCase{"UnquotedName", "{a:1}", 1},
        BadCase{"SingleQuotes", "{'a':1}", 1}, BadCase{"TextAfter", "{} x", 3},
        BadCase{"TwoObjects", "{}{}", 2}, BadCase{"Comment", "{} // c", 3},
        BadCase{"DuplicateName", R"({"a":1,"b":2,"a":3})", 13},
        BadCase{"DuplicateAfterEscape", R"({"a":1,"\u0061":2})", 7},
        // Values that are not flat.
        BadCase{"NestedObject", R"({"a":{}})", 5}, BadCase{"NestedArray", R"({"a":[1]})", 5},
        // Literals.
        BadCase{"TrueTypo", R"({"a":tru})", 5}, BadCase{"Uppercase", R"({"a":True})", 5},
        BadCase{"NaN", R"({"a":NaN})", 5}, BadCase{"TrueThenJunk", R"({"a":truex})", 9},
        // Numbers: integers only, RFC 8259 grammar, int64 range.
        BadCase{"Fraction", R"({"a":1.5})", 6}, BadCase{"Exponent", R"({"a":1e3})", 6},
        BadCase{"UpperExponent", R"({"a":1E3})", 6}, BadCase{"LeadingZero", R"({"a":01})", 6},
        BadCase{"Plus", R"({"a":+1})", 5}, BadCase{"LoneMinus", R"({"a":-})", 6},
        BadCase{"MinusSpace", R"({"a":- 1})", 6}, BadCase{"Hex", R"({"a":0x1})", 6},
        BadCase{"TooBig", R"({"a":9223372036854775808})", 5},
        BadCase{"TooSmall", R"({"a":-9223372036854775809})", 5},
        BadCase{"Huge", R"({"a":99999999999999999999999999})", 5},
        // Strings.
        BadCase{"Unterminated", R"({"a":"abc})", 10}, BadCase{"RawNewline", "{\"a\":\"x\ny\"}", 7},
        BadCase{"RawTab", "{\"a\":\"\t\"}", 6},
        BadCase{"RawNul", std::string("{\"a\":\"\0\"}", 9), 6},
        BadCase{"BadEscape", R"({"a":"\x"})", 6}, BadCase{"EscapeAtEnd", "{\"a\":\"\\", 7},
        BadCase{"ShortUnicode", R"({"a":"\u12"})", 8},
        BadCase{"NonHexUnicode", R"({"a":"\u12G4"})", 8},
        BadCase{"LoneLowSurrogate", R"({"a":"\udc00"})", 12},
        BadCase{"LoneHighSurrogate", R"({"a":"\ud800x"})", 12},
        BadCase{"HighThenNonLow", R"({"a":"\ud800\u0041"})", 18},
        BadCase{"HighAtEnd", R"({"a":"\ud800)", 12},
        // Invalid UTF-8 inside strings, and any non-ASCII outside them.
        BadCase{"Utf8Continuation", "{\"a\":\"\x80\"}", 6},
        BadCase{"Utf8Overlong2", "{\"a\":\"\xC0\xAF\"}", 6},
        BadCase{"Utf8Overlong3", "{\"a\":\"\xE0\x80\xAF\"}", 6},
        BadCase{"Utf8Overlong4", "{\"a\":\"\xF0\x80\x80\xAF\"}", 6},
        BadCase{"Utf8Surrogate", "{\"a\":\"\xED\xA0\x80\"}", 6},
        BadCase{"Utf8AboveMax", "{\"a\":\"\xF4\x90\x80\x80\"}", 6},
        BadCase{"Utf8F5", "{\"a\":\"\xF5\x80\x80\x80\"}", 6},
        BadCase{"Utf8Truncated", "{\"a\":\"\xE2\x82\"}", 6},
        BadCase{"Utf8InName", "{\"\xFF\":1}", 2}, BadCase{"NonAsciiOutside", "{\xC3\xA9}", 1}),
    [](const testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

// ---- UTF-8 ----

TEST(Utf8, DecodesEveryLengthAndTheBoundaries) {
  struct Case {
    std::string_view bytes;
    char32_t code_point;
  };
  for (const Case& c :
       {Case{"A", U'A'}, Case{"\x7F", 0x7F}, Case{"\xC2\x80", 0x80}, Case{"\xDF\xBF", 0x7FF},
        Case{"\xE0\xA0\x80", 0x800}, Case{"\xED\x9F\xBF", 0xD7FF}, Case{"\xEE\x80\x80", 0xE000},
        Case{"\xEF\xBF\xBF", 0xFFFF}, Case{"\xF0\x90\x80\x80", 0x10000},
        Case{"\xF4\x8F\xBF\xBF", 0x10FFFF}}) {
    std::size_t pos = 0;
    EXPECT_EQ(decodeUtf8(c.bytes, pos), c.code_point);
    EXPECT_EQ(pos, c.bytes.size());
  }
  std::size_t pos = 0;
  EXPECT_FALSE(decodeUtf8("\xC1\xBF", pos));
  EXPECT_EQ(pos, 0U);
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("ascii \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(isValidUtf8("ok \xC3"));
  EXPECT_FALSE(isValidUtf8("\xED\xBF\xBF"));
}

// ---- Writer ----

TEST(JsonWriterTest, EscapesEverythingJsonAndJavaScriptNeed) {
  std::string out;
  appendJsonString(out, "a\"b\\c\n\r\t\b\f\x01\x1F\x7F/\xE2\x80\xA8\xE2\x80\xA9\xC3\xA9");
  EXPECT_EQ(out, R"("a\"b\\c\n\r\t\u0008\u000c\u0001\u001f\u007f/\u2028\u2029)"
                 "\xC3\xA9\"");
}

TEST(JsonWriterTest, InvalidUtf8BecomesReplacementCharacters) {
  std::string out;
  appendJsonString(out, "x\xFFy\xC3");
  EXPECT_EQ(out, R"("x\ufffdy\ufffd")");
  std::string nul;
  appendJsonString(nul, std::string_view("\0", 1));
  EXPECT_EQ(nul, R"("\u0000")");
}

TEST(JsonWriterTest, NestedStructureWithCommas) {
  JsonWriter w;
  w.beginObject()
      .field("username", "1:alice")
      .field("ttl", std::int64_t{60})
      .key("uris")
      .beginArray()
      .string("turn:a")
      .string("turn:b")
      .endArray()
      .key("empty")
      .beginArray()
      .endArray()
      .key("servers")
      .beginArray()
      .beginObject()
      .field("k", "v")
      .endObject()
      .beginObject()
      .endObject()
      .endArray()
      .field("neg", std::int64_t{-5})
      .endObject();
  EXPECT_EQ(w.text(), R"({"username":"1:alice","ttl":60,"uris":["turn:a","turn:b"],"empty":[],)"
                      R"("servers":[{"k":"v"},{}],"neg":-5})");
}

TEST(JsonWriterTest, RoundTripsThroughTheReader) {
  std::string all_bytes;
  for (int c = 1; c < 0x80; ++c) {
    all_bytes.push_back(static_cast<char>(c));
  }
  all_bytes += "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  const std::vector<std::string> strings = {"", "alice", all_bytes, std::string("a\0b", 3)};
  for (const std::string& s : strings) {
    JsonWriter w;
    w.beginObject()
        .field("s", s)
        .field("max", std::numeric_limits<std::int64_t>::max())
        .field("min", std::numeric_limits<std::int64_t>::min())
        .endObject();
    const JsonObject object = parseOk(w.text());
    EXPECT_EQ(stringMember(object, "s"), s);
    EXPECT_EQ(std::get<std::int64_t>(*object.find("max")),
              std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(std::get<std::int64_t>(*object.find("min")),
              std::numeric_limits<std::int64_t>::min());
  }
}

}  // namespace
}  // namespace turnpike::server

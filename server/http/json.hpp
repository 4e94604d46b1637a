// A small, strict JSON reader for flat objects and a JSON writer, for the credential API. Both are
// pure (no I/O, no globals) and bounded.
//
// The reader accepts RFC 8259 JSON text whose top level is one object with at most
// JsonLimits::max_members members, each a string, an integer, true, false or null:
//
//   {"user": "alice", "ttl": 3600}
//
// Nested objects and arrays, fractions and exponents ("1.5", "1e3"), integers outside int64,
// duplicate member names, invalid UTF-8 (overlong forms, surrogates, beyond U+10FFFF), lone
// surrogate escapes, raw control characters in strings, a byte order mark and anything after
// the object but whitespace are all rejected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace turnpike::server {

// A member's value: null, true/false, an integer or a (decoded, valid UTF-8) string.
using JsonValue = std::variant<std::nullptr_t, bool, std::int64_t, std::string>;

struct JsonMember {
  std::string name;
  JsonValue value;
};

// A parsed flat object: its members in document order, names unique.
class JsonObject {
 public:
  JsonObject() = default;
  explicit JsonObject(std::vector<JsonMember> members) : members_(std::move(members)) {}

  [[nodiscard]] const std::vector<JsonMember>& members() const { return members_; }
  // The member's value, or nullptr when there is no such member.
  [[nodiscard]] const JsonValue* find(std::string_view name) const;

 private:
  std::vector<JsonMember> members_;
};

struct JsonLimits {
  std::size_t max_input = 4096;  // bytes of JSON text
  std::size_t max_members = 32;
};

// Where the text stopped being acceptable, and why (a static, human-readable reason).
struct JsonError {
  std::size_t offset = 0;
  std::string_view reason;
};

[[nodiscard]] std::expected<JsonObject, JsonError> parseJsonObject(std::string_view text,
                                                                   const JsonLimits& limits = {});

// The code point of the UTF-8 sequence at text[pos], advancing pos past it; nullopt (pos
// unchanged) for an invalid or truncated sequence (RFC 3629 section 4).
[[nodiscard]] std::optional<char32_t> decodeUtf8(std::string_view text, std::size_t& pos);
[[nodiscard]] bool isValidUtf8(std::string_view text);

// Appends `text` as a JSON string literal, quotes included. Escapes '"', '\\', every control
// character (U+0000-U+001F, U+007F) and U+2028/U+2029; each byte of an invalid UTF-8 sequence
// becomes U+FFFD, so the output is always valid JSON in valid UTF-8.
void appendJsonString(std::string& out, std::string_view text);

// Builds compact JSON text. The caller keeps the structure right: key() before each value inside
// an object, none inside an array, and every begin matched by its end.
//
//   JsonWriter w;
//   w.beginObject().key("ttl").integer(60).key("uris").beginArray().string("turn:a").endArray();
//   w.endObject();   // {"ttl":60,"uris":["turn:a"]}
class JsonWriter {
 public:
  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view name);
  JsonWriter& string(std::string_view value);
  JsonWriter& integer(std::int64_t value);
  // key(name) then string(value) or integer(value).
  JsonWriter& field(std::string_view name, std::string_view value);
  JsonWriter& field(std::string_view name, std::int64_t value);

  [[nodiscard]] const std::string& text() const { return out_; }

 private:
  void beforeValue();
  std::string out_;
  std::vector<bool> has_items_;  // one entry per open object or array
  bool after_key_ = false;
};

}  // namespace turnpike::server

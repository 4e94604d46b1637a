#include "server/http/json.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace turnpike::server {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool isContinuation(unsigned char byte) { return (byte & 0xC0U) == 0x80U; }

void appendUtf8(std::string& out, char32_t code_point) {
  const auto put = [&out](std::uint32_t byte) { out.push_back(static_cast<char>(byte)); };
  const auto cp = static_cast<std::uint32_t>(code_point);
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xC0U | (cp >> 6U));
    put(0x80U | (cp & 0x3FU));
  } else if (cp < 0x10000) {
    put(0xE0U | (cp >> 12U));
    put(0x80U | ((cp >> 6U) & 0x3FU));
    put(0x80U | (cp & 0x3FU));
  } else {
    put(0xF0U | (cp >> 18U));
    put(0x80U | ((cp >> 12U) & 0x3FU));
    put(0x80U | ((cp >> 6U) & 0x3FU));
    put(0x80U | (cp & 0x3FU));
  }
}

// A recursive-descent reader over the whole text; `pos_` only moves forward.
class Reader {
 public:
  Reader(std::string_view text, const JsonLimits& limits) : text_(text), limits_(limits) {}

  std::expected<JsonObject, JsonError> object() {
    if (text_.size() > limits_.max_input) {
      return fail("the JSON text is too long", limits_.max_input);
    }
    skipSpace();
    if (!consume('{')) {
      return fail("expected a JSON object");
    }
    std::vector<JsonMember> members;
    skipSpace();
    if (!consume('}')) {
      while (true) {
        auto member = this->member(members);
        if (!member) {
          return std::unexpected(member.error());
        }
        members.push_back(std::move(*member));
        skipSpace();
        if (consume('}')) {
          break;
        }
        if (!consume(',')) {
          return fail("expected ',' or '}' after a member");
        }
        skipSpace();
      }
    }
    skipSpace();
    if (pos_ != text_.size()) {
      return fail("unexpected text after the object");
    }
    return JsonObject(std::move(members));
  }

 private:
  std::unexpected<JsonError> fail(std::string_view reason) const { return fail(reason, pos_); }
  static std::unexpected<JsonError> fail(std::string_view reason, std::size_t offset) {
    return std::unexpected(JsonError{offset, reason});
  }

  [[nodiscard]] bool atEnd() const { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const { return atEnd() ? '\0' : text_[pos_]; }
  bool consume(char c) {
    if (atEnd() || text_[pos_] != c) {
      return false;
    }
    ++pos_;
    return true;
  }
  // RFC 8259 section 2: space, tab, line feed, carriage return.
  void skipSpace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) {
      ++pos_;
    }
  }

  std::expected<JsonMember, JsonError> member(const std::vector<JsonMember>& before) {
    if (before.size() >= limits_.max_members) {
      return fail("too many members");
    }
    const std::size_t name_at = pos_;
    if (peek() != '"') {
      return fail("expected a member name (a string)");
    }
    auto name = string();
    if (!name) {
      return std::unexpected(name.error());
    }
    if (std::ranges::any_of(before, [&](const JsonMember& m) { return m.name == *name; })) {
      return fail("duplicate member name", name_at);
    }
    skipSpace();
    if (!consume(':')) {
      return fail("expected ':' after a member name");
    }
    skipSpace();
    auto value = this->value();
    if (!value) {
      return std::unexpected(value.error());
    }
    return JsonMember{std::move(*name), std::move(*value)};
  }

  std::expected<JsonValue, JsonError> value() {
    const char c = peek();
    if (c == '"') {
      auto text = string();
      if (!text) {
        return std::unexpected(text.error());
      }
      return JsonValue(std::move(*text));
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      return integer();
    }
    if (c == '{' || c == '[') {
      return fail("nested objects and arrays are not accepted");
    }
    for (const auto& [word, literal] : std::array<std::pair<std::string_view, JsonValue>, 3>{
             {{"true", true}, {"false", false}, {"null", nullptr}}}) {
      if (text_.substr(pos_).starts_with(word)) {
        pos_ += word.size();
        return literal;
      }
    }
    return fail("expected a value");
  }

  // RFC 8259 section 6, integers only: -?(0|[1-9][0-9]*), within int64.
  std::expected<JsonValue, JsonError> integer() {
    const std::size_t start = pos_;
    consume('-');
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') {
        ++pos_;
      }
    } else {
      return fail("expected a digit");
    }
    if (peek() == '.' || peek() == 'e' || peek() == 'E') {
      return fail("only integers are accepted");
    }
    std::int64_t number = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    const auto [end, ec] = std::from_chars(first, last, number);
    if (ec != std::errc{} || end != last) {
      return fail("integer out of range", start);
    }
    return JsonValue(number);
  }

  // The four hex digits of a \u escape.
  std::optional<char32_t> hex4() {
    if (text_.size() - pos_ < 4) {
      return std::nullopt;
    }
    std::uint32_t value = 0;
    const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, value, 16);
    if (ec != std::errc{} || end != text_.data() + pos_ + 4) {
      return std::nullopt;
    }
    pos_ += 4;
    return static_cast<char32_t>(value);
  }

  // After "\u": one code point, joining a surrogate pair (RFC 8259 section 7).
  std::expected<char32_t, JsonError> unicodeEscape() {
    const auto high = hex4();
    if (!high) {
      return fail("\\u needs four hex digits");
    }
    if (*high >= 0xDC00 && *high <= 0xDFFF) {
      return fail("unpaired low surrogate");
    }
    if (*high < 0xD800 || *high > 0xDBFF) {
      return *high;
    }
    if (!consume('\\') || !consume('u')) {
      return fail("unpaired high surrogate");
    }
    const auto low = hex4();
    if (!low || *low < 0xDC00 || *low > 0xDFFF) {
      return fail("unpaired high surrogate");
    }
    return 0x10000 + ((*high - 0xD800) << 10U) + (*low - 0xDC00);
  }

  std::expected<std::string, JsonError> string() {
    consume('"');
    std::string out;
    while (true) {
      if (atEnd()) {
        return fail("unterminated string");
      }
      const auto byte = static_cast<unsigned char>(text_[pos_]);
      if (byte == '"') {
        ++pos_;
        return out;
      }
      if (byte < 0x20) {
        return fail("control character in a string");
      }
      if (byte >= 0x80) {
        const std::size_t start = pos_;
        if (!decodeUtf8(text_, pos_)) {
          return fail("invalid UTF-8");
        }
        out.append(text_.substr(start, pos_ - start));
        continue;
      }
      ++pos_;
      if (byte != '\\') {
        out.push_back(static_cast<char>(byte));
        continue;
      }
      if (atEnd()) {
        return fail("unterminated string");
      }
      const char escape = text_[pos_++];
      constexpr std::string_view kFrom = "\"\\/bfnrt";
      constexpr std::string_view kTo = "\"\\/\b\f\n\r\t";
      if (const std::size_t i = kFrom.find(escape); i != kFrom.npos) {
        out.push_back(kTo[i]);
      } else if (escape == 'u') {
        auto code_point = unicodeEscape();
        if (!code_point) {
          return std::unexpected(code_point.error());
        }
        appendUtf8(out, *code_point);
      } else {
        return fail("invalid escape", pos_ - 2);
      }
    }
  }

  std::string_view text_;
  const JsonLimits& limits_;
  std::size_t pos_ = 0;
};

}  // namespace

const JsonValue* JsonObject::find(std::string_view name) const {
  const auto it = std::ranges::find(members_, name, &JsonMember::name);
  return it == members_.end() ? nullptr : &it->value;
}

std::expected<JsonObject, JsonError> parseJsonObject(std::string_view text,
                                                     const JsonLimits& limits) {
  return Reader(text, limits).object();
}

std::optional<char32_t> decodeUtf8(std::string_view text, std::size_t& pos) {
  if (pos >= text.size()) {
    return std::nullopt;
  }
  const auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) {
    return static_cast<char32_t>(text[pos++]);
  }
  // RFC 3629 section 4: the second byte's range depends on the lead byte.
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  std::uint32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1FU;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0FU;
    second_min = lead == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    second_max = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07U;
    second_min = lead == 0xF0 ? 0x90 : 0x80;  // no overlong forms
    second_max = lead == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
  } else {
    return std::nullopt;
  }
  if (text.size() - pos < length) {
    return std::nullopt;
  }
  const auto second = static_cast<unsigned char>(text[pos + 1]);
  if (second < second_min || second > second_max) {
    return std::nullopt;
  }
  for (std::size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(text[pos + i]);
    if (!isContinuation(byte)) {
      return std::nullopt;
    }
    code_point = (code_point << 6U) | (byte & 0x3FU);
  }
  pos += length;
  return static_cast<char32_t>(code_point);
}

bool isValidUtf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!decodeUtf8(text, pos)) {
      return false;
    }
  }
  return true;
}

void appendJsonString(std::string& out, std::string_view text) {
  constexpr std::string_view kHex = "0123456789abcdef";
  const auto escape_u = [&out, kHex](std::uint32_t cp) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) {
      out.push_back(kHex[(cp >> static_cast<unsigned>(shift)) & 0xFU]);
    }
  };
  out.push_back('"');
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    const std::optional<char32_t> decoded = decodeUtf8(text, pos);
    if (!decoded) {
      ++pos;
      escape_u(kReplacement);
      continue;
    }
    const auto cp = static_cast<std::uint32_t>(*decoded);
    switch (cp) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        // Control characters; U+2028 and U+2029 break JavaScript string literals.
        if (cp < 0x20 || cp == 0x7F || cp == 0x2028 || cp == 0x2029) {
          escape_u(cp);
        } else {
          out.append(text.substr(start, pos - start));
        }
    }
  }
  out.push_back('"');
}

void JsonWriter::beforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_items_.empty()) {
    if (has_items_.back()) {
      out_.push_back(',');
    }
    has_items_.back() = true;
  }
}

JsonWriter& JsonWriter::beginObject() {
  beforeValue();
  out_.push_back('{');
  has_items_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::endObject() {
  out_.push_back('}');
  has_items_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::beginArray() {
  beforeValue();
  out_.push_back('[');
  has_items_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::endArray() {
  out_.push_back(']');
  has_items_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  beforeValue();
  appendJsonString(out_, name);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view value) {
  beforeValue();
  appendJsonString(out_, value);
  return *this;
}

JsonWriter& JsonWriter::integer(std::int64_t value) {
  beforeValue();
  out_ += std::to_string(value);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::string_view value) {
  return key(name).string(value);
}

JsonWriter& JsonWriter::field(std::string_view name, std::int64_t value) {
  return key(name).integer(value);
}

}  // namespace turnpike::server

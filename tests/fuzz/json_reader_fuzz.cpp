// libFuzzer target: the credential API's JSON reader and writer. Whatever the reader accepts is
// a flat object within the limits, with unique names and valid UTF-8 strings, and writing it
// back gives text the reader accepts with the same members. The input as one string, escaped by
// the writer, is valid JSON that reads back as itself whenever it is valid UTF-8.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "server/http/json.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace turnpike::server;  // NOLINT(google-build-using-namespace)
using turnpike::fuzz::check;

std::string write(const JsonObject& object) {
  JsonWriter writer;
  writer.beginObject();
  for (const JsonMember& member : object.members()) {
    writer.key(member.name);
    if (const auto* text = std::get_if<std::string>(&member.value)) {
      writer.string(*text);
    } else if (const auto* number = std::get_if<std::int64_t>(&member.value)) {
      writer.integer(*number);
    } else {
      // true, false and null have no writer method: the reader must still take them back.
      writer.string("literal");
    }
  }
  writer.endObject();
  return writer.text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);  // NOLINT
  constexpr JsonLimits kLimits{};
  const auto parsed = parseJsonObject(input, kLimits);
  if (parsed) {
    check(input.size() <= kLimits.max_input);
    check(parsed->members().size() <= kLimits.max_members);
    std::set<std::string_view> names;
    for (const JsonMember& member : parsed->members()) {
      check(names.insert(member.name).second);
      check(isValidUtf8(member.name));
      if (const auto* text = std::get_if<std::string>(&member.value)) {
        check(isValidUtf8(*text));
      }
    }
    // Escaping can grow the text past max_input; the round trip is checked without that limit.
    const std::string again = write(*parsed);
    const auto reparsed = parseJsonObject(again, JsonLimits{.max_input = again.size()});
    check(reparsed.has_value());
    check(reparsed->members().size() == parsed->members().size());
    for (std::size_t i = 0; i < parsed->members().size(); ++i) {
      const JsonMember& a = parsed->members()[i];
      const JsonMember& b = reparsed->members()[i];
      check(a.name == b.name);
      if (!std::holds_alternative<bool>(a.value) &&
          !std::holds_alternative<std::nullptr_t>(a.value)) {
        check(a.value == b.value);
      }
    }
  } else {
    check(parsed.error().offset <= input.size() || parsed.error().offset == kLimits.max_input);
    check(!parsed.error().reason.empty());
  }

  std::string escaped;
  appendJsonString(escaped, input);
  check(isValidUtf8(escaped));
  const std::string wrapped = "{\"s\":" + escaped + "}";
  const auto read_back = parseJsonObject(wrapped, JsonLimits{.max_input = wrapped.size()});
  check(read_back.has_value());
  if (isValidUtf8(input)) {
    check(std::get<std::string>(*read_back->find("s")) == input);
  }
  return 0;
}

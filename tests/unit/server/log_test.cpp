// The log: concat's formatting, and worker threads' deferred lines (info waits for the end of
// the loop iteration, warnings do not). stderr is redirected to a temporary file per test.
#include "server/log.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace turnpike::server {
namespace {

enum class Colour : std::uint8_t { kRed };
std::ostream& operator<<(std::ostream& out, Colour /*colour*/) { return out << "red"; }

TEST(LogConcatTest, JoinsStringsIntegersAndAnythingThatStreams) {
  const std::string text = "text";
  EXPECT_EQ(concat("a", std::string_view("b"), text, 'c'), "abtextc");
  EXPECT_EQ(concat(0, " ", -42, " ", std::uint64_t{18446744073709551615ULL}, " ",
                   std::int64_t{-9223372036854775807LL - 1}),
            "0 -42 18446744073709551615 -9223372036854775808");
  EXPECT_EQ(concat(std::uint8_t{7}, std::int16_t{-3}), "7-3") << "small integers are numbers";
  EXPECT_EQ(concat(true, false, 1.5, Colour::kRed), "101.5red");
}

// Captures what this process writes to stderr while it lives.
class CapturedStderr {
 public:
  CapturedStderr() : file_(std::tmpfile()), saved_(::dup(STDERR_FILENO)) {
    std::fflush(stderr);
    ::dup2(::fileno(file_), STDERR_FILENO);
  }
  ~CapturedStderr() {
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    std::fclose(file_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  [[nodiscard]] std::string text() const {
    std::fflush(stderr);
    std::string out;
    std::rewind(file_);
    for (int c = std::fgetc(file_); c != EOF; c = std::fgetc(file_)) {
      out.push_back(static_cast<char>(c));
    }
    return out;
  }

 private:
  std::FILE* file_;
  int saved_;
};

TEST(LogDeferTest, InfoLinesWaitForTheFlushWarningsGoOutAtOnceInOrder) {
  setLogConfig({LogLevel::kInfo, LogFormat::kText});
  const CapturedStderr captured;
  std::thread worker([&] {
    logDeferWrites(true);
    TP_LOG(kInfo, "first ", 1);
    TP_LOG(kInfo, "second ", 2);
    EXPECT_EQ(captured.text(), "") << "info lines wait for the end of the iteration";
    TP_LOG(kWarn, "third ", 3);
    const std::string after_warning = captured.text();
    EXPECT_NE(after_warning.find("info first 1\n"), std::string::npos) << after_warning;
    EXPECT_LT(after_warning.find("first 1"), after_warning.find("second 2"));
    EXPECT_LT(after_warning.find("second 2"), after_warning.find("warn third 3"));
    TP_LOG(kInfo, "fourth ", 4);
    logFlush();
    EXPECT_NE(captured.text().find("info fourth 4\n"), std::string::npos);
    TP_LOG(kInfo, "fifth");
    logDeferWrites(false);  // the thread's end writes what is left
  });
  worker.join();
  const std::string all = captured.text();
  EXPECT_NE(all.find("info fifth\n"), std::string::npos) << all;
  // A line is "YYYY-MM-DDTHH:MM:SS.mmmZ level message".
  const std::string first_line = all.substr(0, all.find('\n'));
  EXPECT_EQ(first_line.size(), std::string("2026-01-02T03:04:05.678Z info first 1").size())
      << first_line;
  EXPECT_EQ(first_line[10], 'T');
  EXPECT_EQ(first_line[19], '.');
  EXPECT_EQ(first_line[23], 'Z');
}

TEST(LogDeferTest, OtherThreadsWriteAtOnce) {
  setLogConfig({LogLevel::kInfo, LogFormat::kJson});
  const CapturedStderr captured;
  TP_LOG(kInfo, "now \"quoted\"");
  const std::string text = captured.text();
  EXPECT_NE(text.find(R"("level":"info","msg":"now \"quoted\""})"), std::string::npos) << text;
  setLogConfig({LogLevel::kInfo, LogFormat::kText});
}

}  // namespace
}  // namespace turnpike::server

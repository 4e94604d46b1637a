// `turnpike credentials`: output format, options, and every error path (exit code 2).
#include "server/credentials_command.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "auth/rest_credentials.hpp"

namespace turnpike::server {
namespace {

constexpr std::int64_t kNow = 1700000000;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result run(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  Result result;
  result.code = runCredentialsCommand(args, out, err, kNow);
  result.out = out.str();
  result.err = err.str();
  return result;
}

// A config file in the temp directory, removed when the test ends.
class TempConfig {
 public:
  explicit TempConfig(const std::string& yaml)
      : path_(std::filesystem::temp_directory_path() /
              ("turnpike_credentials_test_" + std::to_string(getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml")) {
    std::ofstream(path_) << yaml;
  }
  ~TempConfig() { std::filesystem::remove(path_); }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;
  [[nodiscard]] std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(CredentialsCommandTest, PrintsExactlyUsernameAndPassword) {
  const Result r = run({"--secret", "s3cret", "--user", "alice", "--ttl", "600"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "");
  // printf '%s' '1700000600:alice' | openssl dgst -sha1 -hmac 's3cret' -binary | base64
  EXPECT_EQ(r.out, "username=1700000600:alice\npassword=" +
                       auth::restPassword("s3cret", "1700000600:alice") + "\n");
}

TEST(CredentialsCommandTest, IndependentVector) {
  // ttl 86400 from 1699913600 gives 1700000000:alice; the password was computed with
  //   printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac 's3cret' -binary | base64
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(runCredentialsCommand({"--secret", "s3cret", "--user", "alice"}, out, err, 1699913600),
            0);
  EXPECT_EQ(out.str(), "username=1700000000:alice\npassword=TtElzSjT0GdnTQ9xdcRNxx96yQs=\n");
}

TEST(CredentialsCommandTest, DefaultsTtlTo86400AndAllowsNoUser) {
  const Result r = run({"--secret", "s3cret"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "username=1700086400\npassword=" + auth::restPassword("s3cret", "1700086400") + "\n");
}

TEST(CredentialsCommandTest, EqualsFormAndAnyOrder) {
  const Result r = run({"--ttl=1", "--user=bob", "--secret=s3cret"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "username=1700000001:bob\npassword=" +
                       auth::restPassword("s3cret", "1700000001:bob") + "\n");
}

TEST(CredentialsCommandTest, TtlBounds) {
  EXPECT_EQ(run({"--secret", "s", "--ttl", "1"}).code, 0);
  EXPECT_EQ(run({"--secret", "s", "--ttl", "31536000"}).code, 0);
  for (const char* bad :
       {"0", "31536001", "-5", "+5", "abc", "10s", "", " 5", "1e3", "99999999999999999999999"}) {
    SCOPED_TRACE(bad);
    const Result r = run({"--secret", "s", "--ttl", bad});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("--ttl"), std::string::npos) << r.err;
  }
}

TEST(CredentialsCommandTest, UsesTheFirstSecretOfAConfigFile) {
  const TempConfig config("auth:\n  secrets: [first-secret, second-secret]\n");
  const Result r = run({"--config", config.path(), "--user", "carol", "--ttl", "60"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "username=1700000060:carol\npassword=" +
                       auth::restPassword("first-secret", "1700000060:carol") + "\n");
}

TEST(CredentialsCommandTest, ConfigWithoutSecrets) {
  const TempConfig config("auth:\n  users: {alice: wonderland}\n");
  const Result r = run({"--config", config.path()});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("auth.secrets"), std::string::npos) << r.err;
}

TEST(CredentialsCommandTest, BadOrMissingConfigFile) {
  const TempConfig config("auth: [not, a, map]\n");
  const Result bad = run({"--config", config.path()});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find(config.path()), std::string::npos) << bad.err;
  const Result missing = run({"--config", "/nonexistent/turnpike.yaml"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find("/nonexistent/turnpike.yaml"), std::string::npos) << missing.err;
}

TEST(CredentialsCommandTest, UsageErrors) {
  const std::vector<std::vector<std::string>> cases{
      {},                                                  // no secret
      {"--user", "alice"},                                 // no secret
      {"--secret"},                                        // missing value
      {"--secret", "s", "--ttl"},                          // missing value
      {"--secret", ""},                                    // empty secret
      {"--secret", "s", "--config", "x.yaml"},             // both
      {"--secret", "s", "--secret", "t"},                  // repeated
      {"--secret", "s", "--frobnicate"},                   // unknown option
      {"--secret", "s", "alice"},                          // stray word
      {"--secret", "s", "--user", std::string(600, 'u')},  // username over 512 bytes
  };
  for (const auto& args : cases) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const Result r = run(args);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(CredentialsCommandTest, Help) {
  const Result r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: turnpike credentials"), std::string::npos);
  EXPECT_EQ(r.err, "");
}

TEST(CredentialsCommandTest, WallClockOverload) {
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(runCredentialsCommand({"--secret", "s3cret", "--user", "u", "--ttl", "100"}, out, err),
            0);
  const std::string text = out.str();
  const auto username_end = text.find('\n');
  ASSERT_NE(username_end, std::string::npos);
  const std::string username = text.substr(9, username_end - 9);
  const auto expiry = auth::parseRestUsername(username);
  ASSERT_TRUE(expiry);
  EXPECT_EQ(expiry->user, "u");
  EXPECT_GT(expiry->expiry, kNow);  // after November 2023
  EXPECT_EQ(text,
            "username=" + username + "\npassword=" + auth::restPassword("s3cret", username) + "\n");
}

}  // namespace
}  // namespace turnpike::server

// `turnpike credentials`: mints a TURN REST API credential (auth/rest_credentials.hpp) on the
// command line, e.g. for testing or for a backend without its own HMAC code.
//
//   turnpike credentials (--secret S | --config FILE) [--user NAME] [--ttl SECONDS]
//
// --config takes the first auth.secrets entry of a turnpike config file. --ttl defaults to
// 86400 and must be 1..31536000. Options also accept the --name=value form.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace turnpike::server {

// `args` are the words after "credentials". On success prints exactly two lines,
// "username=<expiry>:<user>" and "password=<base64>", to `out` and returns 0; --help prints
// the usage to `out` and returns 0; any error prints a message to `err` and returns 2.
// Uses the wall clock (std::chrono::system_clock).
[[nodiscard]] int runCredentialsCommand(const std::vector<std::string>& args, std::ostream& out,
                                        std::ostream& err);

// The same with the current unix time passed in (for tests).
[[nodiscard]] int runCredentialsCommand(const std::vector<std::string>& args, std::ostream& out,
                                        std::ostream& err, std::int64_t now_unix);

}  // namespace turnpike::server

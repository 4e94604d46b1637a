// `turnpike migrate-coturn FILE`: reads a coturn turnserver.conf, prints the equivalent turnpike
// YAML on stdout and one line per option it does not carry over on stderr
// ("FILE:LINE: warning: OPTION: why"). The conversion itself is migrate_coturn.hpp.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace turnpike::server {

// `args` are the words after "migrate-coturn". Returns 0 when a config was printed (even with
// warnings), 1 when the file cannot be read, 2 on a usage error. --help prints the usage to
// `out` and returns 0.
[[nodiscard]] int runMigrateCoturnCommand(const std::vector<std::string>& args, std::ostream& out,
                                          std::ostream& err);

}  // namespace turnpike::server

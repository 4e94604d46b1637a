// `turnpike selftest`: checks a running TURN server from any machine over the real protocols.
//
//   turnpike selftest --server HOST[:PORT] (--secret S | --user U --password P)
//                     [--tls-port N] [--ca FILE | --insecure] [--tls-name NAME]
//                     [--transports udp,tcp,tls] [--timeout SECONDS] [--json]
//
// On each transport: connect (TCP/TLS), Binding, Allocate, the relayed address (private while
// the server is public?), CreatePermission and ChannelBind for a peer socket this tool owns, an
// echo client -> relay -> peer -> relay -> client, and a Refresh with LIFETIME 0.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace turnpike::server {

// `args` are the words after "selftest". Progress lines go to `out` as the steps run (to `err`
// with --json, whose report is the only thing on `out`), then the summary. Returns 0 when every
// step passed (warnings allowed), 1 when one failed, 2 on a usage error.
[[nodiscard]] int runSelftestCommand(const std::vector<std::string>& args, std::ostream& out,
                                     std::ostream& err);

}  // namespace turnpike::server

// sd_notify(3) without libsystemd: one datagram to the unix socket named by $NOTIFY_SOCKET
// (Type=notify units). Without the variable it does nothing.
#pragma once

#include <string_view>

namespace turnpike::server {

// Sends `state` (e.g. "READY=1", "STOPPING=1"). Returns false only when $NOTIFY_SOCKET is set
// but the message could not be sent.
bool notifySystemd(std::string_view state);

// "RELOADING=1\nMONOTONIC_USEC=<now>": what systemd 253+ expects for Type=notify-reload, and
// harmless for older ones.
bool notifySystemdReloading();

}  // namespace turnpike::server

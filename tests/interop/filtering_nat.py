#!/usr/bin/env python3
"""A UDP NAT with a chosen filtering behaviour (RFC 4787 section 5), on the loopback, for the
RFC 5780 interop test: it shows which socket of the STUN server each answer really left from.

    filtering_nat.py LISTEN_PORT SERVER_HOST SERVER_PORT MODE SECONDS

A client sends to 127.0.0.1:LISTEN_PORT; each client address gets its own outside socket on
127.0.0.1, which sends to SERVER_HOST:SERVER_PORT (the only endpoint clients reach through it).
Datagrams arriving on an outside socket go back to its client when MODE allows their source:
  endpoint  any source (endpoint-independent filtering)
  address   the server's address, any port (address-dependent filtering)
  port      the server's address and port only (address and port-dependent filtering)
Prints "pass HOST:PORT" or "drop HOST:PORT" for each, flushed. Exits after SECONDS.
"""
import select
import socket
import sys
import time


def main() -> int:
    listen_port, server_host, server_port, mode, seconds = sys.argv[1:6]
    server = (server_host, int(server_port))
    if mode not in ("endpoint", "address", "port"):
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inside.bind(("127.0.0.1", int(listen_port)))
    outside = {}  # client address -> outside socket
    client_of = {}  # outside socket -> client address
    deadline = time.monotonic() + float(seconds)
    print("ready", flush=True)
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([inside, *client_of], [], [], min(left, 0.5))
        for sock in readable:
            data, source = sock.recvfrom(65535)
            if sock is inside:
                if source not in outside:
                    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    out.bind(("127.0.0.1", 0))
                    outside[source] = out
                    client_of[out] = source
                outside[source].sendto(data, server)
                continue
            allowed = (mode == "endpoint" or (mode == "address" and source[0] == server[0])
                       or source == server)
            print(f"{'pass' if allowed else 'drop'} {source[0]}:{source[1]}", flush=True)
            if allowed:
                inside.sendto(data, client_of[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())

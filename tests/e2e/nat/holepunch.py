"""One side of a direct UDP hole punch between two NATed clients (no relay).

  holepunch.py --name A --other B --dir DIR --server IP [--port P] [--seconds S] [--need N]

1. From one UDP socket, a STUN Binding request to the server (turnpike) gives this socket's
   public (mapped) address; it is published in DIR, and the other's is awaited (bounded).
2. For up to S seconds, a numbered datagram goes from the same socket to the other's mapped
   address every 50 ms, and whatever arrives is counted (only datagrams the other sent, by
   their content). Once N arrived this side publishes "punched"; both stop early when both
   have.
Prints "result name=A local=IP:PORT mapped=IP:PORT peer_mapped=IP:PORT sent=S received=R
from=IP:PORT|- seconds=T" and exits 0 when at least one datagram from the other arrived, 3 when
none did, 1 on any other failure (e.g. no Binding response).
"""

import argparse
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))

# pylint: disable=wrong-import-position
from turn_client import Rendezvous, TurnError, address_text, binding  # noqa: E402

INTERVAL = 0.05  # seconds between datagrams


def local_ip(server):
    """The source address the kernel picks towards server (a connected UDP socket, no traffic)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(server)
        return probe.getsockname()[0]
    finally:
        probe.close()


def punch(args):
    server = (args.server, args.port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    local = (local_ip(server), sock.getsockname()[1])
    mapped = binding(sock, server)
    rendezvous = Rendezvous(args.dir, args.name, args.other, timeout=10.0)
    rendezvous.publish("mapped", {"mapped": mapped})
    peer = tuple(rendezvous.wait("mapped")["mapped"])

    prefix = f"punch {args.other}->{args.name} ".encode()
    sent, received, source = 0, 0, None
    start = time.monotonic()
    deadline = start + args.seconds
    next_send = start
    while time.monotonic() < deadline:
        if received >= args.need and rendezvous.has("punched"):
            break
        if time.monotonic() >= next_send:
            sock.sendto(f"punch {args.name}->{args.other} {sent}".encode(), peer)
            sent += 1
            next_send += INTERVAL
        sock.settimeout(max(0.001, next_send - time.monotonic()))
        try:
            data, origin = sock.recvfrom(2048)
        except socket.timeout:
            continue
        if data.startswith(prefix):
            received += 1
            source = origin
            if received == args.need:
                rendezvous.publish("punched", {})
    print(f"result name={args.name} local={address_text(local)} mapped={address_text(mapped)} "
          f"peer_mapped={address_text(peer)} sent={sent} received={received} "
          f"from={address_text(source) if source else '-'} "
          f"seconds={time.monotonic() - start:.1f}")
    return 0 if received > 0 else 3


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--other", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, default=3478)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--need", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        return punch(args)
    except (TurnError, OSError) as error:
        print(f"FAIL: {args.name}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

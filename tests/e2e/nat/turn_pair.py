"""One of two TURN clients that reach each other only through their turnpike relays.

  turn_pair.py --name A --other B --dir DIR --transport udp|tcp|tls --server IP [--port P]
               [--ca FILE] --user U (--password P | --secret S) [--count N] [--deadline S]
               [--timeout S] [--probe]

Both clients run at once (e.g. in two network namespaces), with the same DIR:
  1. Allocate (answering the 401 challenge; MESSAGE-INTEGRITY of the success response checked)
     and publish the relayed address and XOR-MAPPED-ADDRESS (the client's address as turnpike
     saw it) in DIR.
  2. Wait (bounded) for the other's addresses; CreatePermission and ChannelBind (0x4000) for
     the other's RELAYED address; publish "ready" and wait for the other's.
  3. Send COUNT numbered payloads (sizes 40..1000, content derived from sender and number) as
     ChannelData, in rounds every 0.5 s until the other publishes that it has all of them; every
     payload received must be one the other side sent, byte for byte. Publish "done" once all
     COUNT of the other's payloads arrived; stop when both are done or at the deadline.
  4. Refresh with lifetime 0 (turnpike logs the allocation's accounting line).
Prints one line: "result name=A transport=udp connect_ms=.. allocate_ms=.. local=IP:PORT
mapped=IP:PORT relayed=IP:PORT peer_relayed=IP:PORT exchange_ms=.. rounds=R sent=S
received=K/COUNT duplicates=D via_indication=I other_done=yes|no", also after a failure (then
with the fields known by then, after a "FAIL: ..." line). Exits 0 when both directions are
complete, 1 otherwise.

--probe: only Allocate, with --timeout seconds per try (3 tries over UDP); prints
"result name=A transport=udp allocate=ok|timeout seconds=.." and exits 0 (allocated), 2 (no
response: timed out) or 1 (any other failure).
"""

import argparse
import hashlib
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))

# pylint: disable=wrong-import-position
from turn_client import (Client, Connection, Rendezvous, TurnError, TurnTimeout,  # noqa: E402
                         address_text, rest_credentials)

CHANNEL = 0x4000
ROUND_INTERVAL = 0.5  # seconds between resends of the payloads the other has not confirmed


def payload(sender, receiver, number):
    """The NUMBER-th payload from SENDER to RECEIVER: a readable head, then filler."""
    head = f"{sender}->{receiver} #{number:05d} ".encode()
    size = 40 + (number * 97) % 961
    filler = hashlib.sha256(head).digest() * (size // 32 + 1)
    return (head + filler)[:size]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--other", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--transport", choices=["udp", "tcp", "tls"], required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, default=3478)
    parser.add_argument("--ca")
    parser.add_argument("--user", required=True)
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password")
    secret.add_argument("--secret")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--deadline", type=float, default=15.0, help="seconds for steps 2 and 3")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per transaction try")
    parser.add_argument("--probe", action="store_true")
    return parser.parse_args(argv)


def milliseconds(start):
    return f"{(time.monotonic() - start) * 1000:.1f}"


def probe(args, user, password):
    start = time.monotonic()
    try:
        client = Client(Connection(args.transport, args.server, args.port, args.ca, args.timeout),
                        user, password)
        client.allocate_addresses()
    except TurnTimeout:
        print(f"result name={args.name} transport={args.transport} allocate=timeout "
              f"seconds={time.monotonic() - start:.1f}")
        return 2
    print(f"result name={args.name} transport={args.transport} allocate=ok "
          f"seconds={time.monotonic() - start:.1f}")
    client.refresh(0)
    return 0


def exchange(client, args, rendezvous, peer_relayed):
    """Step 3; returns (rounds, sent, received numbers, duplicates, via indication)."""
    outgoing = [payload(args.name, args.other, n) for n in range(args.count)]
    expected = {payload(args.other, args.name, n): n for n in range(args.count)}
    received, duplicates, via_indication, rounds, sent = set(), 0, 0, 0, 0
    deadline = time.monotonic() + args.deadline
    next_round = time.monotonic()
    done_published = False
    while time.monotonic() < deadline:
        other_done = rendezvous.has("done")
        if other_done and done_published:
            break
        if not other_done and time.monotonic() >= next_round:
            client.conn.sock.settimeout(args.timeout)
            for data in outgoing:
                client.send_channel_data(CHANNEL, data)
            rounds, sent = rounds + 1, sent + len(outgoing)
            next_round = time.monotonic() + ROUND_INTERVAL
        client.conn.sock.settimeout(0.01)
        try:
            frame = client.receive_data()
        except socket.timeout:
            continue
        if frame is None:
            continue
        kind, source, data = frame
        if kind == "channel" and source != CHANNEL:
            raise TurnError(f"ChannelData on channel 0x{source:04x}, expected 0x{CHANNEL:04x}")
        if kind == "indication":
            if tuple(source) != tuple(peer_relayed):
                raise TurnError(f"Data indication from {address_text(source)}, expected the "
                                f"other's relayed address {address_text(peer_relayed)}")
            via_indication += 1
        number = expected.get(data)
        if number is None:
            raise TurnError(f"unexpected payload of {len(data)} bytes: {data[:24]!r}...")
        if number in received:
            duplicates += 1
        received.add(number)
        if len(received) == args.count and not done_published:
            rendezvous.publish("done", {"received": len(received)})
            done_published = True
    return rounds, sent, received, duplicates, via_indication


def run(args, user, password, facts):
    """Steps 1 to 4; fills facts (printed as the result line, also on failure)."""
    start = time.monotonic()
    connection = Connection(args.transport, args.server, args.port, args.ca, args.timeout)
    facts["connect_ms"] = milliseconds(start)
    client = Client(connection, user, password)
    start = time.monotonic()
    relayed, mapped = client.allocate_addresses()
    facts["allocate_ms"] = milliseconds(start)
    facts.update(local=address_text(connection.local_address()), mapped=address_text(mapped),
                 relayed=address_text(relayed))
    rendezvous = Rendezvous(args.dir, args.name, args.other, args.deadline)
    rendezvous.publish("addresses", {"relayed": relayed, "mapped": mapped})

    peer_relayed = tuple(rendezvous.wait("addresses")["relayed"])
    facts["peer_relayed"] = address_text(peer_relayed)
    client.create_permission(*peer_relayed)
    client.channel_bind(CHANNEL, *peer_relayed)
    rendezvous.publish("ready", {})
    rendezvous.wait("ready")

    start = time.monotonic()
    rounds, sent, received, duplicates, via_indication = exchange(client, args, rendezvous,
                                                                  peer_relayed)
    facts.update(exchange_ms=milliseconds(start), rounds=rounds, sent=sent,
                 received=f"{len(received)}/{args.count}", duplicates=duplicates,
                 via_indication=via_indication,
                 other_done="yes" if rendezvous.has("done") else "no")
    client.conn.sock.settimeout(args.timeout)
    client.refresh(0)
    if len(received) != args.count or not rendezvous.has("done"):
        missing = sorted(set(range(args.count)) - received)
        raise TurnError(f"{len(missing)} of the other's payloads missing (first {missing[:5]}), "
                        f"or the other did not get all of ours within {args.deadline} s")


def main(argv):
    args = parse_args(argv)
    user, password = args.user, args.password
    if args.secret is not None:
        user, password = rest_credentials(args.user, args.secret)
    if args.probe:
        try:
            return probe(args, user, password)
        except (TurnError, OSError) as error:
            print(f"FAIL: {args.name} ({args.transport}): {error}", file=sys.stderr)
            return 1
    facts = {"name": args.name, "transport": args.transport}
    status = 0
    try:
        run(args, user, password, facts)
    except (TurnError, OSError) as error:
        print(f"FAIL: {args.name} ({args.transport}): {error}", flush=True)
        status = 1
    print("result " + " ".join(f"{key}={value}" for key, value in facts.items()))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

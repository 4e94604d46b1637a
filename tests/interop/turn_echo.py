"""A minimal TURN client (stdlib only) that checks byte-identical echoes through turnpike.

  turn_echo.py TRANSPORT HOST PORT PEER_PORT MODE USER PASSWORD|--secret=SECRET [--ca FILE]

TRANSPORT udp|tcp|tls. MODE channel|send: payloads of many sizes (random bytes, including
lengths that need padding) go out as ChannelData or Send indications to the echo peer
127.0.0.1:PEER_PORT; every echo must come back byte-identical, in order. MODE unauthorized
(PEER_PORT unused): an Allocate with these credentials must be answered 401. --secret=SECRET
makes TURN REST credentials for USER; --ca FILE verifies the TLS server's certificate.
Exits 0 on pass, 1 with a message. The STUN/TURN client is tests/support/turn_client.py.
"""

import os
import socket
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

# pylint: disable=wrong-import-position
from turn_client import (A_CHANNEL_NUMBER, A_DATA, A_LIFETIME, A_XOR_PEER_ADDRESS,  # noqa: E402
                         A_XOR_RELAYED_ADDRESS, CHANNEL_BIND, CREATE_PERMISSION, DATA_INDICATION,
                         REFRESH, SEND_INDICATION, TIMEOUT, Client, Connection, TurnError, attr,
                         channel_data, error_code, message, parse_attrs, rest_credentials,
                         xor_address)

CHANNEL = 0x4000
SIZES = [1, 2, 3, 4, 5, 7, 8, 13, 64, 99, 100, 255, 256, 511, 1000, 1199, 1200]


def die(message_text):
    print("FAIL: " + message_text, file=sys.stderr)
    sys.exit(1)


def echo_check(client, mode, peer_port):
    peer = xor_address("127.0.0.1", peer_port)
    kind, attributes = client.allocate()
    if kind != 0x0103 or A_XOR_RELAYED_ADDRESS not in attributes:
        die(f"Allocate failed: type 0x{kind:04x}")
    client.expect_success(CREATE_PERMISSION, [attr(A_XOR_PEER_ADDRESS, peer)])
    if mode == "channel":
        client.expect_success(CHANNEL_BIND, [attr(A_CHANNEL_NUMBER, struct.pack("!HH", CHANNEL, 0)),
                                             attr(A_XOR_PEER_ADDRESS, peer)])
    total = 0
    for size in SIZES:
        payload = os.urandom(size)
        if mode == "channel":
            data = channel_data(CHANNEL, payload, client.conn.stream)
        else:
            data = message(SEND_INDICATION, [attr(A_XOR_PEER_ADDRESS, peer), attr(A_DATA, payload)])[1]
        client.conn.send(data)
        try:
            reply = client.conn.receive()
        except socket.timeout:
            die(f"{mode}: no echo of a {size}-byte payload within {TIMEOUT} s")
        if mode == "channel":
            channel, length = struct.unpack_from("!HH", reply)
            got = reply[4:4 + length]
            if channel != CHANNEL:
                die(f"expected ChannelData on 0x{CHANNEL:04x}, got 0x{channel:04x}")
        else:
            if struct.unpack_from("!H", reply)[0] != DATA_INDICATION:
                die(f"expected a Data indication, got type 0x{reply[0]:02x}{reply[1]:02x}")
            attributes = parse_attrs(reply)
            if attributes.get(A_XOR_PEER_ADDRESS, (0, b""))[1] != peer:
                die("Data indication without the peer's XOR-PEER-ADDRESS")
            got = attributes.get(A_DATA, (0, None))[1]
        if got != payload:
            die(f"{mode}: the echo of a {size}-byte payload differs: sent {payload.hex()}, "
                f"got {got.hex() if got is not None else 'no DATA'}")
        total += size
    client.expect_success(REFRESH, [attr(A_LIFETIME, b"\0\0\0\0")])
    print(f"ok: {client.conn.transport} {mode}: {len(SIZES)} payloads ({total} bytes, sizes "
          f"{SIZES[0]}..{SIZES[-1]}) echoed byte-identical")


def main(argv):
    ca = None
    if "--ca" in argv:
        i = argv.index("--ca")
        ca, argv = argv[i + 1], argv[:i] + argv[i + 2:]
    if len(argv) != 8:
        die(__doc__)
    transport, host, port, peer_port, mode, user, password = argv[1:8]
    if password.startswith("--secret="):  # TURN REST API credentials
        user, password = rest_credentials(user, password[len("--secret="):])
    client = Client(Connection(transport, host, int(port), ca), user, password)
    if mode == "unauthorized":
        kind, attributes = client.allocate()
        if kind != 0x0113 or error_code(attributes) != 401:
            die(f"expected a 401 error response, got type 0x{kind:04x}")
        print(f"ok: {transport} Allocate with bad credentials for {user}: 401")
    else:
        echo_check(client, mode, int(peer_port))


if __name__ == "__main__":
    try:
        main(sys.argv)
    except TurnError as error:
        die(str(error))

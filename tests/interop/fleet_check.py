"""Helpers for fleet_test.sh (Python standard library only, on tests/support/turn_client.py).

  fleet_check.py mint HTTP_PORT API_KEY USER      POST /api/v1/credentials on 127.0.0.1;
                                                  prints "USERNAME PASSWORD"
  fleet_check.py metric HTTP_PORT NAME [LABEL]    the sum of NAME's samples in /metrics (only
                                                  those whose labels contain LABEL, e.g.
                                                  reason="load")
  fleet_check.py hold PORT USER PASSWORD SECONDS  a UDP allocation that must succeed, held for
                                                  SECONDS (prints "held" once it is up)
  fleet_check.py redirect PORT USER PASSWORD ALT_PORT...
                                                  an authenticated Allocate that must get 300
                                                  Try Alternate, MESSAGE-INTEGRITY valid,
                                                  ALTERNATE-SERVER 127.0.0.1 on one of ALT_PORT
  fleet_check.py nonce FROM_PORT TO_PORT USER PASSWORD
                                                  the NONCE of FROM's 401 challenge, used in an
                                                  authenticated Allocate to TO, must give an
                                                  allocation (then deleted with Refresh 0)

Every node is on 127.0.0.1 over UDP. Exits 0 on pass, 1 with a message.
"""

import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

# pylint: disable=wrong-import-position
from turn_client import (A_NONCE, A_REALM, A_REQUESTED_TRANSPORT, ALLOCATE,  # noqa: E402
                         Client, Connection, TurnError, attr, error_code, parse_attrs)

HOST = "127.0.0.1"
A_ALTERNATE_SERVER = 0x8023
HTTP_TIMEOUT = 5


def die(text):
    print("FAIL: " + text, file=sys.stderr)
    sys.exit(1)


def http(port, path, body=None, key=None):
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", data=body)
    if key:
        request.add_header("Authorization", "Bearer " + key)
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
        return response.read().decode()


def mint(port, key, user):
    answer = json.loads(http(port, "/api/v1/credentials", json.dumps({"user": user}).encode(), key))
    print(answer["username"], answer["password"])


def metric(port, name, label=""):
    total = 0.0
    for line in http(port, "/metrics").splitlines():
        if line.startswith(name) and line[len(name)] in " {" and label in line:
            total += float(line.rsplit(" ", 1)[1])
    print(int(total) if total.is_integer() else total)


def challenge(client):
    """An unauthenticated Allocate: sets the client's realm, nonce and key from the 401."""
    reply = client.transact(ALLOCATE, [attr(A_REQUESTED_TRANSPORT, b"\x11\0\0\0")], signed=False)
    attributes = parse_attrs(reply)
    if error_code(attributes) != 401 or A_REALM not in attributes or A_NONCE not in attributes:
        raise TurnError(f"the first Allocate got {error_code(attributes)}, not a 401 challenge")
    client.realm, client.nonce = attributes[A_REALM][1], attributes[A_NONCE][1]
    client.key = hashlib.md5(client.user + b":" + client.realm + b":" + client.password).digest()


def hold(port, user, password, seconds):
    client = Client(Connection("udp", HOST, port), user, password)
    kind, attributes = client.allocate()
    if kind != ALLOCATE | 0x0100:
        die(f"hold: Allocate on {port} failed: error {error_code(attributes)}")
    print("held", flush=True)
    time.sleep(seconds)
    client.refresh(0)


def redirect(port, user, password, alternates):
    client = Client(Connection("udp", HOST, port), user, password)
    challenge(client)
    reply = client.transact(ALLOCATE, [attr(A_REQUESTED_TRANSPORT, b"\x11\0\0\0")])
    attributes = parse_attrs(reply)
    if error_code(attributes) != 300:
        die(f"redirect: Allocate on {port} got {error_code(attributes) or 'success'}, not 300")
    client.check_integrity(reply, attributes, ALLOCATE)
    value = attributes.get(A_ALTERNATE_SERVER, (0, b""))[1]
    if len(value) != 8 or value[1] != 1:
        die(f"redirect: no IPv4 ALTERNATE-SERVER in the 300: {value.hex()}")
    alt_port, = struct.unpack_from("!H", value, 2)
    alt_host = socket.inet_ntoa(value[4:8])
    if alt_host != HOST or alt_port not in alternates:
        die(f"redirect: ALTERNATE-SERVER {alt_host}:{alt_port}, expected {HOST} on {alternates}")
    print(f"300 Try Alternate {alt_host}:{alt_port}")


def nonce(from_port, to_port, user, password):
    first = Client(Connection("udp", HOST, from_port), user, password)
    challenge(first)
    other = Client(Connection("udp", HOST, to_port), user, password)
    other.realm, other.nonce, other.key = first.realm, first.nonce, first.key
    reply = other.transact(ALLOCATE, [attr(A_REQUESTED_TRANSPORT, b"\x11\0\0\0")])
    attributes = parse_attrs(reply)
    if struct.unpack_from("!H", reply)[0] != ALLOCATE | 0x0100:
        die(f"nonce: {from_port}'s nonce on {to_port}: error {error_code(attributes)}")
    other.check_integrity(reply, attributes, ALLOCATE)
    other.refresh(0)
    print(f"{from_port}'s nonce accepted by {to_port}")


def main(argv):
    try:
        command, args = argv[1], argv[2:]
        if command == "mint":
            mint(int(args[0]), args[1], args[2])
        elif command == "metric":
            metric(int(args[0]), args[1], args[2] if len(args) > 2 else "")
        elif command == "hold":
            hold(int(args[0]), args[1], args[2], float(args[3]))
        elif command == "redirect":
            redirect(int(args[0]), args[1], args[2], [int(p) for p in args[3:]])
        elif command == "nonce":
            nonce(int(args[0]), int(args[1]), args[2], args[3])
        else:
            die("unknown command " + command)
    except (TurnError, OSError, ValueError, IndexError, KeyError) as error:
        die(f"{' '.join(argv[1:2])}: {error}")


if __name__ == "__main__":
    main(sys.argv)

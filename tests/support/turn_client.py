"""A minimal STUN/TURN client (Python standard library only), shared by the shell tests.

Used by tests/interop/turn_echo.py and tests/e2e/nat/*.py (they put this directory on sys.path).

  Connection(transport, host, port, ca=None)   udp, tcp or tls (stream framing, ChannelData
                                               padding); over tls the server certificate and its
                                               IP SAN are verified against the CA file ca
  Client(connection, user, password)           long-term credentials: allocate() answers the
                                               401 challenge; expect_success() checks
                                               MESSAGE-INTEGRITY on success responses
  binding(sock, server)                        a STUN Binding request on a UDP socket; returns
                                               the XOR-MAPPED-ADDRESS
  rest_credentials(user, secret)               TURN REST API username and password
  Rendezvous(directory, name, other)           two clients swap addresses through files

Failures raise TurnError (TurnTimeout when no response came) with a one-line message.
IPv4 only.
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import time

COOKIE = 0x2112A442
BINDING, ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND = 0x001, 0x003, 0x004, 0x008, 0x009
SEND_INDICATION, DATA_INDICATION = 0x0016, 0x0017
A_USERNAME, A_MESSAGE_INTEGRITY, A_ERROR_CODE, A_CHANNEL_NUMBER = 0x0006, 0x0008, 0x0009, 0x000C
A_LIFETIME, A_XOR_PEER_ADDRESS, A_DATA, A_REALM, A_NONCE = 0x000D, 0x0012, 0x0013, 0x0014, 0x0015
A_XOR_RELAYED_ADDRESS, A_REQUESTED_TRANSPORT, A_XOR_MAPPED_ADDRESS = 0x0016, 0x0019, 0x0020
TIMEOUT = 3.0  # seconds per try of a transaction, and for a stream connect


class TurnError(Exception):
    """A failed step; str() is the message to print."""


class TurnTimeout(TurnError):
    """No response to a request (after every retransmission over UDP)."""


def attr(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def xor_address(host, port):
    """The value of an XOR-*-ADDRESS attribute for IPv4 host:port."""
    ip = struct.unpack("!I", socket.inet_aton(host))[0] ^ COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (COOKIE >> 16), ip)


def decode_xor_address(value):
    """(host, port) from the value of an IPv4 XOR-*-ADDRESS attribute."""
    if len(value) != 8 or value[1] != 1:
        raise TurnError(f"not an IPv4 XOR address: {value.hex()}")
    _, _, port, ip = struct.unpack("!BBHI", value)
    return socket.inet_ntoa(struct.pack("!I", ip ^ COOKIE)), port ^ (COOKIE >> 16)


def message(msg_type, attrs, key=None):
    """(transaction id, bytes) of a STUN message; signed with MESSAGE-INTEGRITY when key."""
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is not None:  # MESSAGE-INTEGRITY over the message with its length counting MI
        head = struct.pack("!HHI", msg_type, len(body) + 24, COOKIE) + tid
        body += attr(A_MESSAGE_INTEGRITY, hmac.new(key, head + body, hashlib.sha1).digest())
    return tid, struct.pack("!HHI", msg_type, len(body), COOKIE) + tid + body


def parse_attrs(data):
    """{type: (offset, value)}, the first of each type."""
    attrs, offset = {}, 20
    while offset + 4 <= len(data):
        kind, length = struct.unpack_from("!HH", data, offset)
        attrs.setdefault(kind, (offset, data[offset + 4:offset + 4 + length]))
        offset += 4 + length + (-length % 4)
    return attrs


def error_code(attributes):
    """The ERROR-CODE number in parsed attributes, 0 if there is none."""
    error = attributes.get(A_ERROR_CODE, (0, b"\0\0\0\0"))[1]
    return error[2] * 100 + error[3]


def rest_credentials(user, secret, ttl=3600):
    """TURN REST API (shared secret) credentials: ("EXPIRY:user", base64 HMAC-SHA1)."""
    user = f"{int(time.time()) + ttl}:{user}"
    mac = hmac.new(secret.encode(), user.encode(), hashlib.sha1)
    return user, base64.b64encode(mac.digest()).decode()


def channel_data(channel, payload, stream):
    """A ChannelData message; padded to 4 bytes over a stream transport."""
    data = struct.pack("!HH", channel, len(payload)) + payload
    return data + b"\0" * (-len(payload) % 4) if stream else data


def binding(sock, server, timeout=TIMEOUT, tries=3):
    """Sends a Binding request from UDP socket sock to server (host, port); returns the
    XOR-MAPPED-ADDRESS (host, port) of the success response."""
    tid, data = message(BINDING, [])
    sock.settimeout(timeout)
    for _ in range(tries):
        sock.sendto(data, server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply, source = sock.recvfrom(65536)
            except socket.timeout:
                break
            if source != server or len(reply) < 20 or reply[8:20] != tid:
                continue
            attributes = parse_attrs(reply)
            kind = struct.unpack_from("!H", reply)[0]
            if kind != BINDING | 0x0100 or A_XOR_MAPPED_ADDRESS not in attributes:
                raise TurnError("Binding: not a success response with XOR-MAPPED-ADDRESS: "
                                + reply.hex())
            return decode_xor_address(attributes[A_XOR_MAPPED_ADDRESS][1])
    raise TurnTimeout(f"no response to Binding from {server[0]}:{server[1]}")


class Connection:
    def __init__(self, transport, host, port, ca=None, timeout=TIMEOUT):
        self.transport, self.server, self.buffer = transport, (host, port), b""
        self.timeout = timeout
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect(self.server)
        else:
            self.sock = socket.create_connection(self.server, timeout=timeout)
            if transport == "tls":
                context = ssl.create_default_context(cafile=ca)  # verifies cert and IP SAN
                self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.sock.settimeout(timeout)

    @property
    def stream(self):
        return self.transport != "udp"

    def local_address(self):
        return self.sock.getsockname()[:2]

    def send(self, data):
        self.sock.sendall(data)

    def receive(self):
        """One STUN message or ChannelData message (stream framing and padding removed).
        Raises socket.timeout when nothing came within the socket's timeout."""
        if self.transport == "udp":
            return self.sock.recv(65536)
        while True:
            if len(self.buffer) >= 4:
                first, length = struct.unpack_from("!HH", self.buffer)
                if first >> 14 == 1:  # ChannelData: padded to 4 bytes over streams
                    size, wire = 4 + length, 4 + length + (-length % 4)
                else:
                    size = wire = 20 + length
                if len(self.buffer) >= wire:
                    frame, self.buffer = self.buffer[:size], self.buffer[wire:]
                    return frame
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TurnError(f"{self.transport}: server closed the connection")
            self.buffer += chunk

    def close(self):
        self.sock.close()


class Client:
    def __init__(self, connection, user, password):
        self.conn, self.user, self.password = connection, user.encode(), password.encode()
        self.key = self.realm = self.nonce = self.last_reply = None
        self.other = []  # frames that arrived while waiting for a response

    def transact(self, method, attrs, signed=True):
        auth = []
        if signed:
            auth = [attr(A_USERNAME, self.user), attr(A_REALM, self.realm),
                    attr(A_NONCE, self.nonce)]
        tid, data = message(method, attrs + auth, self.key if signed else None)
        self.conn.sock.settimeout(self.conn.timeout)
        for _ in range(3):  # retransmits matter only over UDP
            self.conn.send(data)
            deadline = time.monotonic() + self.conn.timeout
            while time.monotonic() < deadline:
                try:
                    reply = self.conn.receive()
                except socket.timeout:
                    break
                if len(reply) >= 20 and reply[8:20] == tid:
                    return reply
                self.other.append(reply)
            if self.conn.transport != "udp":
                break
        raise TurnTimeout(f"no response to method 0x{method:03x}")

    def check_integrity(self, reply, attributes, method):
        """Raises unless reply (parsed as attributes) carries a valid MESSAGE-INTEGRITY."""
        offset, mac = attributes.get(A_MESSAGE_INTEGRITY, (0, b""))
        head = reply[:2] + struct.pack("!H", offset + 24 - 20) + reply[4:offset]
        if not mac or not hmac.compare_digest(mac, hmac.new(self.key, head, hashlib.sha1).digest()):
            raise TurnError(f"method 0x{method:03x}: success response without valid "
                            "MESSAGE-INTEGRITY")

    def expect_success(self, method, attrs):
        reply = self.transact(method, attrs)
        kind = struct.unpack_from("!H", reply)[0]
        attributes = parse_attrs(reply)
        if kind != method | 0x0100:
            raise TurnError(f"method 0x{method:03x}: type 0x{kind:04x}, "
                            f"error {error_code(attributes)}")
        self.check_integrity(reply, attributes, method)
        return attributes

    def allocate(self, protocol=17):
        """Challenge, then authenticated Allocate; returns the 2nd response's type, attrs.
        protocol: REQUESTED-TRANSPORT, UDP (17) or TCP (6, RFC 6062)."""
        transport = [attr(A_REQUESTED_TRANSPORT, bytes([protocol, 0, 0, 0]))]
        reply = self.transact(ALLOCATE, transport, signed=False)
        attributes = parse_attrs(reply)
        if A_REALM not in attributes or A_NONCE not in attributes:
            raise TurnError("the first Allocate was not challenged with REALM and NONCE")
        self.realm, self.nonce = attributes[A_REALM][1], attributes[A_NONCE][1]
        self.key = hashlib.md5(self.user + b":" + self.realm + b":" + self.password).digest()
        reply = self.transact(ALLOCATE, transport)
        self.last_reply = reply
        return struct.unpack_from("!H", reply)[0], parse_attrs(reply)

    def allocate_addresses(self, protocol=17):
        """allocate() that must succeed (MESSAGE-INTEGRITY checked); returns the relayed and
        the mapped address, each (host, port)."""
        kind, attributes = self.allocate(protocol)
        if kind != ALLOCATE | 0x0100:
            raise TurnError(f"Allocate failed: type 0x{kind:04x}, error {error_code(attributes)}")
        self.check_integrity(self.last_reply, attributes, ALLOCATE)
        for needed in (A_XOR_RELAYED_ADDRESS, A_XOR_MAPPED_ADDRESS):
            if needed not in attributes:
                raise TurnError(f"Allocate success response without attribute 0x{needed:04x}")
        return (decode_xor_address(attributes[A_XOR_RELAYED_ADDRESS][1]),
                decode_xor_address(attributes[A_XOR_MAPPED_ADDRESS][1]))

    def create_permission(self, host, port):
        return self.expect_success(CREATE_PERMISSION,
                                   [attr(A_XOR_PEER_ADDRESS, xor_address(host, port))])

    def channel_bind(self, channel, host, port):
        return self.expect_success(CHANNEL_BIND,
                                   [attr(A_CHANNEL_NUMBER, struct.pack("!HH", channel, 0)),
                                    attr(A_XOR_PEER_ADDRESS, xor_address(host, port))])

    def refresh(self, lifetime):
        return self.expect_success(REFRESH, [attr(A_LIFETIME, struct.pack("!I", lifetime))])

    def send_channel_data(self, channel, payload):
        self.conn.send(channel_data(channel, payload, self.conn.stream))

    def receive_data(self):
        """The next ChannelData or Data indication: ("channel", CHANNEL, payload) or
        ("indication", (host, port), payload); None for anything else. Raises socket.timeout."""
        frame = self.other.pop(0) if self.other else self.conn.receive()
        if len(frame) >= 4 and frame[0] >> 6 == 1:
            channel, length = struct.unpack_from("!HH", frame)
            return "channel", channel, frame[4:4 + length]
        if len(frame) >= 20 and struct.unpack_from("!H", frame)[0] == DATA_INDICATION:
            attributes = parse_attrs(frame)
            if A_XOR_PEER_ADDRESS in attributes and A_DATA in attributes:
                return ("indication", decode_xor_address(attributes[A_XOR_PEER_ADDRESS][1]),
                        attributes[A_DATA][1])
        return None


class Rendezvous:
    """Two test clients, NAME and OTHER, swap small JSON records through files in a shared
    directory: publish(key, record) writes NAME.key atomically, wait(key) polls (bounded) for
    OTHER.key, has(key) tells whether OTHER.key exists yet."""

    def __init__(self, directory, name, other, timeout=10.0):
        self.directory, self.name, self.other, self.timeout = directory, name, other, timeout

    def _path(self, who, key):
        return os.path.join(self.directory, f"{who}.{key}")

    def publish(self, key, record):
        path = self._path(self.name, key)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(path + ".tmp", path)

    def has(self, key):
        return os.path.exists(self._path(self.other, key))

    def wait(self, key):
        deadline = time.monotonic() + self.timeout
        while not self.has(key):
            if time.monotonic() > deadline:
                raise TurnTimeout(f"{self.other} did not publish {key!r} within {self.timeout} s")
            time.sleep(0.01)
        with open(self._path(self.other, key), encoding="utf-8") as record:
            return json.load(record)


def address_text(address):
    """"host:port" of (host, port)."""
    return f"{address[0]}:{address[1]}"

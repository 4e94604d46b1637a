"""RFC 6062 through turnpike to a TCP echo peer (stdlib only), byte for byte.

  tcp_relay_echo.py HOST PORT USER PASSWORD [tls CA_FILE]

Starts a TCP echo server on 127.0.0.1 (a thread), allocates with REQUESTED-TRANSPORT TCP over a
TCP control connection, sends Connect to the echo server, binds a second TCP connection with
ConnectionBind (same credentials), and sends random payloads of many sizes as raw bytes on that
data connection: every byte must come back, in order. With `tls CA_FILE` both connections are
TLS (the server certificate checked against CA_FILE) and the data connection carries the bytes
as TLS application data. MESSAGE-INTEGRITY is checked on every
success response. Exits 0 on pass, 1 with a message. The client is tests/support/turn_client.py.
"""

import os
import socket
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

# pylint: disable=wrong-import-position
from turn_client import (A_XOR_PEER_ADDRESS, Client, Connection, TurnError, attr,  # noqa: E402
                         xor_address)

CONNECT, CONNECTION_BIND, A_CONNECTION_ID = 0x00A, 0x00B, 0x002A
SIZES = [1, 2, 3, 7, 64, 100, 1000, 1500, 4096, 16384, 65536, 102400]
TIMEOUT = 5.0


def die(text):
    print("FAIL: " + text, file=sys.stderr)
    sys.exit(1)


def echo_server():
    """A listening socket whose connections echo what they read, one thread each."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(TIMEOUT * 4)
    seen = []
    accepted = threading.Event()

    def serve():
        try:
            conn, address = listener.accept()
        except socket.timeout:
            return
        seen.append(address)
        accepted.set()
        conn.settimeout(TIMEOUT * 4)
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except (socket.timeout, OSError):
                    return
                if not chunk:
                    return
                conn.sendall(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], seen, accepted


def main():
    if len(sys.argv) not in (5, 7) or (len(sys.argv) == 7 and sys.argv[5] != "tls"):
        die(__doc__)
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    transport, ca = ("tls", sys.argv[6]) if len(sys.argv) == 7 else ("tcp", None)
    peer_port, seen, accepted = echo_server()

    control = Client(Connection(transport, host, port, ca=ca, timeout=TIMEOUT), user, password)
    (_, relayed_port), _ = control.allocate_addresses(protocol=6)  # REQUESTED-TRANSPORT TCP

    connected = control.expect_success(
        CONNECT, [attr(A_XOR_PEER_ADDRESS, xor_address("127.0.0.1", peer_port))])
    if A_CONNECTION_ID not in connected:
        die("Connect: no CONNECTION-ID")
    connection_id = connected[A_CONNECTION_ID][1]

    # The data connection: same credentials, realm and nonce (the nonce is for this address).
    data = Client(Connection(transport, host, port, ca=ca, timeout=TIMEOUT), user, password)
    data.realm, data.nonce, data.key = control.realm, control.nonce, control.key
    data.expect_success(CONNECTION_BIND, [attr(A_CONNECTION_ID, connection_id)])
    if data.conn.buffer:
        die("bytes after the ConnectionBind response")
    # The Connect succeeded once the connection was made; the echo thread may not have returned
    # from accept() yet.
    accepted.wait(TIMEOUT)
    if not seen or seen[0][1] != relayed_port:
        die(f"the echo peer saw {seen}, not the relayed port {relayed_port}")

    sock = data.conn.sock
    for size in SIZES:
        payload = os.urandom(size)
        sock.sendall(payload)
        echoed = b""
        while len(echoed) < size:
            chunk = sock.recv(size - len(echoed))
            if not chunk:
                die(f"data connection closed after {len(echoed)} of {size} bytes")
            echoed += chunk
        if echoed != payload:
            die(f"{size} bytes: the echo differs")
    print(f"ok: {len(SIZES)} payloads ({sum(SIZES)} bytes) echoed through the TCP relay "
          f"127.0.0.1:{relayed_port} over {transport}")
    control.conn.close()
    data.conn.close()


if __name__ == "__main__":
    try:
        main()
    except (TurnError, OSError) as error:  # ssl.SSLError is an OSError
        die(str(error))

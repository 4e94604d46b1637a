#!/bin/bash
set -e
ip link set lo up
python3 - <<'PY'
import socket, struct, subprocess, time
peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); peer.bind(("127.0.0.1", 7000)); peer.settimeout(2)
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); cli.bind(("127.0.0.1", 0)); cli.settimeout(2)
# stand-ins for turnpike's listener and relay sockets: they must see nothing
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); listener.bind(("127.0.0.1", 5000)); listener.setblocking(False)
relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); relay.bind(("127.0.0.1", 6000)); relay.setblocking(False)
d = subprocess.Popen(["/tmp/fp/driver", str(cli.getsockname()[1])], stdout=subprocess.PIPE, text=True)
print(d.stdout.readline().strip())
for i in range(10):
    payload = b"hello %d" % i
    cli.sendto(struct.pack("!HH", 0x4000, len(payload)) + payload, ("127.0.0.1", 5000))
    data, src = peer.recvfrom(2048)
    assert data == payload and src == ("127.0.0.1", 6000), (data, src)
    peer.sendto(b"echo:" + data, src)
    back, src2 = cli.recvfrom(2048)
    ch, ln = struct.unpack("!HH", back[:4])
    assert ch == 0x4000 and ln == len(payload) + 5 and back[4:] == b"echo:" + payload and src2 == ("127.0.0.1", 5000), (back, src2)
# A STUN-looking datagram and another channel go to user space.
cli.sendto(b"\x00\x01\x00\x00" + b"\x21\x12\xa4\x42" + b"x" * 12, ("127.0.0.1", 5000))
cli.sendto(struct.pack("!HH", 0x4001, 3) + b"abc", ("127.0.0.1", 5000))
time.sleep(0.2)
got = [listener.recv(2048) for _ in range(2)]
print("user space got", len(got), "datagrams")
try:
    relay.recv(2048); print("relay socket saw a packet!"); raise SystemExit(1)
except BlockingIOError:
    pass
print(d.stdout.read().strip())
print("OK")
PY

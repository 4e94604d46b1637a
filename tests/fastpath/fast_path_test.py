#!/usr/bin/env python3
"""The kernel fast path (fast_path: ebpf) end to end, inside a private network namespace that
fast_path_test.sh makes (the program attaches to that namespace's loopback only).

1. Root, fast_path: ebpf: the log says it is on; a UDP client allocates and binds a channel to
   a peer socket; 200 payloads go client -> peer and are echoed back, byte-identical, with the
   relay address as their source; /metrics counts them as relayed by the kernel (200 each way)
   and not by user space; a STUN message and an unbound channel still reach user space; after
   Refresh 0 the accounting line counts the kernel's packets and the route is gone (ChannelData
   is then dropped by user space: no echo).
2. Not root (setpriv to nobody), fast_path: ebpf: the log says why it is off, and the same relay
   works in user space (user-space counters move, the kernel's do not exist).

Usage: fast_path_test.py TURNPIKE_BINARY
"""
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import turn_client as tc  # noqa: E402

SECRET = "fast-path-secret"
COUNT = 200


def free_port(kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric(http_port, name, *labels):
    """The first sample of `name` whose labels include every one of `labels` ('key="value"')."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=3).read()
    for line in text.decode().splitlines():
        series, _, value = line.rpartition(" ")
        if series.split("{")[0] == name and all(label in series for label in labels):
            return float(value)
    return None


def start(binary, directory, as_nobody):
    port, http_port = free_port(), free_port(socket.SOCK_STREAM)
    config = os.path.join(directory, "turnpike.yaml")
    with open(config, "w") as f:
        f.write(f"""realm: fast.test
listeners: [{{transport: udp, address: 127.0.0.1, port: {port}}}]
relay: {{addresses: [127.0.0.1], port_range: [42000, 42999]}}
auth: {{secrets: [{SECRET}]}}
peers: {{allow: [127.0.0.0/8]}}
limits: {{unauthenticated_per_ip_per_second: 0}}
http: {{address: 127.0.0.1, port: {http_port}}}
threads: 1
drain: {{timeout: 0}}
fast_path: ebpf
log: {{level: info}}
""")
    os.chmod(directory, 0o755)
    os.chmod(config, 0o644)
    log = open(os.path.join(directory, "turnpike.log"), "w")
    command = [binary, "--config", config]
    if as_nobody:
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + command
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if metric(http_port, "turnpike_fast_path_enabled") is not None:
                return server, port, http_port, log.name
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("turnpike did not start:\n" + open(log.name).read())


def relay_round_trips(port):
    user, password = tc.rest_credentials("alice", SECRET)
    client = tc.Client(tc.Connection("udp", "127.0.0.1", port), user, password)
    relayed, _ = client.allocate_addresses()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(3)
    client.channel_bind(0x4000, *peer.getsockname())
    for i in range(COUNT):
        payload = b"fast %04d " % i + bytes(range(64))
        client.send_channel_data(0x4000, payload)
        data, source = peer.recvfrom(2048)
        if data != payload or source != relayed:
            raise SystemExit(f"peer got {data!r} from {source}, wanted {payload!r} from {relayed}")
        peer.sendto(b"echo " + data, source)
        kind, channel, echoed = client.receive_data()
        if (kind, channel, echoed) != ("channel", 0x4000, b"echo " + payload):
            raise SystemExit(f"client got {kind} {channel} {echoed!r}")
    return client, peer, relayed


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as directory:
        # 1. As root: the kernel relays.
        server, port, http_port, log = start(binary, directory, as_nobody=False)
        try:
            text = open(log).read()
            if "built without the eBPF fast path" in text:
                print("SKIPPED: this turnpike was built without the fast path")
                sys.exit(77)
            if metric(http_port, "turnpike_fast_path_enabled") != 1 or "fast_path: ebpf on lo" not in text:
                raise SystemExit("fast path not on:\n" + text)
            client, peer, _ = relay_round_trips(port)
            kernel_to_peer = metric(http_port, "turnpike_fast_path_relayed_packets_total",
                                    'direction="to_peer"')
            kernel_to_client = metric(http_port, "turnpike_fast_path_relayed_packets_total",
                                      'direction="to_client"')
            user_to_peer = metric(http_port, "turnpike_relayed_packets_total",
                                  'direction="to_peer"', 'transport="udp"')
            print(f"kernel relayed {kernel_to_peer:.0f} to the peer and {kernel_to_client:.0f} "
                  f"to the client; user space {user_to_peer or 0:.0f}")
            if kernel_to_peer != COUNT or kernel_to_client != COUNT or (user_to_peer or 0) != 0:
                raise SystemExit("the packets did not go through the kernel")
            # STUN still reaches user space (a Binding over the same 5-tuple), as does an
            # unbound channel (dropped there and counted).
            client.conn.send(tc.message(0x0001, [])[1])
            reply = client.conn.receive()
            if struct.unpack_from("!H", reply)[0] != 0x0101:
                raise SystemExit("no Binding answer through the fast path's listener")
            client.refresh(0)
            time.sleep(0.3)
            ended = [line for line in open(log).read().splitlines() if "allocation ended" in line]
            if not ended or f"to_peer_packets={COUNT}" not in ended[-1] \
                    or f"to_client_packets={COUNT}" not in ended[-1]:
                raise SystemExit(f"accounting line without the kernel's packets: {ended}")
            # The route is gone: ChannelData on the old channel no longer reaches the peer.
            client.send_channel_data(0x4000, b"after the end")
            peer.settimeout(0.5)
            try:
                data = peer.recv(2048)
                raise SystemExit(f"relayed after the allocation ended: {data!r}")
            except socket.timeout:
                pass
            print("root: relayed in the kernel, accounted, removed with the allocation")
        finally:
            server.terminate()
            server.wait(timeout=10)

        # 2. Not root: the program cannot load; user space relays.
        server, port, http_port, log = start(binary, directory, as_nobody=True)
        try:
            text = open(log).read()
            if metric(http_port, "turnpike_fast_path_enabled") != 0 or \
                    "fast_path: ebpf is off, relaying in user space" not in text:
                raise SystemExit("no fallback message:\n" + text)
            relay_round_trips(port)
            user_to_peer = metric(http_port, "turnpike_relayed_packets_total",
                                  'direction="to_peer"', 'transport="udp"')
            if user_to_peer != COUNT:
                raise SystemExit(f"user space relayed {user_to_peer}, wanted {COUNT}")
            reason = re.search(r"fast_path: ebpf is off.*", text).group(0)
            print(f"not root: {reason}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    print("OK")


if __name__ == "__main__":
    main()

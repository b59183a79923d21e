"""A three-host test network in Linux network namespaces created (and removed) by the test.

    sender ──(eth0)── gateway ──(eth1)── server
    EOP source /32s    the firewall      SMTP listener on the inside address

The sender owns one /32 per source address to try; the gateway routes the EOP space back to
the sender and forwards to the server; the server listens on TCP. Traffic never leaves these
namespaces. Requires root and iproute2; the firewall ruleset is loaded by the caller.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 20  # seconds for any one command

_LISTENER = """
import socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(512); s.settimeout(120)
print("listening", flush=True)
while True:
    try:
        c, _ = s.accept()
    except OSError:
        break
    c.sendall(b"220 test ESMTP\\r\\n"); c.close()
"""

# Connects from every source at once, each with a short timeout; prints {source: outcome}.
_PROBE = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
dest, port, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
def one(src):
    try:
        with socket.create_connection((dest, port), timeout=1.5, source_address=(src, 0)) as c:
            c.settimeout(1.5)
            return "connected" if c.recv(4).startswith(b"220") else "no-banner"
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, socket.timeout):
        return "timeout"
    except OSError as e:
        return f"error:{e.errno}"
with ThreadPoolExecutor(64) as pool:
    print(json.dumps(dict(zip(sources, pool.map(one, sources)))))
"""


def run(*args: str, ns: str | None = None, stdin: str | None = None) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Topology:
    sender: str
    gateway: str
    server: str
    public_ip: str
    inside_ip: str

    def probe(self, sources: list[str], port: int = 25) -> dict[str, str]:
        """Connect to the public address from each source; outcome per source."""
        out = run(sys.executable, "-c", _PROBE, self.public_ip, str(port), ",".join(sources),
                  ns=self.sender)
        return json.loads(out)

    def load_iptables(self, rules: str) -> None:
        """iptables-save text, optionally preceded by `ipset save` lines for `-m set`."""
        sets = "".join(ln + "\n" for ln in rules.splitlines() if ln.startswith(("create ", "add ")))
        if sets:
            run("ipset", "restore", ns=self.gateway, stdin=sets)
        run("iptables-restore", ns=self.gateway, stdin="".join(
            ln + "\n" for ln in rules.splitlines() if not ln.startswith(("create ", "add "))))

    def load_nft(self, ruleset: str) -> None:
        run("nft", "-f", "-", ns=self.gateway, stdin=ruleset)


@contextmanager
def topology(sources: list[str], routes: list[str], public_ip: str = "198.51.100.25",
             inside_ip: str = "10.0.0.25", port: int = 25):
    """Build the three namespaces; `routes` are the prefixes the gateway sends back to sender."""
    if os.geteuid() != 0:
        raise RuntimeError("network-namespace tests need root")
    tag = uuid.uuid4().hex[:6]
    snd, gw, srv = f"mfd-snd-{tag}", f"mfd-gw-{tag}", f"mfd-srv-{tag}"
    listener = None
    try:
        for ns in (snd, gw, srv):
            run("ip", "netns", "add", ns)
            run("ip", "link", "set", "lo", "up", ns=ns)
        run("ip", "link", "add", "eth0", "netns", gw, "type", "veth", "peer", "name", "up0",
            "netns", snd)
        run("ip", "link", "add", "eth1", "netns", gw, "type", "veth", "peer", "name", "eth0",
            "netns", srv)
        run("ip", "addr", "add", f"{public_ip}/32", "dev", "eth0", ns=gw)
        run("ip", "addr", "add", "10.0.0.1/24", "dev", "eth1", ns=gw)
        run("ip", "addr", "add", f"{inside_ip}/24", "dev", "eth0", ns=srv)
        for ns, dev in ((gw, "eth0"), (gw, "eth1"), (snd, "up0"), (srv, "eth0")):
            run("ip", "link", "set", dev, "up", ns=ns)
        for src in sources:
            run("ip", "addr", "add", f"{src}/32", "dev", "up0", ns=snd)
        run("ip", "route", "add", f"{public_ip}/32", "dev", "up0", ns=snd)
        for prefix in routes:
            run("ip", "route", "add", prefix, "dev", "eth0", ns=gw)
        run("ip", "route", "add", "default", "via", "10.0.0.1", ns=srv)
        run("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=gw)
        listener = subprocess.Popen(
            ["ip", "netns", "exec", srv, sys.executable, "-c", _LISTENER, inside_ip, str(port)],
            stdout=subprocess.PIPE, text=True)
        if listener.stdout is None or listener.stdout.readline().strip() != "listening":
            raise RuntimeError("the test SMTP listener did not start")
        yield Topology(snd, gw, srv, public_ip, inside_ip)
    finally:
        if listener is not None:
            listener.kill()
            listener.wait(timeout=TIMEOUT)
        for ns in (snd, gw, srv):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=TIMEOUT)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path

"""Benchmark: audit a 20,000-line Cisco ASA configuration with 5,000 objects in ≤ 2 s.

Generates a SYNTHETIC configuration (network objects, nested object-groups, object NAT, long
access lists bound to several interfaces), then times reading it and answering the EOP question,
as `mailflow-doctor firewall audit` does. Exits non-zero when the target is missed.
Run: .venv/bin/python benchmarks/bench_asa_audit.py
"""

from __future__ import annotations

import ipaddress
import random
import sys
import tempfile
import time
from pathlib import Path

from mailflow_doctor.diagnose.audit import audit
from mailflow_doctor.evidence.firewall import asa
from mailflow_doctor.knowledge.endpoints import snapshot

TARGET_SECONDS = 2.0
OBJECTS, LINES = 5000, 20000


def generate(path: Path) -> int:
    rng = random.Random(5000)
    out = [": SYNTHETIC benchmark configuration", "ASA Version 9.16(4)", "hostname bench-fw"]
    for i in range(OBJECTS):
        a = ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000))
        if i % 3 == 0:
            out += [f"object network OBJ-{i}", f" host {a}"]
        else:
            plen = rng.randrange(16, 30)
            net = ipaddress.ip_network(f"{a}/{plen}", strict=False)
            out += [f"object network OBJ-{i}", f" subnet {net.network_address} {net.netmask}"]
    out += ["object network EXCH", " host 10.20.0.25", " nat (inside,outside) static 203.0.113.25"]
    for g in range(200):
        out.append(f"object-group network GRP-{g}")
        out += [f" network-object object OBJ-{rng.randrange(OBJECTS)}" for _ in range(12)]
        if g:
            out.append(f" group-object GRP-{rng.randrange(g)}")
    out += ["object-group network EOP", " network-object 40.92.0.0 255.254.0.0",
            " network-object 40.107.0.0 255.255.0.0"]
    n = 0
    while len(out) < LINES - 10:
        acl = ("outside_in", "dmz_in", "inside_in")[n % 3]
        src = rng.choice([f"object-group GRP-{rng.randrange(200)}", f"object OBJ-"
                          f"{rng.randrange(OBJECTS)}", "any"])
        dst = rng.choice([f"object OBJ-{rng.randrange(OBJECTS)}", "host 10.20.0.99", "any"])
        port = rng.choice(["eq https", "eq www", "eq 8443", "range 1000 2000", "eq ssh"])
        out.append(f"access-list {acl} extended permit tcp {src} {dst} {port}")
        n += 1
        if n == 3000:
            out.append("access-list outside_in extended permit tcp object-group EOP object EXCH "
                       "eq smtp")
    out += ["access-list outside_in extended deny ip any any log",
            "access-group outside_in in interface outside",
            "access-group dmz_in in interface dmz", "access-group inside_in in interface inside"]
    path.write_text("\n".join(out) + "\n")
    return len(out)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "asa.cfg"
        lines = generate(path)
        start = time.perf_counter()
        parsed = asa.parse(path)
        result = audit(parsed.records, snapshot().eop_prefixes,
                       ipaddress.ip_address("203.0.113.25"), 25)
        elapsed = time.perf_counter() - start
    ok = elapsed <= TARGET_SECONDS and result.permitted.cidrs() == [
        "40.92.0.0/15", "40.107.0.0/16"]
    print(f"ASA audit: {lines} lines, {OBJECTS} objects, {len(parsed.problems)} problems: "
          f"{elapsed:.2f} s (target ≤ {TARGET_SECONDS} s) -> {'PASS' if ok else 'FAIL'}")
    print(f"  permitted {result.permitted}; missing {result.missing}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: read firewall deny logs at ≥ 300,000 lines per second.

Generates SYNTHETIC syslog (a mix of kernel LOG lines, ASA 106023/106100 denies and unrelated
syslog traffic, some from EOP to port 25) and times `firewall drops`' work: reading every line
and grouping EOP denies per range and /24, plus the cycle collection the reader defers (it
pauses the collector while it builds records).

Timed twice, in separate processes: with the machine's two cores (the target: the reader cuts
a file this large in two and a forked process reads the second half), and pinned to one core
(the reader then reads it in one go). Exits non-zero when the two-core run misses the target.
Run: .venv/bin/python benchmarks/bench_deny_log.py [LINES]
"""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mailflow_doctor.diagnose.drops import Drops, eop_drops, eop_filter
from mailflow_doctor.evidence.firewall import deny_log
from mailflow_doctor.knowledge.endpoints import snapshot

TARGET = 300_000


def generate(path: Path, count: int) -> None:
    rng = random.Random(300)
    eop = ["40.92.{}.{}", "40.107.{}.{}", "52.101.{}.{}", "104.47.{}.{}"]
    with path.open("w") as out:
        for i in range(count):
            t = f"Nov 23 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
            src = rng.choice(eop).format(rng.randrange(128), rng.randrange(256)) \
                if i % 4 == 0 else f"198.51.100.{i % 250}"
            kind = i % 5
            if kind == 0:
                out.write(f'{t} fw01 : %ASA-4-106023: Deny tcp src outside:{src}/{40000 + i % 9999}'
                          f' dst inside:10.20.0.25/25 by access-group "outside_in" [0x0, 0x0]\n')
            elif kind == 1:
                out.write(f"{t} fw01 : %ASA-6-106100: access-list outside_in denied tcp "
                          f"outside/{src}({40000 + i % 9999}) -> inside/10.20.0.25(25) hit-cnt 1 "
                          "first hit [0x2b7f3f90, 0x0]\n")
            elif kind == 2:
                out.write(f"{t} gw01 kernel: [25432.112233] SMTP_IN drop: IN=eth0 OUT=eth1 "
                          f"MAC=52:54:00:aa:bb:cc:52:54:00:11:22:33:08:00 SRC={src} DST=10.0.0.25 "
                          "LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=54321 DF PROTO=TCP "
                          f"SPT={40000 + i % 9999} DPT=25 WINDOW=64240 RES=0x00 SYN URGP=0\n")
            else:
                out.write(f"{t} host01 sshd[{i % 30000}]: Accepted publickey for admin from "
                          f"{src} port 51234 ssh2\n")


def timed(path: Path, cores: set[int]) -> tuple[float, Drops]:
    """Seconds for `firewall drops`' work on `path`, in this process, on these cores."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    start = time.perf_counter()
    eop = snapshot().eop_prefixes
    events = deny_log.parse(path, want=eop_filter(eop, 25)).records  # as `firewall drops`
    drops = eop_drops(events, eop, 25)
    gc.collect()  # the one walk over the new records that the reader's pause put off
    return time.perf_counter() - start, drops


def main() -> int:
    if len(sys.argv) > 2:  # one timed run, in a child process (see below)
        elapsed, drops = timed(Path(sys.argv[1]), set(map(int, sys.argv[2].split(","))))
        print(elapsed, sum(g.count for g in drops.by_range.values()), len(drops.by_24))
        return 0
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0, 1]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "syslog"
        generate(path, count)
        for label, use in (("both cores", cores[:2]), ("one core", cores[:1])):
            child = subprocess.run([sys.executable, __file__, str(path), ",".join(map(str, use))],
                                   capture_output=True, text=True, check=True)
            elapsed, denies, networks = child.stdout.split()
            rate = count / float(elapsed)
            target = label == "both cores"
            verdict = ("PASS" if rate >= TARGET and int(denies) else "FAIL") if target else "-"
            ok = ok and (verdict != "FAIL")
            print(f"deny logs, {label}: {count:,} lines in {float(elapsed):.2f} s = {rate:,.0f} "
                  f"lines/s (target >= {TARGET:,}{'' if target else ', not judged'}) -> "
                  f"{verdict}; {int(denies):,} EOP denies in {int(networks):,} networks")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

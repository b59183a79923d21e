"""Benchmark: decode ≥ 200,000 distinct Defer/Fail reason strings per second on one core.

Every string is different (addresses, host names, times and EOP session ids vary) and the
decoder's cache is cleared, so what is measured is decoding, not look-ups. The shapes follow
../shared/reference/formats.md §3.5/§3.6. Strings are decoded inside `cycle_collection_paused()`,
as the extended-report reader decodes them; the `gc.collect()` after the loop, which walks the new
results once, is timed too. Five rounds, judged by their median; the line says whether the
compiled reader (_reason_scan.pyx, built by `pip install`) was used. Exits non-zero when the
target is missed.
Run: .venv/bin/python benchmarks/bench_reason.py [COUNT]
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time

from mailflow_doctor.evidence._records import cycle_collection_paused
from mailflow_doctor.evidence.trace import reason as reason_module
from mailflow_doctor.evidence.trace.reason import decode_reason

TARGET = 200_000
ROUNDS = 5  # the machine's speed swings by tens of per cent within minutes: judge the median


def corpus(count: int) -> list[str]:
    rng = random.Random(200_000)
    out = []
    for i in range(count):
        ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{i % 250 + 1}"
        host = f"mail{i}.contoso{i % 97}.example"
        lrt = f"{1 + i % 12}/{1 + i % 28}/20{20 + i % 7} {1 + i % 12}:{i % 60:02d}:{i % 59:02d} " \
              f"{'AM' if i % 2 else 'PM'}"
        session = f"08DD{i:012X}"
        shape = i % 5
        if shape == 0:
            s = (f"Reason: [{{LED=450 4.4.316 Connection refused}};{{MSG=Socket error code "
                 f"10061}};{{FQDN={host}}};{{IP={ip}}};{{LRT={lrt}}}]. OutboundProxyTargetIP: "
                 f"{ip}. OutboundProxyTargetHostName: {host}")
        elif shape == 1:
            s = (f"Reason: [{{LED=450 4.4.317 Cannot connect to remote server [Message="
                 f"SubjectMismatch Expected Subject: {host}. Presented Subject: CN=EX{i}. "
                 f"Thumbprint: D0AC2FC63B9C5798828B45D849BE{i:06X}.] [LastAttemptedServerName="
                 f"{host}] [LastAttemptedIP={ip}:25] [SmtpSecurity=-1;-1] [BN7NAM10FT{i % 999:03d}"
                 f".eop-nam10.prod.protection.outlook.com 2025-01-29T19:07:30.476Z {session}]}};"
                 f"{{MSG=SubjectMismatch}};{{FQDN={host}}};{{IP={ip}}};{{LRT={lrt}}}]. "
                 f"OutboundProxyTargetIP: {ip}. OutboundProxyTargetHostName: {host}")
        elif shape == 2:
            s = (f"[{{LED=450 4.4.315 Connection timed out}};{{MSG=Socket error code 10060}};"
                 f"{{FQDN={host}}};{{IP={ip}}};{{LRT={lrt}}}]")
        elif shape == 3:
            s = (f"450 4.4.316 Connection refused [Message=Socket error code 10061] "
                 f"[LastAttemptedServerName={host}] [LastAttemptedIP={ip}:25] "
                 f"[BN3NAM01FT{i % 999:03d}.eop-nam01.prod.protection.outlook.com](Socket error "
                 f"code 10061)")
        else:
            s = (f"Reason: [{{LED=450 4.4.317 Cannot connect to remote server [Message=451 4.4.0 "
                 f"TLS negotiation failed with error SocketError] [LastAttemptedServerName={host}]"
                 f" [LastAttemptedIP={ip}:25] [SmtpSecurity=-2;-2] [DM6NAM12FT{i % 999:03d}.eop-"
                 f"nam12.prod.protection.outlook.com 2023-03-07T18:46:06.378Z {session}]}};"
                 f"{{MSG=}};{{FQDN={host}}};{{IP={ip}}};{{LRT={lrt}}}]")
        out.append(s)
    return out


def _one_round(strings: list[str]) -> tuple[float, list]:
    """Seconds to decode every string once, with the caches cleared first."""
    for cached in (getattr(reason_module, name) for name in dir(reason_module)):
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()
    start = time.perf_counter()
    with cycle_collection_paused():
        decoded = [decode_reason(s) for s in strings]
    gc.collect()
    return time.perf_counter() - start, decoded


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 400_000
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    strings = corpus(count)
    rates = []
    for _ in range(ROUNDS):
        elapsed, decoded = _one_round(strings)
        rates.append(count / elapsed)
        ok = all(decoded) and decoded[0].ip
        del decoded
        gc.collect()
    rate = statistics.median(rates)
    ok = ok and rate >= TARGET
    reader = "compiled reader" if reason_module._decode_compiled else "regex readers only"
    print(f"reason decoder ({reader}): {count:,} distinct strings, {ROUNDS} rounds: "
          f"{', '.join(f'{r:,.0f}' for r in rates)}/s; median {rate:,.0f}/s "
          f"(target ≥ {TARGET:,}) -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

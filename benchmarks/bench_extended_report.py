"""Benchmark: read a 1,000,000-row extended message trace report in ≤ 15 s and ≤ 1.5 GB.

Generates a SYNTHETIC report as Exchange Online serves it (UTF-16 with BOM, unsorted rows, the
documented columns, LED reason strings on DEFER rows) and reads it with the extended-report
reader, measuring wall time and the process's peak memory (max RSS). Exits non-zero on FAIL.
Run: .venv/bin/python benchmarks/bench_extended_report.py [ROWS]
"""

from __future__ import annotations

import csv
import gc
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from mailflow_doctor.evidence.trace import extended_csv

TARGET_SECONDS, TARGET_BYTES = 15.0, 1.5 * 2**30
COLUMNS = ("date_time_utc,client_ip,client_hostname,server_ip,server_hostname,source_context,"
           "connector_id,source,event_id,internal_message_id,message_id,network_message_id,"
           "recipient_address,recipient_status,total_bytes,recipient_count,"
           "related_recipient_address,reference,message_subject,sender_address,return_path,"
           "message_info,directionality,tenant_id,original_client_ip,original_server_ip,"
           "custom_data").split(",")


def generate(path: Path, rows: int) -> None:
    rng = random.Random(1_000_000)
    with path.open("w", encoding="utf-16", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(COLUMNS)
        for i in range(rows):
            event = rng.choices(["RECEIVE", "SEND", "DEFER", "DELIVER"], [4, 3, 1, 2])[0]
            t = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z"
            src = f"104.47.{rng.randrange(128)}.{rng.randrange(256)}"
            status = "250 2.6.0 Queued mail for delivery" if event == "SEND" else ""
            if event == "DEFER":
                status = ("[{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
                          "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};"
                          f"{{LRT=11/{1 + i % 28}/2026 {1 + i % 12}:{i % 60:02d}:00 PM}}]")
            w.writerow([t, src, f"YT2PR01MB{i % 9000 + 1000}.CANPRD01.PROD.OUTLOOK.COM",
                        "13.92.177.139", "smtp.tailspintoys.ca", "", "Outbound to OnPrem", "SMTP",
                        event, str(10**12 + i), f"<{i:x}@partner{i % 50}.example.com>",
                        f"{i:08x}-1f2e-4d3c-9b8a-000000000000", f"user{i % 5000}@tailspintoys.ca",
                        status, str(10000 + i % 90000), "1", "", "", f"Invoice {i}",
                        f"sales@partner{i % 50}.example.com", "", "", "Incoming",
                        "7d1f4a2b-3c5e-4f60-9a8b-1c2d3e4f5a6b", "", "", "S:E2ELatency=1.2"])


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "MTDetail_extended.csv"
        generate(path, rows)
        size = path.stat().st_size
        start = time.perf_counter()
        parsed = extended_csv.parse(path)
        # The reader pauses the cycle collector; the first collections after it walk all the
        # new records once. Count that work here rather than in whatever runs next.
        gc.collect()
        elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ok = elapsed <= TARGET_SECONDS and peak <= TARGET_BYTES and len(parsed.records) == rows
    print(f"extended report: {rows:,} rows ({size / 2**20:.0f} MiB UTF-16) read in {elapsed:.1f} s"
          f" (target ≤ {TARGET_SECONDS:.0f} s), peak RSS {peak / 2**20:.0f} MiB (target ≤ "
          f"{TARGET_BYTES / 2**20:.0f} MiB), {len(parsed.problems)} problems -> "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

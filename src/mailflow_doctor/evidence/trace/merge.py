"""Overlapping exports of the same messages, merged instead of double counted.

Admins often hand over a detail export, the extended report and a Graph fetch covering the same
messages. One event (message, recipient, event name, time to the second) is kept once — the copy
that says the most (a decoded reason, the EOP source address, the target) — and coarse summary
events are dropped for any message+recipient that detailed events already describe.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...model import TraceEvent

_COARSE = "summary"


def _key(e: TraceEvent) -> tuple:
    return (e.message_id.strip().lower(), e.recipient.strip().lower(), e.event,
            e.time_utc.replace(microsecond=0))


def _richness(e: TraceEvent) -> int:
    return sum(1 for v in (e.reason, e.source_ip, e.target_ip, e.target_fqdn, e.trace_id,
                           e.sender, e.status) if v)


def merge(events: Iterable[TraceEvent]) -> list[TraceEvent]:
    best: dict[tuple, TraceEvent] = {}
    for e in events:
        k = _key(e)
        if k not in best or _richness(e) > _richness(best[k]):
            best[k] = e
    detailed = {k[:2] for k, e in best.items() if e.event != _COARSE}
    kept = [e for k, e in best.items() if e.event != _COARSE or k[:2] not in detailed]
    return sorted(kept, key=lambda e: (e.time_utc, str(e.location)))

"""Renderers for `trace` (the normalised events) and `trace summary` (per-target numbers)."""

from __future__ import annotations

from ..diagnose.trace_summary import DEFERRED, DELIVERED, FAILED, PENDING, TargetSummary
from ..model.trace import DeferReason, TraceEvent
from .decode import reason_dict
from .terminal import escaped, json_text, printable

EVENTS_SCHEMA = "mailflow-doctor/trace/v1"
SUMMARY_SCHEMA = "mailflow-doctor/trace-summary/v1"


def event_dict(e: TraceEvent) -> dict:
    out = {
        "time_utc": e.time_utc.isoformat(), "message_id": e.message_id, "trace_id": e.trace_id,
        "sender": e.sender, "recipient": e.recipient, "event": e.event, "status": e.status,
        "source_ip": e.source_ip, "target_ip": e.target_ip, "target_fqdn": e.target_fqdn,
        "location": str(e.location),
    }
    if e.reason is not None:
        out["reason"] = reason_dict(e.reason)
    return out


def events_json(events: list[TraceEvent]) -> str:
    return json_text({"schema": EVENTS_SCHEMA, "events": [event_dict(e) for e in events]})


def _reason_text(r: DeferReason) -> str:
    """The decoded reason on one line: the reply, then each field the string held."""
    parts = [" ".join(str(p) for p in (r.smtp_code, r.enhanced_code, r.text) if p) or "?"]
    parts += [f"{label} {value}" for label, value in (
        ("inner", r.inner_message), ("MSG", r.msg), ("FQDN", r.fqdn), ("IP", r.ip),
        ("LRT", f"{r.lrt:%Y-%m-%d %H:%M:%S}Z" if r.lrt else None)) if value]
    return "; ".join(parts) + (" (cut short)" if r.truncated else "")


def events_text(events: list[TraceEvent]) -> str:
    """Each event as two or three lines, oldest first: when, what and for whom; the message,
    its trace id and sender; then the decoded reason of a defer or failure, else the status."""
    lines = []
    for e in events:
        target = " ".join(escaped(v) for v in (e.target_ip, e.target_fqdn) if v)
        route = f"  {escaped(e.source_ip) or '?'} -> {target}" if target or e.source_ip else ""
        lines += [f"{e.time_utc:%Y-%m-%d %H:%M:%S}Z  {escaped(e.event):8} "
                  f"{escaped(e.recipient) or '-'}{route}",
                  f"    message {escaped(e.message_id) or '-'}  trace {escaped(e.trace_id) or '-'}"
                  f"  sender {escaped(e.sender) or '-'}"]
        if e.reason is not None:
            lines.append(f"    reason {escaped(_reason_text(e.reason))}")
        elif e.status:
            lines.append(f"    status {escaped(e.status)}")
    lines.append(f"{len(events)} event(s)")
    return "\n".join(lines) + "\n"


def _summary_dict(s: TargetSummary) -> dict:
    return {
        "ip": s.ip, "fqdn": s.fqdn,
        "messages": {k: s.messages.get(k, 0) for k in (DELIVERED, DEFERRED, FAILED, PENDING)},
        "attempts": s.attempts, "defers": s.defers,
        "deferred_share": round(s.deferred_share, 4),
        "first_defer": s.first_defer.isoformat() if s.first_defer else None,
        "last_defer": s.last_defer.isoformat() if s.last_defer else None,
        "errors": dict(s.errors.most_common()),
        "stuck_longest": [{"message_id": x.message_id, "recipient": x.recipient,
                           "first_defer": x.first_defer.isoformat(), "state": x.state,
                           "waited_minutes": round(x.waited.total_seconds() / 60, 1),
                           "attempts": x.attempts} for x in s.stuck],
        "hourly": [{"hour": h.isoformat(), **dict(c)} for h, c in s.hourly.items()],
    }


def summary_json(targets: list[TargetSummary]) -> str:
    return json_text({"schema": SUMMARY_SCHEMA, "targets": [_summary_dict(s) for s in targets]})


def summary_text(targets: list[TargetSummary]) -> str:
    lines: list[str] = []
    for s in targets:
        name = escaped(" ".join(p for p in (s.fqdn, f"({s.ip})" if s.ip and s.fqdn else s.ip)
                                if p))
        m = s.messages
        lines += [f"Target {name}",
                  f"  messages: {m[DELIVERED]} delivered, {m[DEFERRED]} deferred at least once, "
                  f"{m[FAILED]} failed, {m[PENDING]} still pending",
                  f"  attempts: {s.attempts}, deferred {s.defers} ({s.deferred_share:.0%})"]
        if s.first_defer and s.last_defer:
            lines.append(f"  defers from {s.first_defer:%Y-%m-%d %H:%M}Z "
                         f"to {s.last_defer:%Y-%m-%d %H:%M}Z")
        if s.errors:
            lines.append("  errors: " + "; ".join(f"{escaped(k)} ×{n}"
                                                  for k, n in s.errors.most_common()))
        if s.stuck:
            lines.append("  waited longest:")
            for x in s.stuck[:5]:
                hours = x.waited.total_seconds() / 3600
                lines.append(f"    {hours:5.1f} h  {x.state:9} {escaped(x.recipient)}  "
                             f"{escaped(x.message_id)}")
        if s.hourly:
            lines.append("  per hour (UTC)      send  defer  fail")
            for hour, c in s.hourly.items():
                bar = "#" * min(40, c["defer"] + c["fail"])
                lines.append(f"    {hour:%Y-%m-%d %H}:00  {c['send']:5} {c['defer']:6} "
                             f"{c['fail']:5}  {bar}")
        lines.append("")
    if not targets:
        lines.append("No delivery attempts with a target in the trace.")
    return printable("\n".join(lines) + "\n")

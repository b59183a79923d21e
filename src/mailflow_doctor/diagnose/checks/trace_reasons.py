"""Steps 1–3 of the chain from the trace alone: what the Defer reasons themselves say.

A 4.4.317 with `[Message=SubjectMismatch]` or a 4.7.320 names its cause outright; such
findings stand on the trace even before logs or configurations arrive. Connection-level
failures (refused, timed out, reset) are left to the connectivity and firewall checks, which
weigh them against the other evidence; expired messages are reported on their own.
"""

from __future__ import annotations

from collections import defaultdict

from ...knowledge.codes import Explanation, explain
from ...model import Cause
from ...model.report import Finding
from ...model.trace import TraceEvent
from .. import cite
from ..facts import REFUSED, RESET, TIMEOUT, Facts, failure_class

_CONNECTION_LEVEL = (REFUSED, TIMEOUT, RESET)
_EXPIRY_CODES = {"4.4.7", "5.4.7", "5.4.300", "5.4.316"}
# Causes whose confirmation needs the server side (certificate, logs) beyond the trace.
_NEEDS = {
    Cause.CERT_NAME_MISMATCH: "the certificate the server presents (SmtpReceive log "
                              "'Sending certificate' lines)",
    Cause.CERT_EXPIRED: "the certificate the server presents (SmtpReceive log)",
    Cause.CERT_UNTRUSTED: "the certificate chain the server sends",
    Cause.STARTTLS_NOT_OFFERED: "the EHLO reply in the SmtpReceive log",
    Cause.TLS_HANDSHAKE_FAILED: "the SmtpReceive log around the defer times",
}


def _finding(cause: Cause, events: list[TraceEvent], reading: Explanation) -> Finding:
    first, last = min(e.time_utc for e in events), max(e.time_utc for e in events)
    sample = events[0].reason
    inner = sample.inner_message or sample.msg if sample else None
    explanation = (f"{len(events)} Defer/Fail event(s) between {first:%Y-%m-%d %H:%M}Z and "
                   f"{last:%Y-%m-%d %H:%M}Z say: {reading.title}. {reading.meaning}")
    if inner:
        explanation += f" Exchange Online reported: {inner}"
    if cause in _NEEDS:
        explanation += f" Would confirm it: {_NEEDS[cause]}."
    return Finding(
        cause=cause, severity="error", confidence=0.8 if reading.basis == "tls-message" else 0.6,
        title=reading.title, explanation=explanation, remediation=reading.fixes,
        evidence=tuple(cite.trace_event(e) for e in events[:3]),
        details={"attempts": len(events), "first": first.isoformat(), "last": last.isoformat(),
                 "enhanced_code": sample.enhanced_code if sample else None,
                 "generic_reading": reading.generic, "sources": list(reading.sources)},
    )


def _expired(events: list[TraceEvent]) -> Finding | None:
    expired = [e for e in events if e.event == "fail" and e.reason and (
        e.reason.enhanced_code in _EXPIRY_CODES or "expired" in e.reason.text.lower())]
    if not expired:
        return None
    recipients = sorted({e.recipient for e in expired})
    return Finding(
        cause=Cause.MESSAGE_EXPIRED, severity="warning", confidence=0.95,
        title=f"{len(expired)} message(s) expired after retries and were returned to the sender",
        explanation=("Exchange Online stopped retrying and sent non-delivery reports; the "
                     "defers before the expiry show why delivery failed. Recipients: "
                     + ", ".join(recipients[:10]) + ("…" if len(recipients) > 10 else "")),
        remediation=("Fix the delivery failure first (see the findings above).",
                     "Then ask the senders to resend, or recover the messages from the "
                     "non-delivery reports; expired messages are not retried."),
        evidence=tuple(cite.trace_event(e) for e in expired[:3]),
        details={"messages": len({e.message_id for e in expired}), "recipients": recipients},
    )


def check(facts: Facts) -> list[Finding]:
    groups: dict[Cause, list[TraceEvent]] = defaultdict(list)
    readings: dict[Cause, Explanation] = {}
    for event in facts.defers:
        if event.reason is None or failure_class(event) in _CONNECTION_LEVEL:
            continue
        reading = explain(event.reason)
        if reading.cause is None:
            continue
        groups[reading.cause].append(event)
        readings.setdefault(reading.cause, reading)
    findings = [_finding(cause, events, readings[cause]) for cause, events in groups.items()]
    if expired := _expired(facts.defers):
        findings.append(expired)
    return findings

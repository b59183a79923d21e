"""Run every check over the facts and rank the findings, most likely root cause first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..evidence.collect import Evidence
from ..knowledge.endpoints import Snapshot
from ..model import Cause
from ..model.report import Finding, Report
from .checks import CHECKS
from .facts import Facts, Target, derive
from .receipts import receipts

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


# Causes that both the trace and the receive logs can report: one finding each, not two.
_MERGEABLE = {Cause.CERT_NAME_MISMATCH, Cause.CERT_EXPIRED, Cause.CERT_UNTRUSTED,
              Cause.STARTTLS_NOT_OFFERED, Cause.TLS_HANDSHAKE_FAILED, Cause.CERT_NO_PRIVATE_KEY,
              Cause.RECEIVE_CONNECTOR_REJECTS_EOP}


def merge(findings: list[Finding]) -> list[Finding]:
    """Readings of one cause from different evidence become one, more certain finding."""
    out: list[Finding] = []
    by_cause: dict[Cause, Finding] = {}
    for f in findings:
        first = by_cause.get(f.cause)
        if f.cause not in _MERGEABLE or first is None:
            if f.cause in _MERGEABLE:
                by_cause[f.cause] = f
            out.append(f)
            continue
        lead, other = (first, f) if first.confidence >= f.confidence else (f, first)
        merged = replace(
            lead, confidence=round(min(0.97, lead.confidence + 0.15), 2),
            explanation=f"{lead.explanation} {other.explanation}",
            remediation=tuple(dict.fromkeys(lead.remediation + other.remediation)),
            evidence=tuple(dict.fromkeys(lead.evidence + other.evidence)),
            details={**other.details, **lead.details, "corroborated": True})
        out[out.index(first)] = merged
        by_cause[f.cause] = merged
    return out


def rank(findings: list[Finding]) -> list[Finding]:
    """Errors before warnings before notes; within each, the more certain first."""
    return sorted(findings, key=lambda f: (_SEVERITY_RANK[f.severity], -f.confidence))


def _missing_evidence(facts: Facts) -> list[str]:
    """Which evidence, if supplied, would settle what is still open."""
    ev = facts.evidence
    missing = []
    if not ev.trace:
        missing.append("Message trace of the affected messages (Get-MessageTraceDetailV2 | "
                       "Export-Csv, or the extended report CSV): the Defer reasons say how "
                       "delivery fails and to which address.")
    if not ev.session_count:
        missing.append("SMTP Receive protocol logs of the Front End servers "
                       "(...\\TransportRoles\\Logs\\FrontEnd\\ProtocolLog\\SmtpReceive): they show "
                       "whether, and from which EOP ranges, sessions reach Exchange.")
    if not ev.firewalls:
        missing.append("The external firewall's configuration (Cisco ASA running-config or "
                       "iptables-save): it shows exactly which EOP ranges may reach TCP 25.")
    elif facts.target is None or facts.target.ip is None:
        missing.append("The public address of the on-premises endpoint (--destination IP[:PORT], "
                       "or a trace whose Defer reasons carry it): the firewall cannot be "
                       "evaluated without it.")
    return missing


def diagnose(evidence: Evidence, snapshot: Snapshot, destination: Target | None = None,
             ingress: str | None = None,
             checks: tuple[Callable[[Facts], list[Finding]], ...] = CHECKS) -> Report:
    """Evidence in, ranked report out."""
    facts = derive(evidence, snapshot, destination, ingress)
    findings = rank(merge([f for check in checks for f in check(facts)]))
    summary = {
        "target": {"ip": facts.target.ip, "fqdn": facts.target.fqdn, "port": facts.target.port,
                   "origin": facts.target.origin} if facts.target else None,
        "trace_events": len(evidence.trace),
        "defers_to_target": len(facts.defers),
        "sends_to_target": len(facts.sends),
        "receive_sessions": evidence.session_count,
        "eop_sessions": len(facts.eop_sessions),
        "firewall_configs": len(evidence.firewalls),
        "eop_prefixes": facts.eop.cidrs(),
    }
    if evidence.tracking_files_read or evidence.tracking_outside_window:
        summary["tracking_files_read"] = evidence.tracking_files_read
        summary["tracking_files_outside_window"] = evidence.tracking_outside_window
        summary["tracking_events"] = len(evidence.tracking)  # of the trace's messages
        summary["on_premises_receipts"] = receipts(facts.defers, evidence.tracking,
                                                   evidence.sessions).as_dict()
    return Report(
        findings=tuple(findings),
        inputs=tuple(evidence.inputs),
        missing_evidence=tuple(_missing_evidence(facts)),
        problems=tuple(evidence.problems),
        endpoints=snapshot.label,
        summary=summary,
    )

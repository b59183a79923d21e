"""Run every check over the facts and rank the findings, most likely root cause first."""

from __future__ import annotations

from collections.abc import Callable

from ..evidence.collect import Evidence
from ..knowledge.endpoints import Snapshot
from ..model import Finding, Report
from .checks import CHECKS
from .facts import Facts, Target, derive

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


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
    if not ev.sessions:
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
    findings = rank([f for check in checks for f in check(facts)])
    summary = {
        "target": {"ip": facts.target.ip, "fqdn": facts.target.fqdn, "port": facts.target.port,
                   "origin": facts.target.origin} if facts.target else None,
        "trace_events": len(evidence.trace),
        "defers_to_target": len(facts.defers),
        "sends_to_target": len(facts.sends),
        "receive_sessions": len(evidence.sessions),
        "eop_sessions": len(facts.eop_sessions),
        "firewall_configs": len(evidence.firewalls),
        "eop_prefixes": facts.eop.cidrs(),
    }
    return Report(
        findings=tuple(findings),
        inputs=tuple(evidence.inputs),
        missing_evidence=tuple(_missing_evidence(facts)),
        problems=tuple(evidence.problems),
        endpoints=snapshot.label,
        summary=summary,
    )

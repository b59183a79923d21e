"""Steps 2 and 4 of the chain: refused, timed-out and reset connections the firewall does not explain.

A 4.4.316/10061 defer means something answered with a reset: a firewall reject or nothing
listening on port 25. When the firewall permits every EOP range and the receive logs fall
silent while the defers pile up, the SMTP service itself is the likely culprit.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...model import Cause
from ...model.report import Finding
from ...model.trace import TraceEvent
from .. import cite
from ..facts import REFUSED, RESET, TIMEOUT, Facts, failure_class


@dataclass(frozen=True)
class _Kind:
    cause: Cause
    title: str
    meaning: str
    remediation: tuple[str, ...]


_KINDS = {
    REFUSED: _Kind(
        Cause.SERVICE_NOT_LISTENING,
        "Nothing accepts SMTP on {dest}: the receiving service is likely down",
        "Exchange Online's connections to {dest} were actively refused (4.4.316, Winsock "
        "10061): the address answered, but nothing listened on port {port}.",
        ("Check the Front End Transport service on every server behind {dest} "
         "(Get-Service MSExchangeFrontEndTransport, MSExchangeTransport) and start it.",
         "Check that the transport components are active "
         "(Get-ServerComponentState <server> -Component FrontendTransport).",
         "Check that the NAT or port forward for {dest} points at a server whose receive "
         "connector listens on port {port} (Get-ReceiveConnector | fl Bindings).",
         "From outside, confirm with Test-NetConnection {ip} -Port {port}."),
    ),
    TIMEOUT: _Kind(
        Cause.NETWORK_TIMEOUT,
        "Connections to {dest} time out",
        "Exchange Online's connections to {dest} timed out (4.4.315, Winsock 10060): packets "
        "are dropped on the way or the host is down.",
        ("Check that {dest} is the current public address of the mail gateway and that "
         "the server behind it is up.",
         "Check the firewall and any upstream filtering for silent drops of port {port} "
         "from Microsoft's EOP ranges.",),
    ),
    RESET: _Kind(
        Cause.CONNECTION_RESET,
        "Connections to {dest} are reset mid-session",
        "Exchange Online's sessions to {dest} were closed abruptly (4.4.318 or Winsock 10054): "
        "typically SMTP inspection on a firewall, or a server under load.",
        ("Turn off SMTP inspection / ESMTP fixup for traffic from EOP (on Cisco ASA: "
         "no inspect esmtp in the global policy).",
         "Check the receiving servers for crashes or back pressure "
         "(event log, Get-ExchangeDiagnosticInfo -Process EdgeTransport).",),
    ),
}


def _unexplained(facts: Facts, events: list[TraceEvent]) -> list[TraceEvent]:
    """Drop attempts whose EOP source a firewall verdict already denies."""
    denied = None
    for verdict in facts.verdicts:
        denied = verdict.denied if denied is None else denied | verdict.denied
    if not denied:
        return events
    return [e for e in events if not (e.source_ip and e.source_ip in denied)]


def _finding(facts: Facts, klass: str, events: list[TraceEvent]) -> Finding | None:
    kind = _KINDS[klass]
    dest = facts.target.endpoint if facts.target and facts.target.ip else (
        facts.target.fqdn if facts.target else "the on-premises endpoint") or "the endpoint"
    port = facts.port
    fill = {"dest": dest, "port": port, "ip": facts.target.ip if facts.target else dest}
    confidence, because, unknown = 0.45, [], []

    partial = any(v.denied & facts.eop for v in facts.verdicts)
    if facts.verdicts and not partial:
        confidence += 0.25
        because.append("the firewall configuration permits every published EOP range")
    elif partial:
        sources = [e.source_ip for e in events if e.source_ip]
        if not sources:
            confidence -= 0.25
            because.append("the firewall leaves some EOP ranges out, which may explain these "
                           "attempts too; the EOP source address of each attempt would tell")
    else:
        unknown.append("the firewall configuration (to rule out a block)")

    window = facts.window
    if facts.evidence.session_count and window:
        during = [s for s in facts.eop_sessions if window[0] <= s.start <= window[1]]
        before = [s for s in facts.eop_sessions if s.start < window[0]]
        after = [s for s in facts.eop_sessions if s.start > window[1]]
        others = facts.sessions_from_others
        if during:
            confidence -= 0.3
            because.append(f"yet {len(during)} EOP session(s) reached Exchange at the same time")
        elif before:
            confidence += 0.2
            last = max(s.start for s in before)
            because.append(f"the receive logs show EOP sessions until {last:%Y-%m-%d %H:%M}Z "
                           "and none while the defers accumulated")
        elif after:
            first_after = min(s.start for s in after)
            because.append(f"EOP sessions reached Exchange again from "
                           f"{first_after:%Y-%m-%d %H:%M}Z, after the defers")
        elif others and not facts.heard_from_eop:
            if klass == REFUSED:
                confidence -= 0.1  # Exchange was receiving, from others: a refusal on the way
            because.append(f"the receive logs hold {others} session(s) from other sources "
                           "around that time but none at all from EOP"
                           + (", so something before Exchange turned EOP away"
                              if klass == REFUSED else ""))
        else:
            unknown.append("receive logs covering the time of the defers")
    elif not facts.evidence.session_count:
        unknown.append("the SMTP Receive protocol logs of the Front End servers")
    if klass != REFUSED and not facts.verdicts:
        confidence -= 0.05
    confidence = round(max(0.05, min(confidence, 0.95)), 2)

    first, last = min(e.time_utc for e in events), max(e.time_utc for e in events)
    explanation = kind.meaning.format(**fill) + (
        f" {len(events)} attempt(s) between {first:%Y-%m-%d %H:%M}Z and {last:%Y-%m-%d %H:%M}Z.")
    if because:
        text = "; ".join(because)
        explanation += " " + text[0].upper() + text[1:] + "."
    if unknown:
        explanation += " Would settle it: " + ", ".join(unknown) + "."
    evidence = [cite.trace_event(e) for e in events[:3]]
    return Finding(
        cause=kind.cause, severity="error", confidence=confidence,
        title=kind.title.format(**fill), explanation=explanation,
        remediation=tuple(step.format(**fill) for step in kind.remediation),
        evidence=tuple(evidence),
        details={"destination": dest, "attempts": len(events),
                 "first": first.isoformat(), "last": last.isoformat(),
                 "needs": unknown},
    )


def check(facts: Facts) -> list[Finding]:
    findings = []
    for klass in (REFUSED, TIMEOUT, RESET):
        events = _unexplained(facts, [e for e in facts.defers if failure_class(e) == klass])
        if events and (finding := _finding(facts, klass, events)):
            findings.append(finding)
    return findings

"""EOP delivering from addresses outside the published ranges.

Admins have repeatedly seen Exchange Online deliver from addresses the endpoints service does
not list (e.g. 40.95.x.x relays). A firewall that follows the published list refuses them,
and no ACL change "restores" them, so they get their own finding.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

from ...model import Cause
from ...model.report import Finding
from .. import cite
from ..facts import Facts, is_ip

EOP_HELO_SUFFIX = ".outbound.protection.outlook.com"


def _slash24(ip: str) -> str:
    bits = 24 if ipaddress.ip_address(ip).version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def check(facts: Facts) -> list[Finding]:
    published = facts.snapshot.eop_prefixes
    sessions = [s for s in facts.evidence.sessions
                if s.log_type == "receive" and s.ehlo and s.ehlo.lower().endswith(EOP_HELO_SUFFIX)
                and is_ip(s.remote_ip) and s.remote_ip not in published]
    events = [e for e in facts.defers + facts.sends
              if e.source_ip and is_ip(e.source_ip) and e.source_ip not in published]
    if not sessions and not events:
        return []
    sources = Counter(_slash24(s.remote_ip) for s in sessions)
    sources.update(_slash24(e.source_ip) for e in events if e.source_ip)
    nets = ", ".join(f"{net} ({n})" for net, n in sources.most_common(8))
    explanation = (
        f"Exchange Online connected from addresses that are not in {facts.snapshot.label}: "
        f"{nets}. A firewall that permits only the published ranges refuses them, so mail "
        "sent through those servers is deferred even when the ACL matches the published list.")
    evidence = [cite.session(s, f"EHLO {s.ehlo} from {s.remote_ip}") for s in sessions[:3]]
    evidence += [cite.trace_event(e) for e in events[:3]]
    return [Finding(
        cause=Cause.EOP_SOURCE_UNPUBLISHED, severity="warning", confidence=0.7,
        title=f"EOP delivered from {len(sources)} network(s) outside the published ranges",
        explanation=explanation,
        remediation=(
            "Confirm these are Microsoft's servers (reverse DNS ends in "
            "outbound.protection.outlook.com).",
            "Open a case with Microsoft support quoting the addresses and times; do not "
            "widen the ACL to whole /8s on a guess.",
            "If they must be admitted meanwhile, permit exactly the networks listed here."),
        evidence=tuple(evidence),
        details={"unpublished_sources": dict(sources)},
    )]

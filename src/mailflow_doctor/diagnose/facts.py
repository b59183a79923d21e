"""Facts derived once from the evidence and shared by every check.

Checks must agree on what the target is, which trace events are attempts to it, what the
firewall says per EOP range and when EOP sessions reached Exchange; computing that here keeps
the checks small and consistent with one another.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..evidence.collect import Evidence
from ..ipspace import PrefixSet
from ..knowledge.endpoints import Snapshot
from ..model.exchange import SmtpSession
from ..model.firewall import FlowVerdict
from ..model.trace import TraceEvent

# How long after the last defer EOP sessions still count as "at the time of the defers".
WINDOW_SLACK = timedelta(minutes=15)

# Classes of delivery failure, from the enhanced code and the Winsock code of a defer.
REFUSED, TIMEOUT, RESET, DNS, TLS, OTHER = "refused", "timeout", "reset", "dns", "tls", "other"
_BY_CODE = {"4.4.316": REFUSED, "5.4.316": REFUSED, "4.4.315": TIMEOUT, "4.4.318": RESET,
            "4.4.312": DNS, "4.4.317": TLS, "4.7.320": TLS}
_BY_SOCKET = {10061: REFUSED, 10060: TIMEOUT, 10054: RESET, 10053: RESET,
              11001: DNS, 11002: DNS, 11004: DNS}


def failure_class(event: TraceEvent) -> str:
    """Refused, timeout, reset, dns, tls or other, for a defer or fail event."""
    reason = event.reason
    if reason is None:
        return OTHER
    if reason.socket_error in _BY_SOCKET:
        return _BY_SOCKET[reason.socket_error]
    return _BY_CODE.get(reason.enhanced_code or "", OTHER)


@dataclass(frozen=True)
class Target:
    """The on-premises endpoint EOP delivers to."""

    ip: str | None
    fqdn: str | None
    port: int = 25
    origin: str = "trace"  # "trace" or "option"

    @property
    def endpoint(self) -> str | None:
        if self.ip is None:
            return None
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def matches(self, ip: str | None, fqdn: str | None) -> bool:
        if self.ip and ip:
            return ip == self.ip
        if self.fqdn and fqdn:
            return fqdn.lower() == self.fqdn.lower()
        return True


@dataclass(frozen=True)
class Activity:
    """EOP sessions seen in the receive logs from one part of the EOP address space."""

    prefixes: PrefixSet
    sessions: tuple[SmtpSession, ...]
    in_window: int  # sessions at the time of the defers

    @property
    def first(self) -> datetime | None:
        return min((s.start for s in self.sessions), default=None)

    @property
    def last(self) -> datetime | None:
        return max((s.start for s in self.sessions), default=None)


@dataclass
class Facts:
    """Everything the checks need, derived from the evidence in one place."""

    evidence: Evidence
    snapshot: Snapshot
    target: Target | None
    ingress: str | None = None
    defers: list[TraceEvent] = field(default_factory=list)  # defers/fails to the target
    sends: list[TraceEvent] = field(default_factory=list)  # successful sends to the target
    verdicts: list[FlowVerdict] = field(default_factory=list)
    eop_sessions: list[SmtpSession] = field(default_factory=list)

    @property
    def eop(self) -> PrefixSet:
        """Published EOP ranges of the target's address family (both when unknown)."""
        prefixes = self.snapshot.eop_prefixes
        if self.target and self.target.ip:
            return prefixes.family(ipaddress.ip_address(self.target.ip).version)  # type: ignore[arg-type]
        return prefixes

    @property
    def port(self) -> int:
        """The endpoint's TCP port: SMTP's unless the target says otherwise."""
        return self.target.port if self.target else 25

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        """From the first defer to a little after the last one.

        No slack before the first defer: whatever broke delivery broke it by then, and
        sessions just before it are the last ones that still worked.
        """
        if not self.defers:
            return None
        times = [e.time_utc for e in self.defers]
        return min(times), max(times) + WINDOW_SLACK

    @property
    def sessions_from_others(self) -> int:
        """Receive sessions in the logs' window from sources that are not EOP: evidence that
        the logs cover the time and Exchange was receiving. None of EOP's, published or not,
        is among them."""
        eop = sum(1 for s in self.evidence.sessions if s.log_type == "receive")
        return max(self.evidence.session_count - eop, 0)

    @property
    def heard_from_eop(self) -> bool:
        """Any receive session from EOP in the logs' window, from a published range or not."""
        return any(s.log_type == "receive" for s in self.evidence.sessions)

    def activity(self, prefixes: PrefixSet) -> Activity:
        hits = tuple(s for s in self.eop_sessions if s.remote_ip in prefixes)
        window = self.window
        in_window = sum(1 for s in hits if window and window[0] <= s.start <= window[1])
        return Activity(prefixes, hits, in_window)

    def trace_sources(self, events: list[TraceEvent]) -> list[str]:
        return [e.source_ip for e in events if e.source_ip and is_ip(e.source_ip)]


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_destination(text: str) -> Target:
    """`13.92.177.139`, `13.92.177.139:25`, `[2001:db8::25]:25` or `2001:db8::25`."""
    host, port = text.strip(), 25
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = int(rest.lstrip(":") or 25)
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # raises ValueError with a clear message
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return Target(host, None, port, origin="option")


def _target_from_trace(events: list[TraceEvent]) -> Target | None:
    failing = [e for e in events if e.event in ("defer", "fail") and e.reason]
    pool = failing or [e for e in events if e.event == "send"]
    ips = Counter(ip for e in pool if (ip := (e.reason.target_ip if e.reason else e.target_ip))
                  and is_ip(ip))
    hosts = Counter(h for e in pool if (h := (e.reason.target_host if e.reason else e.target_fqdn)))
    if not ips and not hosts:
        return None
    ip = ips.most_common(1)[0][0] if ips else None
    host = hosts.most_common(1)[0][0] if hosts else None
    return Target(ip, host)


def derive(evidence: Evidence, snapshot: Snapshot, destination: Target | None = None,
           ingress: str | None = None) -> Facts:
    """Work out the target, the attempts to it, the firewall verdicts and EOP's sessions."""
    target = destination or _target_from_trace(evidence.trace)
    if destination and not destination.fqdn:
        found = _target_from_trace(evidence.trace)
        if found and found.ip == destination.ip:
            target = Target(destination.ip, found.fqdn, destination.port, "option")
    facts = Facts(evidence, snapshot, target, ingress)

    for e in evidence.trace:
        ip = e.reason.target_ip if e.reason else e.target_ip
        host = e.reason.target_host if e.reason else e.target_fqdn
        if target and not target.matches(ip, host):
            continue
        if e.event in ("defer", "fail") and e.reason is not None:
            facts.defers.append(e)
        elif e.event == "send" and (e.target_ip or e.target_fqdn):
            facts.sends.append(e)

    if target and target.ip:
        address = ipaddress.ip_address(target.ip)
        for ruleset in evidence.firewalls:
            facts.verdicts.append(ruleset.evaluate(facts.eop, address, target.port, ingress))

    published = snapshot.eop_prefixes
    facts.eop_sessions = [s for s in evidence.sessions
                          if s.log_type == "receive" and is_ip(s.remote_ip)
                          and s.remote_ip in published]
    return facts

"""Which sessions: by source (one address, a CIDR, or the EOP ranges of a Microsoft 365
instance) and time window, read from the files the question needs first (see ingestion.ingest).

The other question, how EOP's traffic looked, is in summary.py.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

from ..ipspace import PrefixSet
from ..model.exchange import SmtpSession
from .db import CaseStore
from .load import query_sessions


@dataclass(frozen=True)
class SessionFilter:
    """Which sessions: sources (`ip`, `cidr`, EOP of an instance; united) and a time window."""

    ip: str | None = None
    cidr: str | None = None
    eop: bool | str = False  # True: worldwide; or an instance name
    since: datetime | None = None
    until: datetime | None = None

    @property
    def instance(self) -> str | None:
        if self.eop is False or self.eop is None:
            return None
        return "worldwide" if self.eop is True else str(self.eop)

    def prefixes(self) -> PrefixSet | None:
        """The source addresses asked for, None when any source will do.

        Raises ValueError for an address, CIDR or instance that is not one.
        """
        parts = []
        if self.ip:
            parts.append(PrefixSet.parse(ipaddress.ip_address(self.ip.strip())))
        if self.cidr:
            parts.append(PrefixSet.from_text(self.cidr))
        if self.instance:
            parts.append(eop_prefixes(self.instance))
        if not parts:
            return None
        out = PrefixSet()
        for p in parts:
            out = out | p
        return out

    def describe(self) -> str:
        what = [f"from {self.ip}" if self.ip else "", f"from {self.cidr}" if self.cidr else "",
                f"from EOP ({self.instance})" if self.instance else "",
                f"since {self.since:%Y-%m-%d %H:%M}Z" if self.since else "",
                f"until {self.until:%Y-%m-%d %H:%M}Z" if self.until else ""]
        return " ".join(w for w in what if w) or "of any source at any time"


def eop_prefixes(instance: str = "worldwide") -> PrefixSet:
    from ..knowledge.endpoints import snapshot

    return snapshot(instance).eop_prefixes


def sessions(store: CaseStore, ip: str | None = None, cidr: str | None = None,
             eop: bool | str = False, since: datetime | None = None,
             until: datetime | None = None, progress=None) -> list[SmtpSession]:
    """Sessions matching the filter, oldest first; reads the files the window needs first."""
    from . import ingest

    query = SessionFilter(ip, cidr, eop, since, until)
    prefixes = query.prefixes()
    ingest(store, since, until, progress)
    return query_sessions(store, since, until, prefixes)


_QUOTED = re.compile(r"(\w+)='([^']*)'")


def capability_parts(text: str | None) -> dict[str, str | None] | None:
    """The line and its `capabilities`, `status` and `domain` (each None when not written as
    `Key='value'`): `TlsDomainCapabilities='None'; Status='NoRemoteCertificate'`."""
    if not text:
        return None
    values = {key.lower(): value for key, value in _QUOTED.findall(text)}
    return {"text": text, "capabilities": values.get("tlsdomaincapabilities"),
            "status": values.get("status"), "domain": values.get("domain")}


def tls_parts(tls: str | None) -> tuple[str | None, str | None, str | None]:
    """(protocol, cipher, failure) of a session's `tls` text."""
    if not tls:
        return None, None, None
    if tls.startswith("failed: "):
        return None, None, tls[len("failed: "):]
    protocol, _, cipher = tls.partition(" ")
    return protocol, cipher or None, None

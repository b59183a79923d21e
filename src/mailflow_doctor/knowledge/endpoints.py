"""Microsoft 365 endpoint sets, offline: which source ranges EOP uses to deliver to on-premises.

The set that carries EOP's outbound SMTP has a different ID per cloud instance and has changed
(China moved it from ID 2 to 27 in 2025), so it is selected by what it is — TCP 25, IP prefixes,
and a mail-protection or MX host name — never by a fixed ID.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..ipspace import PrefixSet

INSTANCES = ("worldwide", "usgovdod", "usgovgcchigh", "china")
_DATA = Path(__file__).parent / "data" / "endpoints"
_MAIL_URL_MARKERS = ("protection", "-mx.", ".mx.")


@dataclass(frozen=True)
class EndpointSet:
    """One endpoint set of the web service response."""

    id: int
    service_area: str
    urls: tuple[str, ...]
    prefixes: PrefixSet
    tcp_ports: frozenset[int]
    category: str

    @property
    def is_eop_mail(self) -> bool:
        """True for the set(s) EOP delivers mail from: port 25, with addresses, mail host names."""
        return (
            25 in self.tcp_ports
            and bool(self.prefixes)
            and any(marker in url for url in self.urls for marker in _MAIL_URL_MARKERS)
        )


@dataclass(frozen=True)
class Snapshot:
    """A dated copy of one instance's endpoints (the EOP mail sets) and where it came from."""

    instance: str
    captured: str
    source: str
    eop_sets: tuple[EndpointSet, ...]

    @property
    def eop_prefixes(self) -> PrefixSet:
        """All EOP → on-premises SMTP source prefixes of this instance."""
        out = PrefixSet()
        for s in self.eop_sets:
            out = out | s.prefixes
        return out

    @property
    def label(self) -> str:
        ids = ", ".join(str(s.id) for s in self.eop_sets)
        return f"Microsoft 365 endpoints, {self.instance}, captured {self.captured} (set {ids})"


def _ports(text: str | None) -> frozenset[int]:
    ports: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            ports.update(range(int(lo), int(hi) + 1))
        elif part:
            ports.add(int(part))
    return frozenset(ports)


def parse_sets(payload: list[dict]) -> tuple[EndpointSet, ...]:
    """Turn the web service's JSON array into endpoint sets."""
    return tuple(
        EndpointSet(
            id=int(item["id"]),
            service_area=item.get("serviceArea", ""),
            urls=tuple(item.get("urls", ())),
            prefixes=PrefixSet.parse(*item.get("ips", ())),
            tcp_ports=_ports(item.get("tcpPorts")),
            category=item.get("category", ""),
        )
        for item in payload
    )


@cache
def snapshot(instance: str = "worldwide") -> Snapshot:
    """The bundled snapshot of an instance (`worldwide`, `usgovdod`, `usgovgcchigh`, `china`)."""
    key = instance.lower()
    if key not in INSTANCES:
        raise ValueError(f"unknown instance {instance!r}; choose one of {', '.join(INSTANCES)}")
    index = json.loads((_DATA / "snapshots.json").read_text(encoding="utf-8"))[key]
    payload = json.loads((_DATA / index["file"]).read_text(encoding="utf-8"))
    # Only sets with addresses and port 25 can be EOP's; parsing every set's prefixes would
    # cost each `logs` query 10 ms.
    candidates = [item for item in payload
                  if item.get("ips") and 25 in _ports(item.get("tcpPorts"))]
    return Snapshot(index["instance"], index["captured"], index["source"],
                    tuple(s for s in parse_sets(candidates) if s.is_eop_mail))

"""What the firewall's deny log says about EOP: denied attempts to the SMTP port per EOP range
and /24, with counts and first/last times — the `firewall drops` view and a check's input."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

from ..ipspace import PrefixSet
from ..model import DenyEvent


@dataclass
class DropGroup:
    """Denied attempts from one network."""

    network: str
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    destinations: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)
    sample: DenyEvent | None = None

    def add(self, e: DenyEvent) -> None:
        self.count += 1
        self.sample = self.sample or e
        self.destinations.add(f"{e.dest_ip}:{e.dest_port}")
        if e.rule:
            self.rules.add(e.rule)
        if e.time_utc:
            self.first = min(filter(None, (self.first, e.time_utc)))
            self.last = max(filter(None, (self.last, e.time_utc)))


@dataclass
class Drops:
    by_range: dict[str, DropGroup]
    by_24: dict[str, DropGroup]
    logged_only: int  # kernel LOG lines that do not say they dropped

    @property
    def prefixes(self) -> PrefixSet:
        return PrefixSet.parse(*self.by_24) if self.by_24 else PrefixSet()


def eop_drops(events: list[DenyEvent], published: PrefixSet, port: int = 25,
              destinations: set[str] | None = None) -> Drops:
    """Denies of EOP sources to `port` (optionally only to these destination addresses)."""
    ranges = published.networks()
    by_range: dict[str, DropGroup] = {}
    by_24: dict[str, DropGroup] = {}
    logged = 0
    for e in events:
        if e.dest_port != port or (destinations and e.dest_ip not in destinations):
            continue
        try:
            address = ipaddress.ip_address(e.source_ip)
        except ValueError:
            continue
        if e.source_ip not in published:
            continue
        if e.action != "deny":
            logged += 1
            continue
        home = next(str(n) for n in ranges if address in n)
        bits = 24 if address.version == 4 else 48
        block = str(ipaddress.ip_network(f"{address}/{bits}", strict=False))
        by_range.setdefault(home, DropGroup(home)).add(e)
        by_24.setdefault(block, DropGroup(block)).add(e)
    def order(item: tuple[str, DropGroup]) -> tuple[int, int]:
        net = ipaddress.ip_network(item[0])
        return net.version, int(net.network_address)

    return Drops(dict(sorted(by_range.items(), key=order)), dict(sorted(by_24.items(), key=order)),
                 logged)

"""What the firewall's deny log says about EOP: denied attempts to the SMTP port per EOP range
and /24, with counts and first/last times — the `firewall drops` view and a check's input."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from ..ipspace import PrefixSet
from ..model import DenyEvent


@lru_cache(maxsize=65536)
def _place(source: str, ranges: tuple[tuple[int, int, int, str], ...]) -> tuple[str, str] | None:
    """(published range, /24 or /48) of an EOP source; None for other sources. Cached: a log
    repeats the same senders many times."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return None
    value = int(address)
    home = next((name for lo, hi, version, name in ranges
                 if version == address.version and lo <= value <= hi), None)
    if home is None:
        return None
    if address.version == 4:
        return home, source.rsplit(".", 1)[0] + ".0/24"
    return home, str(ipaddress.ip_network(f"{address}/48", strict=False))


def eop_filter(published: PrefixSet, port: int = 25) -> Callable[[str, int], bool]:
    """For deny-log readers: keep only attempts from these ranges to this port."""
    ranges = tuple((int(n.network_address), int(n.broadcast_address), n.version, str(n))
                   for n in published.networks())
    return lambda source, dport: dport == port and _place(source, ranges) is not None


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
    ranges = tuple((int(n.network_address), int(n.broadcast_address), n.version, str(n))
                   for n in published.networks())
    by_range: dict[str, DropGroup] = {}
    by_24: dict[str, DropGroup] = {}
    logged = 0
    for e in events:
        if e.dest_port != port or (destinations and e.dest_ip not in destinations):
            continue
        place = _place(e.source_ip, ranges)
        if place is None:
            continue
        if e.action != "deny":
            logged += 1
            continue
        home, block = place
        by_range.setdefault(home, DropGroup(home)).add(e)
        by_24.setdefault(block, DropGroup(block)).add(e)

    def order(item: tuple[str, DropGroup]) -> tuple[int, int]:
        net = ipaddress.ip_network(item[0])
        return net.version, int(net.network_address)

    return Drops(dict(sorted(by_range.items(), key=order)), dict(sorted(by_24.items(), key=order)),
                 logged)

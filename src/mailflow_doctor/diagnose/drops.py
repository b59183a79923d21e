"""What the firewall's deny log says about EOP: denied attempts to the SMTP port per EOP range
and /24, with counts and first/last times — the `firewall drops` view and a check's input."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from socket import AF_INET, AF_INET6, inet_pton

from ..ipspace import PrefixSet
from ..model.firewall import DenyEvent


class _Ranges:
    """The published ranges as sorted intervals of packed addresses (bytes of one length compare
    as the numbers do) per family: placing a log's source is one bisect, not ipaddress objects
    per line; and for IPv4, whose /24s are seldom split by a range, one look-up per /24."""

    def __init__(self, published: PrefixSet) -> None:
        self._nets: dict[int, list[tuple[bytes, bytes, str]]] = {4: [], 6: []}
        for n in published.networks():
            self._nets[n.version].append(
                (n.network_address.packed, n.broadcast_address.packed, str(n)))
        self._starts = {v: [lo for lo, _, _ in nets] for v, nets in self._nets.items()}
        # IPv4 text without its last octet → place of the whole /24 (None: in no range), for the
        # /24s that lie wholly in one range or outside all; split ones are not kept
        self._whole_24s: dict[str, tuple[str, str] | None] = {}

    def home(self, source: str) -> tuple[str, int, bytes] | None:
        """(published range, family, packed address) of a source; None for other sources and
        non-addresses. IPv4 goes through inet_pton: as strict as ipaddress, far cheaper."""
        try:
            version, packed = 4, inet_pton(AF_INET, source)
        except (OSError, ValueError):
            try:
                address = ipaddress.ip_address(source)
            except ValueError:
                return None
            version, packed = address.version, address.packed
        nets = self._nets[version]
        i = bisect_right(self._starts[version], packed) - 1
        if i < 0 or packed > nets[i][1]:
            return None
        return nets[i][2], version, packed

    def place(self, source: str) -> tuple[str, str] | None:
        """(published range, /24 or /48) of a source; None for other sources."""
        head, _, last = source.rpartition(".")
        if last in _OCTETS:  # IPv4 text if `head` is; else (e.g. `::ffff:a.b.c.d`) not kept
            try:
                return self._whole_24s[head]
            except KeyError:
                if (whole := self._whole_24(head)) is not _SPLIT:
                    if len(self._whole_24s) >= 65536:
                        self._whole_24s.clear()
                    self._whole_24s[head] = whole
                    return whole
        if (found := self.home(source)) is None:
            return None
        home, version, packed = found
        if version == 4:
            return home, f"{head}.0/24"
        return home, str(ipaddress.IPv6Network((packed, 48), strict=False))

    def _whole_24(self, head: str) -> tuple[str, str] | None | object:
        """The place shared by every address of the /24 `head`.0/24; None if none of them is
        in a range (or `head` is not three octets); _SPLIT if some are, some are not."""
        try:
            low = inet_pton(AF_INET, f"{head}.0")
        except (OSError, ValueError):
            return None if ":" not in head else _SPLIT
        first, last = self.home(f"{head}.0"), self.home(f"{head}.255")
        if first is None and last is None:
            nets = self._nets[4]
            i = bisect_right(self._starts[4], low[:3] + b"\xff") - 1
            return None if i < 0 or nets[i][1] < low else _SPLIT  # a range inside the /24
        if first is not None and last is not None and first[0] == last[0]:
            return first[0], f"{head}.0/24"
        return _SPLIT


_OCTETS = frozenset(map(str, range(256)))  # the last octet of IPv4 text, as inet_pton reads it
_SPLIT = object()


class EopFilter:
    """For deny-log readers: keep only attempts from these ranges to this port (a deny_log.Want:
    the reader also skips lines that name none of `sources`)."""

    def __init__(self, published: PrefixSet, port: int) -> None:
        self.sources, self.port, self._ranges = published, port, _Ranges(published)

    def __call__(self, source: str, dport: int, /) -> bool:
        return dport == self.port and self._ranges.place(source) is not None


def eop_filter(published: PrefixSet, port: int = 25) -> EopFilter:
    """For deny-log readers: keep only attempts from these ranges to this port."""
    return EopFilter(published, port)


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

    @classmethod
    def of(cls, network: str, events: list[DenyEvent]) -> DropGroup:
        """The group of these attempts, in log order (the first is the sample). A group can
        hold most of a large log: its fields are read in C (attrgetter), each value once."""
        times = [t for t in map(_TIME, events) if t]
        return cls(network, len(events), min(times, default=None), max(times, default=None),
                   {f"{ip}:{port}" for ip, port in set(map(_DESTINATION, events))},
                   {rule for rule in set(map(_RULE, events)) if rule}, events[0])


_TIME, _DESTINATION, _RULE = (attrgetter("time_utc"), attrgetter("dest_ip", "dest_port"),
                              attrgetter("rule"))


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
    ranges = _Ranges(published)
    by_range: dict[str, list[DenyEvent]] = defaultdict(list)
    by_24: dict[str, list[DenyEvent]] = defaultdict(list)
    logged = 0
    for e in events:
        if e.dest_port != port or (destinations and e.dest_ip not in destinations):
            continue
        place = ranges.place(e.source_ip)
        if place is None:
            continue
        if e.action != "deny":
            logged += 1
            continue
        home, block = place
        by_range[home].append(e)
        by_24[block].append(e)
    return Drops(_groups(by_range), _groups(by_24), logged)


def _groups(lists: dict[str, list[DenyEvent]]) -> dict[str, DropGroup]:
    """One group per network, IPv4 first, each family in address order."""
    def order(network: str) -> tuple[bool, bytes]:  # networks as str() spells them
        address = network.partition("/")[0]
        return ":" in address, inet_pton(AF_INET6 if ":" in address else AF_INET, address)

    return {network: DropGroup.of(network, lists[network]) for network in sorted(lists, key=order)}

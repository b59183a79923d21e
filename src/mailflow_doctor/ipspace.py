"""Exact IPv4+IPv6 address-set algebra.

Firewall evaluation subtracts rule sources from the still-undecided EOP space one rule at a
time, so sets are kept as sorted, disjoint, inclusive integer intervals per address family:
union, intersection and difference are linear merges, membership is a bisect, and the result
collapses back to the minimal list of CIDR prefixes for reports and firewall fixes.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Family = Literal[4, 6]
Interval = tuple[int, int]
_BITS = {4: 32, 6: 128}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sort and merge overlapping or adjacent intervals."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def _intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        end = min(a[i][1], b[j][1])
        if start <= end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _subtract(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    out: list[Interval] = []
    j = 0
    for start, end in a:
        cur = start
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= end:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            if cur > end:
                break
            k += 1
        if cur <= end:
            out.append((cur, end))
    return tuple(out)


def _interval_to_cidrs(start: int, end: int, family: Family) -> list[IPNetwork]:
    """Split one inclusive interval into the fewest aligned CIDR blocks."""
    bits = _BITS[family]
    cls = ipaddress.IPv4Network if family == 4 else ipaddress.IPv6Network
    nets: list[IPNetwork] = []
    while start <= end:
        size = (start & -start).bit_length() - 1 if start else bits
        while size > 0 and start + (1 << size) - 1 > end:
            size -= 1
        nets.append(cls((start, bits - size)))
        start += 1 << size
    return nets


@dataclass(frozen=True)
class PrefixSet:
    """An immutable set of IPv4 and IPv6 addresses."""

    v4: tuple[Interval, ...] = ()
    v6: tuple[Interval, ...] = ()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def parse(cls, *items: str | IPNetwork | IPAddress) -> PrefixSet:
        """Build from CIDR strings, bare addresses or ipaddress objects (host bits tolerated)."""
        v4: list[Interval] = []
        v6: list[Interval] = []
        for item in items:
            net = ipaddress.ip_network(item, strict=False) if not isinstance(
                item, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else item
            (v4 if net.version == 4 else v6).append(
                (int(net.network_address), int(net.broadcast_address)))
        return cls(_normalise(v4), _normalise(v6))

    @classmethod
    def from_range(cls, first: str, last: str) -> PrefixSet:
        """An inclusive address range such as an ASA `range` object or iptables `--src-range`."""
        a, b = ipaddress.ip_address(first), ipaddress.ip_address(last)
        if a.version != b.version:
            raise ValueError(f"range mixes address families: {first}-{last}")
        lo, hi = sorted((int(a), int(b)))
        return cls(((lo, hi),), ()) if a.version == 4 else cls((), ((lo, hi),))

    @classmethod
    def from_text(cls, text: str) -> PrefixSet:
        """`10.0.0.0/8`, `10.0.0.1` or a range `10.0.0.1-10.0.0.9`, as configurations write them."""
        if "-" in text and "/" not in text:
            first, last = text.split("-", 1)
            return cls.from_range(first.strip(), last.strip())
        return cls.parse(text.strip())

    @classmethod
    def everything(cls, family: Family | None = None) -> PrefixSet:
        """All addresses of one family, or of both (`any` in a rule)."""
        v4 = ((0, 2**32 - 1),) if family in (None, 4) else ()
        v6 = ((0, 2**128 - 1),) if family in (None, 6) else ()
        return cls(v4, v6)

    # -- algebra ------------------------------------------------------------------------------
    def __or__(self, other: PrefixSet) -> PrefixSet:
        return PrefixSet(_normalise(self.v4 + other.v4), _normalise(self.v6 + other.v6))

    def __and__(self, other: PrefixSet) -> PrefixSet:
        return PrefixSet(_intersect(self.v4, other.v4), _intersect(self.v6, other.v6))

    def __sub__(self, other: PrefixSet) -> PrefixSet:
        return PrefixSet(_subtract(self.v4, other.v4), _subtract(self.v6, other.v6))

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def __contains__(self, address: object) -> bool:
        ip = ipaddress.ip_address(address)  # type: ignore[arg-type]
        intervals = self.v4 if ip.version == 4 else self.v6
        value = int(ip)
        i = bisect_right(intervals, (value, 2**129)) - 1
        return i >= 0 and intervals[i][0] <= value <= intervals[i][1]

    def covers(self, other: PrefixSet) -> bool:
        """True when every address of `other` is in this set."""
        return not (other - self)

    def family(self, family: Family) -> PrefixSet:
        """Only the IPv4 or only the IPv6 part."""
        return PrefixSet(self.v4, ()) if family == 4 else PrefixSet((), self.v6)

    @property
    def families(self) -> set[int]:
        return {f for f, part in ((4, self.v4), (6, self.v6)) if part}

    def size(self) -> int:
        """Number of addresses (IPv4 and IPv6 added together)."""
        return sum(e - s + 1 for s, e in self.v4 + self.v6)

    # -- output -------------------------------------------------------------------------------
    def networks(self) -> list[IPNetwork]:
        """Minimal CIDR blocks, IPv4 first, each family in address order."""
        nets: list[IPNetwork] = []
        for family, intervals in ((4, self.v4), (6, self.v6)):
            for start, end in intervals:
                nets.extend(_interval_to_cidrs(start, end, family))  # type: ignore[arg-type]
        return nets

    def cidrs(self) -> list[str]:
        """Minimal CIDR strings, as used in reports (`104.47.0.0/17`)."""
        return [str(n) for n in self.networks()]

    def __str__(self) -> str:
        return ", ".join(self.cidrs()) or "(none)"


def union(parts: Iterable[PrefixSet]) -> PrefixSet:
    """All addresses of any of the sets."""
    v4: list[Interval] = []
    v6: list[Interval] = []
    for p in parts:
        v4.extend(p.v4)
        v6.extend(p.v6)
    return PrefixSet(_normalise(v4), _normalise(v6))

"""Firewall deny logs: Linux kernel LOG lines (iptables `-j LOG`, nft `log`) and Cisco ASA
syslog (106001, 106023, 106100, 710003).

Only TCP attempts are kept, each with its time, source, destination and port. A kernel LOG line
does not say whether the packet was then dropped: it counts as a deny only when its log prefix
says so (drop, deny, block, reject); otherwise it is kept as "logged". ASA 106015 (a packet
without a connection) is not a policy decision and is skipped. Syslog headers often lack the
year; it is taken from `year` (default: the file's modification year).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from ...model import DenyEvent, InputProblem, Location, Parsed
from ..textio import iter_lines

KIND = "firewall-deny-log"

_KERNEL = re.compile(
    r"IN=(?P<in>\S*) OUT=\S*.*? SRC=(?P<src>[0-9a-fA-F.:]+) "
    r"DST=(?P<dst>[0-9a-fA-F.:]+) .*?PROTO=(?P<proto>\S+)(?: SPT=\d+ DPT=(?P<dport>\d+))?")
# ASA/FTD message bodies, by message id; each is matched right after `%ASA-<level>-<id>: `.
_ASA_ID = re.compile(r"%(?:ASA|FTD)-\d-(\d{6}): ")
_ASA_BODIES = {
    "106023": re.compile(
        r"Deny (?P<proto>\w+) src (?P<in>[^:\s]+):(?P<src>[0-9a-fA-F.:]+?)/\d+ dst "
        r"[^:\s]+:(?P<dst>[0-9a-fA-F.:]+?)/(?P<dport>\d+).*?by access-group \"(?P<acl>[^\"]+)\""),
    "106100": re.compile(
        r"access-list (?P<acl>\S+) denied (?P<proto>\w+) (?P<in>[^/\s]+)/(?P<src>[0-9a-fA-F.:]+)"
        r"\(\d+\) -> [^/\s]+/(?P<dst>[0-9a-fA-F.:]+)\((?P<dport>\d+)\)"),
    "106001": re.compile(
        r"Inbound (?P<proto>TCP) connection denied from (?P<src>[0-9a-fA-F.:]+)/\d+ to "
        r"(?P<dst>[0-9a-fA-F.:]+)/(?P<dport>\d+) .*?on interface (?P<in>\S+)"),
    "710003": re.compile(
        r"(?P<proto>TCP) access denied by ACL from (?P<src>[0-9a-fA-F.:]+)/\d+ to "
        r"(?P<in>[^:\s]+):(?P<dst>[0-9a-fA-F.:]+)/(?P<dport>\d+)"),
}
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_DENY_WORDS = re.compile(r"drop|deny|denied|block|reject", re.I)
# Syslog headers put the time first: RFC 5424/ISO, or BSD `Mmm dd [yyyy] hh:mm:ss`.
_STAMP = re.compile(
    r"(?:<\d+>)?(?:1 )?(?:(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)|(?P<bsd>[A-Z][a-z]{2}\s+\d{1,2}(?:\s+\d{4})?\s+\d{2}:\d{2}:\d{2}))")


def sniff(head: str) -> bool:
    lines = head.splitlines()[:50]
    hits = sum(1 for ln in lines if ("IN=" in ln and " SRC=" in ln and " DST=" in ln)
               or re.search(r"%(?:ASA|FTD)-\d-(?:106\d{3}|710003)", ln))
    return hits > 0 and hits * 10 >= len([ln for ln in lines if ln.strip()])


def _time(line: str, year: int) -> datetime | None:
    m = _STAMP.match(line)
    if not m:
        return None
    return _parse_stamp(m.group("iso") or "", m.group("bsd") or "", year)


@lru_cache(maxsize=4096)
def _parse_stamp(iso: str, bsd: str, year: int) -> datetime | None:
    """Log lines share their second with many others: parse each distinct stamp once."""
    try:
        if iso:
            value = datetime.fromisoformat(iso.replace("Z", "+00:00"))
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        parts = bsd.split()
        if len(parts) == 3:
            parts.insert(2, str(year))
        month, day, yr, hms = parts
        hh, mm, ss = hms.split(":")
        return datetime(int(yr), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=UTC)
    except (ValueError, KeyError):
        return None


def _event(line: str, year: int, location: Location) -> DenyEvent | None:
    if "%ASA-" in line or "%FTD-" in line:
        head = _ASA_ID.search(line)
        body = _ASA_BODIES.get(head.group(1)) if head else None
        if head and body and (m := body.match(line, head.end())):
            return _make(m, line, year, location, "deny", m.groupdict().get("acl"))
        return None
    if " SRC=" in line and "PROTO=TCP" in line and (m := _KERNEL.search(line)):
        prefix = _log_prefix(line[:m.start()])
        action = "deny" if prefix and _DENY_WORDS.search(prefix) else "logged"
        return _make(m, line, year, location, action, prefix)
    return None


def _log_prefix(head: str) -> str | None:
    """The `--log-prefix` text: what stands between `kernel: [uptime]` and `IN=`."""
    head = head.split("kernel:", 1)[-1]
    head = re.sub(r"^\s*\[\s*\d+\.\d+\]", "", head)
    return head.strip() or None


def _make(m: re.Match[str], line: str, year: int, location: Location, action: str,
          rule: str | None) -> DenyEvent | None:
    if m.group("proto").upper() != "TCP" or not m.group("dport"):
        return None
    return DenyEvent(_time(line, year), m.group("src"), m.group("dst"), int(m.group("dport")),
                     location, action, rule, m.group("in") or None, line.strip()[:300])  # type: ignore[arg-type]


def iter_events(path: str | Path, year: int | None = None
                ) -> Iterator[DenyEvent | InputProblem]:
    source = str(path)
    year = year or datetime.fromtimestamp(Path(path).stat().st_mtime, UTC).year
    for item in iter_lines(path):
        if isinstance(item, InputProblem):
            yield item
            continue
        number, text, _ = item
        if event := _event(text, year, Location(source, number)):
            yield event


def parse(path: str | Path) -> Parsed[DenyEvent]:
    parsed: Parsed[DenyEvent] = Parsed()
    for item in iter_events(path):
        (parsed.problems if isinstance(item, InputProblem) else parsed.records).append(item)
    return parsed

"""Firewall deny logs: Linux kernel LOG lines (iptables `-j LOG`, nft `log`), Cisco ASA syslog
(106001, 106023, 106100, 710003), Cisco IOS `%SEC-6-IPACCESSLOGP`, PAN-OS TRAFFIC logs (CSV),
FortiGate traffic logs (key=value) and pfSense `filterlog` (CSV).

Only TCP attempts are kept, each with its time, source, destination and port. A kernel LOG line
does not say whether the packet was then dropped: it counts as a deny only when its log prefix
says so (drop, deny, block, reject); otherwise it is kept as "logged". ASA 106015 (a packet
without a connection) is not a policy decision and is skipped. Syslog headers often lack the
year; it is taken from `year` (default: the file's modification year).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from ...model import DenyEvent, InputProblem, Location, Parsed

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
_IOS = re.compile(
    r"%SEC-6-IPACCESSLOGP: list (?P<acl>\S+) denied (?P<proto>\w+) (?P<src>[0-9a-fA-F.:]+)"
    r"\(\d+\)(?: \((?P<in>[^ )]+)[^)]*\))? -> (?P<dst>[0-9a-fA-F.:]+)\((?P<dport>\d+)\)")
_KV = re.compile(r'(\w+)=(?:"([^"]*)"|(\S+))')
_PAN_DENY = {"deny", "drop", "reset-client", "reset-server", "reset-both", "drop-icmp"}
_FORTI_DENY = {"deny", "drop", "block", "blocked"}
_DENY_WORDS = re.compile(r"drop|deny|denied|block|reject", re.I)
# Syslog headers put the time first: RFC 5424/ISO, or BSD `Mmm dd [yyyy] hh:mm:ss`.
_STAMP = re.compile(
    r"(?:<\d+>)?(?:1 )?(?:(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)|(?P<bsd>[A-Z][a-z]{2}\s+\d{1,2}(?:\s+\d{4})?\s+\d{2}:\d{2}:\d{2}))")


def sniff(head: str) -> bool:
    lines = head.splitlines()[:50]
    hits = sum(1 for ln in lines if ("IN=" in ln and " SRC=" in ln and " DST=" in ln)
               or re.search(r"%(?:ASA|FTD)-\d-(?:106\d{3}|710003)|%SEC-6-IPACCESSLOGP|"
                            r",TRAFFIC,|filterlog|srcip=\S+ .*dstip=", ln))
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


Want = Callable[[str, int], bool]  # (source address, destination port) → keep this deny?


@dataclass(frozen=True)
class _Scan:
    """What every line of one file is read with."""

    source: str
    year: int
    want: Want | None = None

    def keep(self, src: str, dport: int) -> bool:
        return self.want is None or self.want(src, dport)


def _event(line: str, scan: _Scan, number: int) -> DenyEvent | None:
    if "%ASA-" in line or "%FTD-" in line:
        head = _ASA_ID.search(line)
        body = _ASA_BODIES.get(head.group(1)) if head else None
        if head and body and (m := body.match(line, head.end())):
            return _make(m, line, scan, number, "deny", m.groupdict().get("acl"))
        return None
    if "%SEC-6-IPACCESSLOGP" in line and (m := _IOS.search(line)):
        return _make(m, line, scan, number, "deny", m.group("acl"))
    if ",TRAFFIC," in line:
        return _panos(line, scan, number)
    if "filterlog" in line:
        return _filterlog(line, scan, number)
    if "srcip=" in line and "dstip=" in line:
        return _fortigate(line, scan, number)
    if " SRC=" in line and "PROTO=TCP" in line and (m := _KERNEL.search(line)):
        prefix = _log_prefix(line[:m.start()])
        action = "deny" if prefix and _DENY_WORDS.search(prefix) else "logged"
        return _make(m, line, scan, number, action, prefix)
    return None


def _record(line: str, scan: _Scan, number: int, src: str, dst: str, dport: str,
            rule: str | None, interface: str | None, when: datetime | None = None
            ) -> DenyEvent | None:
    if not dport.isdigit() or not scan.keep(src, int(dport)):
        return None
    return DenyEvent(when or _time(line, scan.year), src, dst, int(dport),
                     Location(scan.source, number), "deny", rule, interface or None,
                     line.strip()[:300])


def _panos(line: str, scan: _Scan, number: int) -> DenyEvent | None:
    """PAN-OS TRAFFIC CSV, fields counted from `TRAFFIC` (the 9.1+ order)."""
    f = next(csv.reader([line]), [])
    t = f.index("TRAFFIC") if "TRAFFIC" in f else -1
    if t < 0 or len(f) <= t + 27 or f[t + 26] != "tcp":
        return None
    if f[t + 27] not in _PAN_DENY and f[t + 1] not in ("deny", "drop"):
        return None
    when = _parse_stamp(f[t + 3].replace("/", "-").replace(" ", "T"), "", scan.year)
    return _record(line, scan, number, f[t + 4], f[t + 5], f[t + 22], f[t + 8] or None,
                   f[t + 15], when)


def _filterlog(line: str, scan: _Scan, number: int) -> DenyEvent | None:
    """pfSense filterlog CSV: IPv4 and IPv6 put the addresses at different positions."""
    payload = re.split(r"filterlog(?:\[\d+\]:|\s+\S+\s+-\s+-)\s*", line, maxsplit=1)
    if len(payload) != 2:
        return None
    f = payload[1].split(",")
    if len(f) < 22 or f[6] != "block":
        return None
    if f[8] == "4" and f[16] == "tcp":
        return _record(line, scan, number, f[18], f[19], f[21], f[3], f[4])
    if f[8] == "6" and f[12] == "tcp" and len(f) > 18:
        return _record(line, scan, number, f[15], f[16], f[18], f[3], f[4])
    return None


def _fortigate(line: str, scan: _Scan, number: int) -> DenyEvent | None:
    kv = {k: quoted or bare for k, quoted, bare in _KV.findall(line)}
    if kv.get("type", "traffic") != "traffic" or kv.get("proto") != "6":
        return None
    if kv.get("action", "") not in _FORTI_DENY:
        return None
    when = _parse_stamp(f"{kv['date']}T{kv['time']}{kv.get('tz', '')}", "", 1) \
        if kv.get("date") and kv.get("time") else None
    return _record(line, scan, number, kv.get("srcip", ""), kv.get("dstip", ""),
                   kv.get("dstport", ""), kv.get("policyid"), kv.get("srcintf"), when)


def _log_prefix(head: str) -> str | None:
    """The `--log-prefix` text: what stands between `kernel: [uptime]` and `IN=`."""
    head = head.split("kernel:", 1)[-1]
    head = re.sub(r"^\s*\[\s*\d+\.\d+\]", "", head)
    return head.strip() or None


def _make(m: re.Match[str], line: str, scan: _Scan, number: int, action: str,
          rule: str | None) -> DenyEvent | None:
    if m.group("proto").upper() != "TCP" or not m.group("dport"):
        return None
    src, dport = m.group("src"), int(m.group("dport"))
    if not scan.keep(src, dport):
        return None
    return DenyEvent(_time(line, scan.year), src, m.group("dst"), dport,
                     Location(scan.source, number), action, rule,  # type: ignore[arg-type]
                     m.group("in") or None, line.strip()[:300])


# Lines worth a closer look; all others are skipped inside the regex engine, in C.
_MARKER = re.compile(r"%ASA-|%FTD-|%SEC-6-IPACCESSLOGP|,TRAFFIC,|filterlog| SRC=|srcip=")
BLOCK = 1 << 22  # bytes read at a time


def iter_events(path: str | Path, year: int | None = None, want: Want | None = None
                ) -> Iterator[DenyEvent | InputProblem]:
    """Stream the events of a log of any size: blocks of whole lines, scanned by one regex.

    `want` drops uninteresting denies before any record is built (e.g. not EOP, not port 25).
    """
    source = str(path)
    year = year or datetime.fromtimestamp(Path(path).stat().st_mtime, UTC).year
    scan = _Scan(source, year, want)
    line, warned, carry = 1, False, b""
    with open(source, "rb") as fh:
        while True:
            chunk = fh.read(BLOCK)
            data = carry + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            if not chunk and not data:
                return
            if cut == 0:  # one line longer than a block: keep reading
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            text = block.decode("utf-8", errors="replace")
            if not warned and "\ufffd" in text:
                warned = True
                yield InputProblem(Location(source, line + text.count("\n", 0, text.index(
                    "\ufffd"))), "undecodable bytes replaced (first such line)")
            pos = counted = 0
            while m := _MARKER.search(text, pos):
                start = text.rfind("\n", 0, m.start()) + 1
                end = text.find("\n", m.end())
                end = len(text) if end < 0 else end
                line += text.count("\n", counted, start)
                counted = start
                if event := _event(text[start:end], scan, line):
                    yield event
                pos = end + 1
            line += text.count("\n", counted)
            if not chunk:
                return


def parse(path: str | Path, want: Want | None = None) -> Parsed[DenyEvent]:
    parsed: Parsed[DenyEvent] = Parsed()
    for item in iter_events(path, want=want):
        (parsed.problems if isinstance(item, InputProblem) else parsed.records).append(item)
    return parsed

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
import os
import re
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ...ipspace import PrefixSet
from ...model import InputProblem, Location, Parsed
from ...model.firewall import DenyEvent
from .._records import cycle_collection_paused, draft_of
from ..textio import gathered

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

KIND = "firewall-deny-log"

# Kernel LOG fields are `KEY=value` tokens between white space: skipped a token at a time, not
# a character at a time (three times cheaper).
_KERNEL = re.compile(
    r"IN=(?P<in>\S*)\s+OUT=\S*\s+(?:\S+\s+)*?SRC=(?P<src>[0-9a-fA-F.:]+)\s+"
    r"DST=(?P<dst>[0-9a-fA-F.:]+)\s+(?:\S+\s+)*?PROTO=(?P<proto>\S+)"
    r"(?:\s+SPT=\d+\s+DPT=(?P<dport>\d+))?")
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


def _time(line: str, scan: _Scan) -> datetime | None:
    """The time a line starts with. Most lines start `Mmm dd hh:mm:ss ` (BSD syslog): their
    minute is found by its text in `scan.minutes` (built once), and the seconds are added."""
    if line[12:13] == ":" and (second := _SECONDS_TEXT.get(line[13:15])) is not None:
        minute = scan.minutes.get(line[:12])
        if minute is None and _BSD_MINUTE.fullmatch(line, 0, 12):
            try:
                minute = _minute(line[:12], scan.year)
            except (ValueError, KeyError):  # no such day or time: read below, as None
                pass
            else:
                if len(scan.minutes) >= 4096:
                    scan.minutes.clear()
                scan.minutes[line[:12]] = minute
        if minute is not None:
            return minute + second
    m = _STAMP.match(line)
    if not m:
        return None
    iso, bsd = m.group("iso", "bsd")
    if iso:
        return _parse_iso(iso)
    try:  # `_STAMP` checked the shape
        return _minute(bsd[:-3], scan.year) + _SECONDS[int(bsd[-2:])]
    except (ValueError, KeyError, IndexError):
        return None


@lru_cache(maxsize=4096)
def _parse_iso(iso: str) -> datetime | None:
    """Log lines share their second with many others: parse each distinct stamp once."""
    try:
        value = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):  # no such time, or outside datetime's years in UTC
        return None


@lru_cache(maxsize=1024)
def _minute(head: str, year: int) -> datetime:
    """A sparse log seldom shares a second but does share minutes: build each minute once."""
    month, day, *yr, hm = head.split()
    return datetime(int(yr[0]) if yr else year, _MONTHS[month], int(day), int(hm[:2]),
                    int(hm[3:]), tzinfo=UTC)


_SECONDS = tuple(timedelta(seconds=s) for s in range(60))  # no leap second: `:60` is refused
_SECONDS_TEXT = {f"{s:02d}": second for s, second in enumerate(_SECONDS)}
# A BSD stamp's minute in one spelling (ASCII, one space, two-digit day): a line starting so and
# then `:ss` (ss < 60) has the stamp `_STAMP` reads from its first 15 characters, whatever follows.
_BSD_MINUTE = re.compile(r"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}")


class Want(Protocol):
    """A caller's question, asked while reading so that only its answers become records.

    `want(source, port)` decides which denies to keep; `sources` holds every source it can keep,
    so that lines naming none of them are passed over by their text, before any line is parsed.
    For half of a large file it is called in a forked copy of the process (see `parse`): it must
    answer, not record what it is asked.
    """

    sources: PrefixSet

    def __call__(self, source: str, dport: int, /) -> bool: ...


@dataclass(frozen=True)
class _Scan:
    """What every line of one file is read with."""

    source: str
    year: int
    want: Want | None = None
    minutes: dict[str, datetime] = field(default_factory=dict, compare=False)  # see `_time`


def _event(line: str, scan: _Scan, number: int) -> DenyEvent | None:
    if "%" in line:  # one quick test for the message ids below
        if "%ASA-" in line or "%FTD-" in line:
            head = _ASA_ID.search(line)
            body = _ASA_BODIES.get(head.group(1)) if head else None
            if head and body and (m := body.match(line, head.end())):
                return _make(m, line, scan, number, "deny",
                             m["acl"] if "acl" in body.groupindex else None)
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
        prefix = _log_prefix(line, m.start())
        return _make(m, line, scan, number, _action(prefix), prefix)
    return None


def _record(line: str, scan: _Scan, number: int, src: str, dst: str, dport: str,
            rule: str | None, interface: str | None, when: datetime | None = None
            ) -> DenyEvent | None:
    if not dport.isdigit() or (scan.want is not None and not scan.want(src, int(dport))):
        return None
    return _deny(when or _time(line, scan), src, dst, int(dport), scan.source, number,
                 "deny", rule, interface or None, _excerpt(line))


def _panos(line: str, scan: _Scan, number: int) -> DenyEvent | None:
    """PAN-OS TRAFFIC CSV, fields counted from `TRAFFIC` (the 9.1+ order)."""
    f = next(csv.reader([line]), [])
    t = f.index("TRAFFIC") if "TRAFFIC" in f else -1
    if t < 0 or len(f) <= t + 27 or f[t + 26] != "tcp":
        return None
    if f[t + 27] not in _PAN_DENY and f[t + 1] not in ("deny", "drop"):
        return None
    when = _parse_iso(f[t + 3].replace("/", "-").replace(" ", "T"))
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
    when = _parse_iso(f"{kv['date']}T{kv['time']}{kv.get('tz', '')}") \
        if kv.get("date") and kv.get("time") else None
    return _record(line, scan, number, kv.get("srcip", ""), kv.get("dstip", ""),
                   kv.get("dstport", ""), kv.get("policyid"), kv.get("srcintf"), when)


_KERNEL_HEAD = re.compile(r"(?:.*?kernel:)?\s*(?:\[\s*\d+\.\d+\])?")  # the first `kernel:`


def _log_prefix(line: str, end: int) -> str | None:
    """The `--log-prefix` text: what stands between `kernel: [uptime]` and `IN=` (at `end`)."""
    return line[_KERNEL_HEAD.match(line, 0, end).end():end].strip() or None  # type: ignore[union-attr]


@lru_cache(maxsize=256)
def _action(prefix: str | None) -> str:
    """What a kernel LOG line did, by its prefix: a firewall logs with only a few prefixes."""
    return "deny" if prefix and _DENY_WORDS.search(prefix) else "logged"


def _make(m: re.Match[str], line: str, scan: _Scan, number: int, action: str,
          rule: str | None) -> DenyEvent | None:
    proto, src, dst, dport, interface = m.group("proto", "src", "dst", "dport", "in")
    if proto.upper() != "TCP" or not dport:
        return None
    port = int(dport)
    if scan.want is not None and not scan.want(src, port):
        return None
    return _deny(_time(line, scan), src, dst, port, scan.source, number, action, rule,
                 interface or None, _excerpt(line))


# Both frozen: their __init__ would cost ~3 µs an event (see _records).
_LocationDraft, _DenyDraft = draft_of(Location), draft_of(DenyEvent)


def _excerpt(line: str) -> str:
    return line.strip()[:300]


def _deny(when: datetime | None, src: str, dst: str, port: int, source: str, number: int,
          action: str, rule: str | None, interface: str | None, excerpt: str) -> DenyEvent:
    """The DenyEvent of a line, equal to the one its constructor would build."""
    location = _LocationDraft()
    location.source = source
    location.line = number
    location.__class__ = Location
    event = _DenyDraft()
    event.time_utc = when
    event.source_ip = src
    event.dest_ip = dst
    event.dest_port = port
    event.location = location
    event.action = action
    event.rule = rule
    event.interface = interface
    event.excerpt = excerpt
    event.__class__ = DenyEvent
    return event  # type: ignore[return-value]


# Lines worth a closer look (each has one of these); all others are skipped in C.
_MARKERS = ("%ASA-", "%FTD-", "%SEC-6-IPACCESSLOGP", ",TRAFFIC,", "filterlog", " SRC=", "srcip=")
# With a question: marker → what follows it up to the source address, as the line patterns
# above read it (ASA/FTD 106023, 106100, 106001, 710003 and IOS; kernel LOG; FortiGate), so
# that only lines naming a wanted source are read. PAN-OS and pfSense put the source in a CSV
# field (None): every line with their marker is read.
_SOURCE_LEADS = {
    "%": r"(?:(?:ASA|FTD)-\d-(?:106023: Deny \w+ src [^:\s]+:|106100: access-list \S+ denied \w+ "
         r"[^/\s]+/|106001: Inbound TCP connection denied from |710003: TCP access denied by ACL "
         r"from )|SEC-6-IPACCESSLOGP: list \S+ denied \w+ )",
    "SRC=": "",
    "srcip=": '"?',
    ",TRAFFIC,": None,
    "filterlog": None,
}
BLOCK = 1 << 22  # bytes read at a time


def _source_starts(sources: PrefixSet) -> str:
    """A pattern matching how the text of every address in `sources` begins (and of others).

    IPv4 text is canonical (no leading zeros, as ipaddress wants it), so whole octets, and a
    split octet with few values, can be spelt out; IPv6 text is not: anything with a colon.
    """
    starts = set()
    for net in sources.family(4).networks():
        whole, rest = divmod(min(net.prefixlen, 24), 8)
        octets = net.network_address.packed
        head = "".join(f"{o}." for o in octets[:whole])
        span = 1 << (8 - rest)
        if rest and span <= 16:
            starts.update(f"{head}{o}." for o in range(octets[whole], octets[whole] + span))
        else:
            starts.add(head)
    alternatives = sorted(map(re.escape, starts)) + ([r"[0-9A-Fa-f]*:"] if sources.v6 else [])
    return "(?:" + "|".join(alternatives) + ")"


def _scanners(want: Want | None) -> list[tuple[str, re.Pattern[str]]]:
    """(marker, pattern) pairs that find, in a block, every line a (wanted) deny can be read
    from; a pattern runs only on blocks holding its marker (a much cheaper test than a regex).

    They may find more: each line found is read by `_event`, which alone decides.
    """
    if want is None:
        return [(marker, re.compile(re.escape(marker))) for marker in _MARKERS]
    wanted = f"(?={_source_starts(want.sources)})"
    return [(marker, re.compile(re.escape(marker) + ("" if lead is None else lead + wanted)))
            for marker, lead in _SOURCE_LEADS.items()]


def iter_events(path: str | Path, year: int | None = None, want: Want | None = None
                ) -> Iterator[DenyEvent | InputProblem]:
    """Stream the events of a log of any size (see `_events`).

    `want` drops uninteresting denies before any record is built (e.g. not EOP, not port 25),
    and its `sources` narrow the lines read at all.
    """
    yield from _events(_Scan(str(path), year or _year(path), want))


def _year(path: str | Path) -> int:
    return datetime.fromtimestamp(Path(path).stat().st_mtime, UTC).year


_UNDECODABLE = "undecodable bytes replaced (first such line)"


def _events(scan: _Scan, start: int = 0, stop: int | None = None, line: int = 1
            ) -> Generator[DenyEvent | InputProblem, None, int]:
    """The events of the bytes `start`..`stop` (whole lines) of a file, its first line
    numbered `line`: blocks of whole lines, scanned in C for the lines worth reading; only
    those are parsed, one by one, and numbered by counting the newlines before them.
    Returns the number the next line would have."""
    scanners = _scanners(scan.want)
    warned, carry = False, b""
    left = -1 if stop is None else stop - start  # bytes still to read; -1: to the end
    with open(scan.source, "rb") as fh:
        fh.seek(start)
        while True:
            chunk = fh.read(BLOCK if left < 0 else min(BLOCK, left))
            left -= len(chunk) if left > 0 else 0
            data = carry + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            if not chunk and not data:
                return line
            if cut == 0:  # one line longer than a block: keep reading
                carry = data
                continue
            block, carry = data[:cut], data[cut:]
            text = block.decode("utf-8", errors="replace")
            if not warned and "\ufffd" in text:
                warned = True
                yield InputProblem(Location(scan.source, line + text.count("\n", 0, text.index(
                    "\ufffd"))), _UNDECODABLE)
            counted, previous = 0, -1
            for begin in sorted([text.rfind("\n", 0, m.start()) + 1
                                 for marker, scanner in scanners if marker in text
                                 for m in scanner.finditer(text)]):
                if begin == previous:  # found twice
                    continue
                previous = begin
                end = text.find("\n", begin)
                line += text.count("\n", counted, begin)
                counted = begin
                if event := _event(text[begin:end if end >= 0 else len(text)], scan, line):
                    yield event
            line += text.count("\n", counted)
            if not chunk:
                return line


# A file this large is read by two processes at once, a half each, when the machine gives this
# process two cores (see `_read_in_two`); below it, starting the second costs more than it saves.
SPLIT_MIN = 32 << 20


def parse(path: str | Path, want: Want | None = None) -> Parsed[DenyEvent]:
    """All events and problems of a log, in file order; a large file is read with two cores
    (`_read_in_two`), with the same result."""
    with cycle_collection_paused():  # the records hold no cycles: see _records
        scan = _Scan(str(path), _year(path), want)
        if (split := _split_point(scan.source)) is not None:
            return _read_in_two(scan, split)
        return _read_in_one(scan)


def _split_point(source: str) -> int | None:
    """Where to cut a file for two processes (the start of the first line after its middle),
    or None to read it in one: small, one core, or threads running (a forked copy of this
    process would hold their locks as they were)."""
    size = os.path.getsize(source)
    if size < SPLIT_MIN or _cores() < 2 or not hasattr(os, "fork") or not _single_threaded():
        return None
    with open(source, "rb") as fh:
        fh.seek(size // 2)
        cut = fh.read(BLOCK).find(b"\n")
    split = size // 2 + cut + 1
    return split if 0 <= cut and split < size else None


_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: `<quota> <period>` or `max <period>`
_CFS = Path("/sys/fs/cgroup/cpu")  # cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us


def _cores() -> float:
    """The cores this process may use: its affinity mask, capped by a container's CPU quota."""
    cores: float = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    quota = _cpu_quota()
    return cores if quota is None else min(cores, quota)


def _cpu_quota() -> float | None:
    """A container's CPU quota in cores, cgroup v2 or else v1; None when there is none (or it
    cannot be read)."""
    try:
        quota, period = _CPU_MAX.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):  # no cgroup v2 here, or unreadable
        pass
    try:
        quota = int((_CFS / "cpu.cfs_quota_us").read_text())
        period = int((_CFS / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _single_threaded() -> bool:
    """No other thread, Python's or a library's (DuckDB starts its own), in this process."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: only Python's threads can be seen
        return threading.active_count() == 1


def _drain(items: Generator[DenyEvent | InputProblem, None, int], out: Parsed[DenyEvent]
           ) -> int:
    """textio.gathered into `out`, also returning the part's next line number (which
    `_read_in_two` needs to renumber the other part)."""
    records, problems = out.records, out.problems
    while True:
        try:
            item = next(items)
        except StopIteration as end:
            return end.value
        (problems if isinstance(item, InputProblem) else records).append(item)


def _read_in_two(scan: _Scan, split: int) -> Parsed[DenyEvent]:
    """Read a large file with both cores: a forked process reads the part from `split` on
    while this one reads the part before it, then sends its events, numbered from 1, as
    tuples of plain values (marshal: both ends are the same interpreter; times as
    microseconds since 1970); they are renumbered and built here. If that process cannot be
    started, the file is read here in one go; if it fails, its part is read here. The result
    equals reading in one go."""
    import marshal
    import multiprocessing

    context = multiprocessing.get_context("fork")
    try:
        receive, send = context.Pipe(duplex=False)
    except OSError:
        return _read_in_one(scan)
    worker = context.Process(target=_send_part, args=(send, receive, scan, split), daemon=True)
    try:
        worker.start()
    except Exception:  # noqa: BLE001 - e.g. inside a daemon process, or fork refused
        receive.close()
        send.close()
        return _read_in_one(scan)
    send.close()
    out: Parsed[DenyEvent] = Parsed()
    try:
        offset = _drain(_events(scan, 0, split), out) - 1  # lines before `split`
        try:
            rows = marshal.loads(receive.recv_bytes())
        except (EOFError, OSError, ValueError):
            rows = None
    finally:
        receive.close()  # a process still sending then gets a broken pipe and ends
        worker.join(timeout=5)
        if worker.is_alive():
            worker.kill()
            worker.join(timeout=5)
    warned = any(p.message == _UNDECODABLE for p in out.problems)
    if rows is None:  # that process failed: its part is read here
        rest = _read_in_one(scan, split, offset + 1)
        out.problems += [p for p in rest.problems if not (warned and p.message == _UNDECODABLE)]
        out.records += rest.records
        return out
    for row in rows:
        if len(row) == 2:
            if not (warned and row[1] == _UNDECODABLE):
                out.problems.append(InputProblem(Location(scan.source, row[0] + offset), row[1]))
        else:
            when = None if row[0] is None else _EPOCH + timedelta(microseconds=row[0])
            out.records.append(_deny(when, *row[1:4], scan.source, row[4] + offset, *row[5:]))
    return out


def _read_in_one(scan: _Scan, start: int = 0, line: int = 1) -> Parsed[DenyEvent]:
    return gathered(_events(scan, start, line=line))


_EPOCH, _MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)


def _send_part(send: Connection, receive: Connection, scan: _Scan, split: int) -> None:
    """In the forked process: the events from `split` on, as tuples for `_read_in_two`. On
    any failure it sends nothing (no traceback on the terminal): the part is read there."""
    import marshal
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the reading process to handle
    receive.close()  # this copy would keep the pipe open after the reading process closed it
    rows: list[tuple] = []
    try:
        for item in _events(scan, split):
            if isinstance(item, InputProblem):
                rows.append((item.location.line, item.message))
            else:
                when = None if item.time_utc is None else (item.time_utc - _EPOCH) // _MICROSECOND
                rows.append((when, item.source_ip, item.dest_ip, item.dest_port,
                             item.location.line, item.action, item.rule, item.interface,
                             item.excerpt))
        send.send_bytes(marshal.dumps(rows))
    except Exception:  # noqa: BLE001 - whatever it was, the other process reads the part again
        pass
    finally:
        send.close()

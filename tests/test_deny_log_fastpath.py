"""The block reader must yield exactly what reading the log line by line yields.

With a question (`want`), the reader parses only the lines its block scan finds; the scan may
find too many lines but never too few. The reference here reads every line with `_event`.
Lines are SYNTHETIC, in every format the reader knows, with sources inside, at the edge of and
outside the wanted ranges, spelt in ways the scan must not miss (or wrongly take).
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
import re
import threading
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.diagnose import drops
from mailflow_doctor.diagnose.drops import eop_filter
from mailflow_doctor.evidence.firewall import deny_log
from mailflow_doctor.ipspace import PrefixSet
from mailflow_doctor.knowledge.endpoints import snapshot
from mailflow_doctor.model import Location
from mailflow_doctor.model.firewall import DenyEvent

EOP = snapshot().eop_prefixes
SOURCE_SETS = [  # the published ranges, and sets that reach the other branches of the scan
    EOP,
    PrefixSet.parse("52.238.78.88/32", "203.0.113.0/25", "10.0.0.0/7"),
    PrefixSet.parse("0.0.0.0/0"),
    PrefixSet.parse("2a01:111:f400::/48"),
    PrefixSet(),
]
ODD_SOURCES = st.sampled_from([  # at the edges of the sets, or spelt oddly
    "104.47.128.1", "40.94.0.1", "40.91.255.255", "52.99.255.255", "52.104.0.0", "52.238.78.89",
    "203.0.113.200", "12.0.0.1", "104.047.34.97", "104.47.034.97", "140.92.1.1", "1.104.47.1",
    "104.47.1", "104.47.1.1.1", "104.47.1.256", "2a01:111:f401::1", "::ffff:104.47.1.1",
    "198.51.100.7", "", "::",
]) | st.from_regex(r"[0-9a-fA-F.:]{1,12}", fullmatch=True)
PORTS = st.sampled_from(["25", "25", "25", "587", "025"])
PROTOS = st.sampled_from(["tcp", "tcp", "TCP", "udp"])
STAMPS = st.sampled_from(["Nov 23 13:41:34 ", "Nov  3 2026 01:02:03 ", "2026-11-23T13:41:34Z ",
                          "<134>1 2026-02-12T10:30:45.123-05:00 ", "Feb 30 00:00:00 ", "",
                          "Nov 23 13:41:59 ", "Nov 23 13:41:60 ", "Nov 23 13:42:00 ",
                          "Nov  3 13:41:34 ", "Nov 03 13:41:34 ", "Nov 3 13:41:34 "])
KERNEL_PREFIXES = st.sampled_from(["", "DROP: ", "[UFW BLOCK] ", "ACCEPT ", "Firewall-DENY: "])
FORMATS = [
    'fw : %ASA-4-106023: Deny {proto} src outside:{src}/40000 dst inside:{dst}/{port} by '
    'access-group "outside_in" [0x0, 0x0]',
    "fw : %ASA-6-106100: access-list outside_in denied {proto} outside/{src}(40000) -> "
    "inside/{dst}({port}) hit-cnt 1 first hit [0x2b7f3f90, 0x0]",
    "%ASA-2-106001: Inbound TCP connection denied from {src}/2257 to {dst}/{port} flags SYN on "
    "interface outside",
    "%FTD-3-710003: TCP access denied by ACL from {src}/40000 to outside:{dst}/{port}",
    "%ASA-6-106015: Deny TCP (no connection) from {src}/40000 to {dst}/{port} flags RST on "
    "interface outside",
    "%SEC-6-IPACCESSLOGP: list 101 denied {proto} {src}(16795) (Serial1/0.123) -> {dst}({port}), "
    "1 packet",
    "gw kernel: [25432.112233] {prefix}IN=eth0 OUT= MAC=52:54:00:aa:bb:cc SRC={src} DST={dst} "
    "LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO={PROTO} SPT=40000 DPT={port} WINDOW=64240 "
    "RES=0x00 SYN URGP=0",
    "PA-1 1,2026/11/23 13:50:00,0123456789,TRAFFIC,deny,2562,2026/11/23 13:50:00,{src},{dst},"
    "0.0.0.0,0.0.0.0,block-smtp,,,smtp,vsys1,untrust,trust,ethernet1/1,,fwd,2026/11/23 13:50:00,"
    "0,1,40001,{port},0,0,0x0,{proto},deny,0,0,0,1,2026/11/23 13:50:00,0,any,,1,0x0,US,US,,1,0,"
    "policy-deny",
    'date=2026-11-23 time=13:51:00 devname="FGT-1" type="traffic" srcip={src} srcport=40002 '
    'srcintf="wan1" dstip={dst} dstport={port} proto=6 action="deny" policyid=7 tz="+0000"',
    'date=2026-11-23 time=13:51:00 srcip="{src}" dstip="{dst}" dstport={port} proto=6 '
    'action=deny policyid=8',
    "pfsense filterlog[1]: 5,,,0,em0,match,block,in,4,0x0,,64,1234,0,none,6,{proto},60,{src},"
    "{dst},54321,{port},0,S,111,0,0,mss",
    "pfSense.local filterlog 12345 - - 5,,,1000000003,em1,match,block,in,6,0x00,0x00000,64,"
    "{proto},6,80,{src},{dst},54321,{port},0,S,111,,1024,,mss",
    "host01 sshd[4242]: Accepted publickey for admin from {src} port {port} ssh2",
]


@st.composite
def source(draw, sources: PrefixSet) -> str:
    """Half the time an address of `sources`, as any reader may spell it."""
    if not sources or draw(st.booleans()):
        return draw(ODD_SOURCES)
    network = draw(st.sampled_from(sources.networks()))
    address = network.network_address + draw(st.integers(0, network.num_addresses - 1))
    if address.version == 4:
        return str(address)
    return draw(st.sampled_from([str(address), str(address).upper(), address.exploded]))


@st.composite
def log_line(draw, sources: PrefixSet) -> str:
    def one() -> str:
        proto = draw(PROTOS)
        return draw(STAMPS) + draw(st.sampled_from(FORMATS)).format(
            src=draw(source(sources)), dst=draw(st.sampled_from(["10.20.0.25", "203.0.113.25"])),
            port=draw(PORTS), proto=proto, PROTO=proto.upper(), prefix=draw(KERNEL_PREFIXES))

    kind = draw(st.integers(0, 9))
    if kind == 0:  # two records on one line: only what the line's reader takes may count
        return one() + " " + one()
    if kind == 1:
        return draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=80))
    return one() + draw(st.sampled_from(["", "", "\r"]))


def line_by_line(path, want) -> list[DenyEvent]:
    scan = deny_log._Scan(str(path), 2026, want)
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    return [e for n, line in enumerate(lines, 1) if (e := deny_log._event(line, scan, n))]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), sources=st.sampled_from(SOURCE_SETS),
       block=st.sampled_from([64, 200, 1 << 22]), final_newline=st.booleans())
def test_block_reader_equals_line_by_line(tmp_path, data, sources, block, final_newline):
    lines = data.draw(st.lists(log_line(sources), max_size=30))
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(lines) + ("\n" if final_newline else ""), encoding="utf-8")
    with mock.patch.object(deny_log, "BLOCK", block):
        for want in (None, eop_filter(sources, 25)):
            got = [e for e in deny_log.iter_events(path, 2026, want)
                   if isinstance(e, DenyEvent)]
            assert got == line_by_line(path, want)


@given(st.sampled_from([n for s in SOURCE_SETS for n in s.networks()]), st.integers(0, 2**128))
def test_source_pattern_covers_every_address_of_the_set(network, offset):
    address = network.network_address + offset % network.num_addresses
    starts = re.compile(deny_log._source_starts(PrefixSet.parse(network)))
    for text in (str(address), str(address).upper(), address.exploded):
        assert starts.match(text), text


# Stamps in BSD syslog spellings, odd ones included: `_time` looks a line's minute up by its first
# 12 characters once that minute was seen, and must still read each line as `_STAMP` does.
BSD_STAMPS = st.builds(
    "{} {}{} {}:{}:{}{}".format,
    st.sampled_from(["Nov", "Feb", "Foo", "nov", "NOV"]),
    st.sampled_from(["", " ", "  "]),
    st.sampled_from(["3", "03", "23", "29", "30", "32", "\u0663", "3 2026", "23 1999"]),
    st.sampled_from(["13", "00", "23", "24", "1", "\u0661\u0663"]),
    st.sampled_from(["41", "00", "59", "60", "4"]),
    st.sampled_from(["34", "00", "59", "60", "99", "3", "3x", "\u0663\u0664", "34.5"]),
    st.sampled_from(["", " fw01 : %ASA-4-106023: x", "\r", "\t", "0"]))


def stamp_as_read_before(line: str, year: int):
    """The reference: `_STAMP`, then the stamp's minute plus its seconds (None when invalid)."""
    m = deny_log._STAMP.match(line)
    if not m:
        return None
    iso, bsd = m.group("iso", "bsd")
    if iso:
        return deny_log._parse_iso(iso)
    try:
        second = int(bsd[-2:])
        return deny_log._minute(bsd[:-3], year) + timedelta(seconds=second) if second < 60 \
            else None
    except (ValueError, KeyError):
        return None


@settings(max_examples=300, deadline=None)
@given(st.lists(BSD_STAMPS | STAMPS, min_size=1, max_size=40))
def test_cached_minutes_read_stamps_as_the_stamp_pattern(stamps):
    scan = deny_log._Scan("log", 2026)  # one scan for all: each line may meet others' minutes
    for stamp in stamps + stamps:
        assert deny_log._time(stamp, scan) == stamp_as_read_before(stamp, 2026), stamp


def test_records_are_those_of_the_constructors():
    when = stamp_as_read_before("Nov 23 13:41:34", 2026)
    built = deny_log._deny(when, "104.47.1.1", "10.0.0.25", 25, "fw.log", 7, "deny", "acl",
                           "outside", deny_log._excerpt(
                               "  Nov 23 13:41:34 fw : %ASA-4-106023: Deny\r"))
    expected = DenyEvent(when, "104.47.1.1", "10.0.0.25", 25, Location("fw.log", 7), "deny",
                         "acl", "outside", "Nov 23 13:41:34 fw : %ASA-4-106023: Deny")
    assert built == expected and hash(built) == hash(expected) and repr(built) == repr(expected)
    assert type(built) is DenyEvent and type(built.location) is Location
    assert str(built.location) == "fw.log:7" and replace(built, rule=None).rule is None
    with pytest.raises(FrozenInstanceError):
        built.source_ip = "1.2.3.4"  # type: ignore[misc]


# -- a large file read by two processes -----------------------------------------------------------
# `_read_in_two` cuts the file at a line start; the forked process reads the second part and
# sends it back as plain values. Whatever the cut, the result must equal one reader's.


def one_reader(path, want) -> tuple[list, list]:
    parsed = deny_log.Parsed()
    deny_log._drain(deny_log._events(deny_log._Scan(str(path), 2026, want)), parsed)
    return parsed.records, parsed.problems


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), sources=st.sampled_from(SOURCE_SETS[:2]), junk=st.booleans())
def test_two_processes_read_what_one_reads(tmp_path, data, sources, junk):
    lines = data.draw(st.lists(log_line(sources), min_size=1, max_size=30))
    raw = "\n".join(lines).encode() + b"\n"
    if junk:  # undecodable bytes in both parts: one problem, at the first
        raw = b"\xff" + raw + b"\xfe\n"
    path = tmp_path / "big.log"
    path.write_bytes(raw)
    starts = [0] + [i + 1 for i, byte in enumerate(raw) if byte == 10 and i + 1 < len(raw)]
    split = data.draw(st.sampled_from(starts))
    for want in (None, eop_filter(sources, 25)):
        two = deny_log._read_in_two(deny_log._Scan(str(path), 2026, want), split)
        assert (two.records, two.problems) == one_reader(path, want)
    if junk:
        assert [p.location.line for p in two.problems] == [1]


def asa_log(path, count: int) -> int:
    """A log of `count` ASA denies, with undecodable bytes in both halves; its middle line start."""
    lines = [f"Nov 23 13:{n // 60 % 60:02d}:{n % 60:02d} fw : %ASA-4-106023: Deny tcp src outside:"
             f"104.47.{n % 100}.{n % 250}/40000 dst inside:10.20.0.25/25 by access-group "
             f"\"in\"\n".encode() for n in range(count)]
    lines[3] = lines[count // 2 + 3] = b"\xff junk\n"
    path.write_bytes(b"".join(lines))
    return len(b"".join(lines[:count // 2]))


def test_a_failed_second_process_is_made_up_for(tmp_path, capfd):
    path = tmp_path / "big.log"
    split = asa_log(path, 400)
    want, parent, events = eop_filter(EOP, 25), os.getpid(), deny_log._events

    def failing_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            raise MemoryError("the second process fails")
        return events(*args, **kwargs)

    with mock.patch.object(deny_log, "_events", failing_in_the_child):
        two = deny_log._read_in_two(deny_log._Scan(str(path), 2026, want), split)
    records, problems = one_reader(path, want)
    assert len(records) == 398 and [p.location.line for p in problems] == [4]
    assert (two.records, two.problems) == (records, problems)
    assert "Traceback" not in capfd.readouterr().err


def test_no_second_process_to_be_had_reads_in_one_go(tmp_path):
    path = tmp_path / "big.log"
    split = asa_log(path, 300)
    want = eop_filter(EOP, 25)
    with mock.patch("multiprocessing.process.BaseProcess.start",
                    side_effect=AssertionError("daemonic processes are not allowed to have "
                                               "children")):
        two = deny_log._read_in_two(deny_log._Scan(str(path), 2026, want), split)
    assert (two.records, two.problems) == one_reader(path, want)


def test_a_failing_reader_does_not_wait_for_the_second_process(tmp_path):
    path = tmp_path / "big.log"
    split = asa_log(path, 4000)  # the second half's events fill the pipe's buffer many times
    parent, events, killed = os.getpid(), deny_log._events, []

    def failing_here(scan, start=0, *args, **kwargs):
        if os.getpid() == parent and start == 0:
            raise KeyboardInterrupt
        return events(scan, start, *args, **kwargs)

    with mock.patch.object(deny_log, "_events", failing_here), \
            mock.patch("multiprocessing.process.BaseProcess.kill", killed.append):
        with pytest.raises(KeyboardInterrupt):
            deny_log._read_in_two(deny_log._Scan(str(path), 2026, None), split)
    assert killed == []  # it ended on its broken pipe, within the join's wait
    assert multiprocessing.active_children() == []


def test_only_large_files_on_two_free_cores_without_threads_are_split(tmp_path, monkeypatch):
    path = tmp_path / "big.log"
    path.write_text("a" * 99 + "\n" + "b" * 9 + "\n" + "c" * 50 + "\n")  # middle: in line 1
    assert deny_log._split_point(str(path)) is None  # below SPLIT_MIN
    monkeypatch.setattr(deny_log, "SPLIT_MIN", 100)
    monkeypatch.setattr(deny_log, "_CPU_MAX", tmp_path / "no-quota")
    monkeypatch.setattr(deny_log, "_CFS", tmp_path / "no-cgroup-v1")
    cores = os.sched_getaffinity(0)
    monkeypatch.setattr(deny_log, "_single_threaded", lambda: True)
    monkeypatch.setattr(deny_log.os, "sched_getaffinity", lambda pid: {0, 1})
    assert deny_log._split_point(str(path)) == 100  # the start of the line after the middle
    monkeypatch.setattr(deny_log.os, "sched_getaffinity", lambda pid: {0})
    assert deny_log._split_point(str(path)) is None
    monkeypatch.setattr(deny_log.os, "sched_getaffinity", lambda pid: cores | {0, 1})
    monkeypatch.setattr(deny_log, "_single_threaded", lambda: False)
    assert deny_log._split_point(str(path)) is None
    path.write_text("x" * 200)  # no line start after the middle
    monkeypatch.setattr(deny_log, "_single_threaded", lambda: True)
    assert deny_log._split_point(str(path)) is None


def test_a_cpu_quota_below_two_cores_counts(tmp_path, monkeypatch):
    cpu_max, cfs = tmp_path / "cpu.max", tmp_path / "cpu"
    monkeypatch.setattr(deny_log, "_CPU_MAX", cpu_max)
    monkeypatch.setattr(deny_log, "_CFS", cfs)
    monkeypatch.setattr(deny_log.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert deny_log._cores() == 4  # no cgroup files at all
    cfs.mkdir()
    for quota, period, cores in (("-1\n", "100000\n", 4), ("50000\n", "100000\n", 0.5),
                                 ("900000", "100000", 4), ("x", "100000", 4), ("5", "0", 4)):
        (cfs / "cpu.cfs_quota_us").write_text(quota)
        (cfs / "cpu.cfs_period_us").write_text(period)
        assert deny_log._cores() == cores, (quota, period)  # cgroup v1
    (cfs / "cpu.cfs_quota_us").write_text("50000")
    (cfs / "cpu.cfs_period_us").write_text("100000")
    for text, cores in (("max 100000\n", 4), ("150000 100000\n", 1.5), ("800000 100000", 4),
                        ("junk", 0.5), ("100000 0", 0.5)):
        cpu_max.write_text(text)
        assert deny_log._cores() == cores, text  # cgroup v2 first; v1 where v2 is unreadable


def test_threads_of_any_kind_are_seen():
    stop = threading.Event()
    waiting = threading.Thread(target=stop.wait, args=(10,))
    waiting.start()
    try:
        assert not deny_log._single_threaded()
    finally:
        stop.set()
        waiting.join(10)
    import duckdb  # its own worker threads, invisible to `threading`

    con = duckdb.connect(config={"threads": 2})
    try:
        con.execute("SELECT 1").fetchall()
        assert not deny_log._single_threaded()
    finally:
        con.close()


def test_parse_of_a_split_file_equals_the_stream(tmp_path, monkeypatch):
    path = tmp_path / "big.log"
    path.write_text("\n".join(
        f"Nov 23 13:41:{n % 60:02d} gw kernel: [1.5] DROP IN=eth0 OUT= SRC=104.47.{n}.9 "
        f"DST=10.0.0.25 LEN=60 PROTO=TCP SPT=40000 DPT=25" for n in range(120)) + "\n")
    monkeypatch.setattr(deny_log, "SPLIT_MIN", 0)
    monkeypatch.setattr(deny_log, "_CPU_MAX", tmp_path / "no-quota")
    monkeypatch.setattr(deny_log, "_CFS", tmp_path / "no-cgroup-v1")
    monkeypatch.setattr(deny_log, "_single_threaded", lambda: True)
    monkeypatch.setattr(deny_log.os, "sched_getaffinity", lambda pid: {0, 1})
    parts = []
    real = deny_log._read_in_two
    monkeypatch.setattr(deny_log, "_read_in_two", lambda scan, split: parts.append(split) or
                        real(scan, split))
    parsed = deny_log.parse(path)
    assert [e.location.line for e in parsed.records] == list(range(1, 121))
    assert parsed.records == list(deny_log.iter_events(path))
    assert len(parts) == 1


# -- placing a source in its published range and network -----------------------------------------
# `_Ranges.place` answers for a whole IPv4 /24 at once when no range splits it; it must answer
# as placing each address on its own would, for ranges smaller than a /24 too.

SPLIT_24S = PrefixSet.parse("104.47.1.128/25", "104.47.2.7/32", "104.47.3.0/24", "104.47.4.0/23")


def place_alone(published: PrefixSet, text: str) -> tuple[str, str] | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    home = next((str(n) for n in published.networks() if address in n), None)
    if home is None:
        return None
    if address.version == 4:
        return home, str(ipaddress.ip_network(f"{address}/24", strict=False))
    return home, str(ipaddress.ip_network(f"{address}/48", strict=False))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), published=st.sampled_from(SOURCE_SETS + [SPLIT_24S]))
def test_sources_are_placed_as_each_address_alone(data, published):
    ranges = drops._Ranges(published)
    texts = data.draw(st.lists(source(published) | source(SPLIT_24S) | st.sampled_from(
        ["104.47.1.127", "104.47.1.128", "104.47.2.7", "104.47.2.8", "104.47.5.255",
         "104.47.6.0", "104.47.3.", ".1", "a.b.c.1"]), max_size=20))
    for text in texts + texts:  # the second time from what the first remembered
        assert ranges.place(text) == place_alone(published, text), text


def test_kernel_lines_spaced_oddly_and_times_out_of_range(tmp_path):
    path = tmp_path / "kern.log"
    path.write_text(
        "2026-11-23T13:41:34Z gw kernel: DROP IN=eth0  OUT=\t MAC=52:54:00  SRC=104.47.1.9  "
        "DST=10.0.0.25 LEN=60\u00a0 TOS=0x00  PROTO=TCP  SPT=40000\tDPT=25\n"
        "0001-01-01T00:00:00+01:00 gw kernel: DROP IN=eth0 OUT= SRC=104.47.1.10 DST=10.0.0.25 "
        "LEN=60 PROTO=TCP SPT=40000 DPT=25\n")
    events = deny_log.parse(path).records
    assert [(e.source_ip, e.dest_port, e.action, e.rule) for e in events] == [
        ("104.47.1.9", 25, "deny", "DROP"), ("104.47.1.10", 25, "deny", "DROP")]
    assert events[0].time_utc == datetime(2026, 11, 23, 13, 41, 34, tzinfo=UTC)
    assert events[1].time_utc is None  # the year 0 in UTC: no such datetime

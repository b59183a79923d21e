"""Firewall deny logs: real sample lines (from ../shared/reference/firewalls.md), SYNTHETIC EOP
lines, the `firewall drops` view and the diagnosis that uses them."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailflow_doctor.cli.app import app, demo_case
from mailflow_doctor.diagnose.drops import eop_drops
from mailflow_doctor.evidence.firewall import asa, deny_log, iptables, nftables
from mailflow_doctor.ipspace import PrefixSet
from mailflow_doctor.model import Location
from mailflow_doctor.model.firewall import DenyEvent

runner = CliRunner()

REAL = [  # published samples, verbatim
    '<164>Aug 28 2022 19:34:14: %ASA-4-106023: Deny tcp src outside:123.93.187.190/63659 dst '
    'dmz-1:245.194.191.142/8827 by access-group "outside_access_in" [0x0, 0x0]',
    "%ASA-2-106001: Inbound TCP connection denied from 10.132.0.147/2257 to 172.16.10.10/80 "
    "flags SYN on interface inside",
    "2019-09-26T11:55:18-04:00 ch3-core-fw01 : %ASA-6-106100: access-list prod-voice_in denied "
    "tcp prod-voice/10.1.114.83(48466) -> inside/99.84.254.12(443) hit-cnt 3 300-second "
    "interval [0x1d5dc28a, 0x00000000]",
    "Jun 11 14:41:00 webserver-01 kernel: [423465.000000] [UFW BLOCK] IN=eth0 OUT= "
    "MAC=aa:bb:cc:dd:ee:ff:11:22:33:44:55:66:08:00 SRC=185.220.101.33 DST=10.0.1.50 LEN=44 "
    "TOS=0x00 PREC=0x00 TTL=49 ID=54321 PROTO=TCP SPT=44100 DPT=22 WINDOW=1024 RES=0x00 SYN "
    "URGP=0",
    "Nov 23 14:02:29 attack-ws kernel: [25432.112233] IN=eth0 OUT= "
    "MAC=52:54:00:aa:bb:cc:52:54:00:11:22:33:08:00 SRC=10.0.0.20 DST=10.0.0.50 LEN=60 TOS=0x00 "
    "PREC=0x00 TTL=63 ID=54321 DF PROTO=TCP SPT=51544 DPT=4444 WINDOW=64240 RES=0x00 SYN URGP=0",
]
MORE_REAL = [  # published samples of the other formats, verbatim
    "%SEC-6-IPACCESSLOGP: list 101 denied tcp 150.1.13.4(16795) (Serial1/0.123) -> "
    "13.13.12.2(23), 1 packet",
    "Sep 17 10:30:45 pfsense filterlog[1]: 5,,,0,em0,match,block,in,4,0x0,,64,1234,0,none,6,"
    "tcp,60,203.0.113.1,192.168.10.50,54321,22,0,S,111,0,0,mss",
    "<134>1 2026-02-12T10:30:45.123456-05:00 pfSense.local filterlog 12345 - - 5,,,1000000103,"
    "igb0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,192.168.1.100,8.8.8.8,12345,53,0,S,"
    "1234567890,,1024,,mss;sackOK;TS",
    # UDP or allowed traffic: read, and rightly not a TCP deny.
    "Jan 21 03:39:56 PA-3410-01 1,2025/01/21 03:39:55,024109001378,TRAFFIC,drop,2562,2025/01/21"
    " 03:39:55,192.168.216.14,192.168.218.10,0.0.0.0,0.0.0.0,intrazone-server-deny,texl-eng\\"
    "sysadm03,,not-applicable,vsys1,server,server,ae1.2,,Log_Forwarding_Profile,2025/01/21 "
    "03:39:55,0,1,55235,137,0,0,0x0,udp,deny,0,0,0,1,2025/01/21 03:39:55,0,any,,"
    "7458452573401715049,0x0,192.168.0.0-192.168.255.255,192.168.0.0-192.168.255.255,,1,0,"
    "policy-deny,0,0,0,0,,PA-3410-01,from-policy,,,0,,0,,",
]
VENDOR_EOP = [  # SYNTHETIC TCP denies of EOP in PAN-OS and FortiGate formats
    "Nov 23 13:50:00 PA-1 1,2026/11/23 13:50:00,0123456789,TRAFFIC,deny,2562,2026/11/23 "
    "13:50:00,104.47.20.9,203.0.113.25,0.0.0.0,0.0.0.0,block-smtp,,,smtp,vsys1,untrust,trust,"
    "ethernet1/1,,fwd,2026/11/23 13:50:00,0,1,40001,25,0,0,0x0,tcp,deny,0,0,0,1,2026/11/23 "
    "13:50:00,0,any,,1,0x0,US,US,,1,0,policy-deny",
    'date=2026-11-23 time=13:51:00 devname="FGT-1" logid="0000000013" type="traffic" '
    'subtype="forward" level="notice" vd="root" srcip=52.102.4.4 srcport=40002 srcintf="wan1" '
    'dstip=203.0.113.25 dstport=25 dstintf="internal" proto=6 action="deny" policyid=7 '
    'tz="+0000"',
]
EOP_LINES = [  # SYNTHETIC, in the same formats
    'Nov 23 2026 13:41:34 tailspin-fw01 : %ASA-4-106023: Deny tcp src outside:104.47.34.97/51234 '
    'dst inside:10.20.0.25/25 by access-group "outside_access_in" [0x0, 0x0]',
    "Nov 23 2026 13:56:00 tailspin-fw01 : %ASA-4-106100: access-list outside_access_in denied tcp "
    "outside/52.102.121.240(40123) -> inside/10.20.0.25(25) hit-cnt 1 first hit [0x2b7f3f90, 0x0]",
    "Nov 23 14:06:00 tailspin-fw01 : %ASA-6-106015: Deny TCP (no connection) from "
    "104.47.1.1/25 to 10.20.0.25/5555 flags RST on interface outside",
]


def write(tmp_path, lines, name="fw.log"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_real_sample_lines(tmp_path):
    events = deny_log.parse(write(tmp_path, REAL)).records
    got = [(e.source_ip, e.dest_ip, e.dest_port, e.action, e.rule, e.interface) for e in events]
    assert got == [
        ("123.93.187.190", "245.194.191.142", 8827, "deny", "outside_access_in", "outside"),
        ("10.132.0.147", "172.16.10.10", 80, "deny", None, "inside"),
        ("10.1.114.83", "99.84.254.12", 443, "deny", "prod-voice_in", "prod-voice"),
        ("185.220.101.33", "10.0.1.50", 22, "deny", "[UFW BLOCK]", "eth0"),
        ("10.0.0.20", "10.0.0.50", 4444, "logged", None, "eth0"),
    ]
    assert events[0].time_utc.isoformat() == "2022-08-28T19:34:14+00:00"
    assert events[2].time_utc.isoformat() == "2019-09-26T15:55:18+00:00"  # -04:00 → UTC
    assert [e.location.line for e in events] == [1, 2, 3, 4, 5]


def test_other_vendor_formats(tmp_path):
    events = deny_log.parse(write(tmp_path, MORE_REAL + VENDOR_EOP)).records
    got = [(e.source_ip, e.dest_ip, e.dest_port, e.rule, e.interface) for e in events]
    assert got == [
        ("150.1.13.4", "13.13.12.2", 23, "101", "Serial1/0.123"),
        ("203.0.113.1", "192.168.10.50", 22, "0", "em0"),
        ("192.168.1.100", "8.8.8.8", 53, "1000000103", "igb0"),
        ("104.47.20.9", "203.0.113.25", 25, "block-smtp", "ethernet1/1"),
        ("52.102.4.4", "203.0.113.25", 25, "7", "wan1"),
    ]
    assert events[2].time_utc.isoformat() == "2026-02-12T15:30:45.123456+00:00"
    assert events[3].time_utc.isoformat() == "2026-11-23T13:50:00+00:00"
    assert events[4].time_utc.isoformat() == "2026-11-23T13:51:00+00:00"
    assert deny_log.sniff("\n".join(MORE_REAL + VENDOR_EOP))


def test_sniff_only_logs(tmp_path):
    text = "\n".join(REAL)
    assert deny_log.sniff(text)
    assert not (asa.sniff(text) or iptables.sniff(text) or nftables.sniff(text))
    assert not deny_log.sniff("access-list x extended permit tcp any any eq smtp\n")


def test_drops_command_groups_eop_denies(tmp_path):
    path = write(tmp_path, REAL + EOP_LINES)
    result = runner.invoke(app, ["firewall", "drops", str(path), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert list(data["ranges"]) == ["52.100.0.0/14", "104.47.0.0/17"]
    assert data["networks"]["104.47.34.0/24"]["count"] == 1
    assert data["networks"]["104.47.34.0/24"]["destinations"] == ["10.20.0.25:25"]
    assert "104.47.1.0/24" not in data["networks"]  # 106015 is not a policy deny


def test_deny_log_alone_names_denied_networks(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(demo_case(), case)
    shutil.rmtree(case / "firewall")
    write(case, EOP_LINES, "asa-syslog.txt")
    result = runner.invoke(app, ["diagnose", str(case), "--format", "json"])
    top = json.loads(result.stdout)["findings"][0]
    assert top["cause"] == "firewall-blocks-eop"
    assert top["details"]["missing_prefixes"] == ["52.102.121.0/24", "104.47.34.0/24"]
    assert top["details"]["basis"] == "firewall deny log"
    assert {e["source"] for e in top["evidence"]} == {"firewall-log"}


def test_deny_log_strengthens_the_configuration_finding(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(demo_case(), case)
    log = write(tmp_path, EOP_LINES, "asa-syslog.txt")
    top = json.loads(runner.invoke(app, ["diagnose", str(case), "--firewall-log", str(log),
                                         "--format", "json"]).stdout)["findings"][0]
    assert top["details"]["missing_prefixes"] == ["52.102.0.0/15", "104.47.0.0/17"]
    assert "deny log holds 2 denied attempt(s) from the missing ranges, the first at 2026-11-23 13:41, 2 of them while the defers accumulated" in top["explanation"]
    assert "firewall-log" in {e["source"] for e in top["evidence"]}


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200), max_size=20))
def test_random_lines_never_raise(tmp_path, lines):
    path = tmp_path / "fuzz.log"
    path.write_text("\n".join(REAL[:1] + lines), encoding="utf-8")
    parsed = deny_log.parse(path)
    assert parsed.records and parsed.records[0].dest_port == 8827


def test_drop_groups_count_times_destinations_and_rules():
    def deny(n, src, when, dst="10.0.0.25", rule=None, action="deny", port=25):
        return DenyEvent(when and datetime(2026, 11, 23, 13, when, tzinfo=UTC), src, dst, port,
                         Location("fw.log", n), action, rule)  # type: ignore[arg-type]

    events = [deny(1, "104.47.1.9", None, rule="a"), deny(2, "104.47.1.7", 5, "10.0.0.26"),
              deny(3, "104.47.2.1", 2, rule="b"), deny(4, "104.47.1.9", 9, rule=""),
              deny(5, "104.47.1.9", 1, action="logged"), deny(6, "104.47.1.9", 1, port=587),
              deny(7, "198.51.100.1", 1), deny(8, "2a01:111:f400::5", 3)]
    drops = eop_drops(events, PrefixSet.parse("2a01:111:f400::/48", "104.47.0.0/17"))
    whole, one = drops.by_range["104.47.0.0/17"], drops.by_24["104.47.1.0/24"]
    assert (whole.count, whole.first.minute, whole.last.minute) == (4, 2, 9)
    assert whole.rules == {"a", "b"}
    assert whole.sample is events[0] and drops.logged_only == 1
    assert (one.count, one.first.minute, one.last.minute, one.rules) == (3, 5, 9, {"a"})
    assert one.destinations == {"10.0.0.25:25", "10.0.0.26:25"}
    assert list(drops.by_range) == ["104.47.0.0/17", "2a01:111:f400::/48"]  # IPv4 first
    assert list(drops.by_24) == ["104.47.1.0/24", "104.47.2.0/24", "2a01:111:f400::/48"]

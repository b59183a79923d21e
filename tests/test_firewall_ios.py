"""Cisco IOS extended access lists on SYNTHETIC configurations (formats per firewalls.md §2.5)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence.firewall import asa, ios, iptables, nftables
from mailflow_doctor.fixes import propose
from mailflow_doctor.knowledge.endpoints import snapshot

EOP = snapshot("worldwide").eop_prefixes
DST = ipaddress.ip_address("203.0.113.25")

CONFIG = """\
! SYNTHETIC IOS-XE configuration
hostname edge-rtr1
interface GigabitEthernet0/0/0
 description Internet
 ip address 203.0.113.2 255.255.255.0
 ip access-group OUTSIDE-IN in
 ip nat outside
!
interface GigabitEthernet0/0/1
 ip address 10.0.0.1 255.255.255.0
 ip access-group 110 in
 ip nat inside
!
ip access-list extended OUTSIDE-IN
 remark mail from Exchange Online Protection
 10 permit tcp 40.92.0.0 0.1.255.255 host 203.0.113.25 eq smtp
 20 permit tcp 40.107.0.0 0.0.255.255 host 203.0.113.25 eq 25
 25 permit tcp 52.100.0.0 0.3.0.255 host 203.0.113.25 eq smtp
 30 permit tcp any host 203.0.113.25 eq 443
 40 permit tcp any any established
 50 deny   ip any any log
!
access-list 110 permit ip 10.0.0.0 0.0.0.255 any
ip nat inside source static tcp 10.0.0.25 25 203.0.113.25 25
"""


def test_outside_list_wildcards_and_implicit_order(tmp_path):
    path = tmp_path / "rtr.cfg"
    path.write_text(CONFIG)
    parsed = ios.parse(path)
    assert not parsed.problems
    v = parsed.records[0].evaluate(EOP, DST, 25)
    assert v.ingress == "GigabitEthernet0/0/0"
    # 0.3.0.255 is not contiguous: it admits exactly 52.100-103.0.x, four /24s.
    assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/24",
                                   "52.101.0.0/24", "52.102.0.0/24", "52.103.0.0/24"]
    assert not v.prefixes("indeterminate")
    deny = next(d for d in v.decisions if d.action == "deny")
    assert deny.prefixes.cidrs()[-1] == "104.47.0.0/17"
    assert deny.prefixes.size() == EOP.family(4).size() - v.permitted.size()
    assert deny.rule.location.line == 21 and deny.rule.text.startswith("50 deny")


def test_explicit_ingress_and_sniff(tmp_path):
    path = tmp_path / "rtr.cfg"
    path.write_text(CONFIG)
    v = ios.parse(path).records[0].evaluate(EOP, DST, 25, ingress="GigabitEthernet0/0/1")
    assert v.permitted.cidrs() == [] and v.denied == EOP.family(4)
    assert ios.sniff(CONFIG)
    assert not (asa.sniff(CONFIG) or iptables.sniff(CONFIG) or nftables.sniff(CONFIG))
    assert not ios.sniff("ASA Version 9.16(4)\ninterface Gi0/0\n nameif outside\n"
                         "access-group outside_in in interface outside\n")


@settings(max_examples=300)
@given(st.integers(0, 2**32 - 1), st.integers(0, 32), st.sets(st.integers(0, 31), max_size=12),
       st.integers(0, 2**32 - 1))
def test_wildcard_sets_match_the_bit_rule(address, trailing, high_bits, probe):
    wildcard = ((1 << trailing) - 1) | sum(1 << b for b in high_bits)
    exact = ios._wildcard(address, wildcard)
    assert exact is not None
    keep = ~wildcard & 0xFFFFFFFF
    assert (str(ipaddress.IPv4Address(probe)) in exact) == ((probe & keep) == (address & keep))
    assert exact.size() == 2 ** bin(wildcard).count("1")


def test_fix_uses_free_sequence_numbers_and_is_verified(tmp_path):
    path = tmp_path / "rtr.cfg"
    path.write_text(CONFIG)
    v = ios.parse(path).records[0].evaluate(EOP, DST, 25)
    fix = propose(v, v.denied, DST, 25)
    assert fix.verified, fix.verification
    # 52.100.0.0/14 less four /24s is many prefixes: the list is resequenced to make room.
    assert fix.commands[:2] == ["ip access-list resequence OUTSIDE-IN 100 100",
                                "ip access-list extended OUTSIDE-IN"]
    assert fix.commands[2] == " 501 permit tcp 52.100.1.0 0.0.0.255 host 203.0.113.25 eq smtp"
    assert any(c.endswith("permit tcp 104.47.0.0 0.0.127.255 host 203.0.113.25 eq smtp")
               for c in fix.commands)

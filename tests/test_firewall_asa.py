"""Cisco ASA evaluator: exact answers on small synthetic configs.

Every config below is synthetic (written for these tests): EOP ranges from the Microsoft 365
endpoints list (ID 10) and documentation addresses (203.0.113.0/24, 198.51.100.0/24, 10.x).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence.firewall import asa, iptables
from mailflow_doctor.ipspace import PrefixSet
from mailflow_doctor.model.firewall import FlowVerdict

EOP = PrefixSet.parse("40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17",
                      "2a01:111:f400::/48", "2a01:111:f403::/48")
EOP4 = EOP.family(4)
PUBLIC = ipaddress.ip_address("203.0.113.25")
INSIDE = "10.1.1.25"

# Synthetic: objects, nested groups, object NAT public → inside, one permit missing two ranges.
HEAD = """\
: Saved
ASA Version 9.16(4)
!
hostname fw-edge
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 203.0.113.1 255.255.255.0
!
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address 10.1.1.1 255.255.255.0
!
object network EXCH-HYBRID
 host 10.1.1.25
 nat (inside,outside) static 203.0.113.25
object network EOP-40-92
 subnet 40.92.0.0 255.254.0.0
object-group network EOP-LEVEL3
 network-object 40.107.0.0 255.255.0.0
object-group network EOP-LEVEL2
 network-object object EOP-40-92
 group-object EOP-LEVEL3
object-group network EOP-SMTP
 description EOP senders (incomplete after a change)
 group-object EOP-LEVEL2
"""


def write(tmp_path: Path, text: str, name: str = "asa.cfg") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def evaluate(tmp_path: Path, text: str, sources: PrefixSet = EOP, dst=PUBLIC, port: int = 25,
             ingress: str | None = None) -> tuple[FlowVerdict, list]:
    parsed = asa.parse(write(tmp_path, text))
    assert len(parsed.records) == 1
    verdict = parsed.records[0].evaluate(sources, ipaddress.ip_address(dst), port, ingress)
    assert_partition(verdict, sources.family(ipaddress.ip_address(dst).version))
    return verdict, parsed.problems


def assert_partition(verdict: FlowVerdict, expected: PrefixSet) -> None:
    """Decisions are pairwise disjoint and together exactly the family-restricted sources."""
    union = PrefixSet()
    for d in verdict.decisions:
        assert d.prefixes, "no empty decisions"
        assert not (union & d.prefixes), "decisions overlap"
        union = union | d.prefixes
    assert union == expected


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_nested_groups_nat_and_missing_prefixes(tmp_path):
    cfg = HEAD + """\
access-list outside_access_in remark EOP to Exchange
access-list outside_access_in extended permit tcp object-group EOP-SMTP object EXCH-HYBRID eq smtp log
access-group outside_access_in in interface outside
"""
    v, problems = evaluate(tmp_path, cfg)
    assert problems == []
    assert v.vendor == "cisco-asa" and v.destination == "203.0.113.25:25"
    assert v.inside_destination == f"{INSIDE}:25" and v.ingress == "outside"
    assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16"]
    permit = v.decisions[0]
    assert permit.rule.name == "outside_access_in"
    assert permit.rule.location.line == line_of(cfg, "extended permit tcp object-group EOP-SMTP")
    assert permit.rule.text.startswith("access-list outside_access_in extended permit")
    deny = v.decisions[-1]
    assert deny.action == "deny" and deny.prefixes.cidrs() == ["52.100.0.0/14", "104.47.0.0/17"]
    assert deny.rule.text == "access-group outside_access_in in interface outside"
    assert deny.rule.location.line == line_of(cfg, "access-group outside_access_in")
    assert "implicit deny" in deny.default and "outside_access_in" in deny.default


def test_acl_on_public_address_does_not_match_after_nat(tmp_path):
    # ASA 8.3+: an ACE written against the mapped (public) address never matches.
    cfg = HEAD + """\
access-list outside_access_in extended permit tcp any host 203.0.113.25 eq smtp
access-group outside_access_in in interface outside
"""
    v, _ = evaluate(tmp_path, cfg)
    assert not v.permitted and v.denied == EOP4


def test_host_mask_and_any(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp host 40.92.1.1 host 10.1.1.25 eq 25
access-list OUT extended permit tcp 52.100.0.0 255.252.0.0 10.1.1.0 255.255.255.0 eq smtp
access-list OUT extended deny tcp 104.47.0.0 255.255.128.0 any
access-list OUT extended permit ip any any4
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg)
    by_line = {d.rule.location.line: d for d in v.decisions}
    assert by_line[line_of(cfg, "host 40.92.1.1")].prefixes.cidrs() == ["40.92.1.1/32"]
    assert by_line[line_of(cfg, "52.100.0.0 255.252.0.0")].prefixes.cidrs() == ["52.100.0.0/14"]
    assert by_line[line_of(cfg, "deny tcp 104.47.0.0")].action == "deny"
    assert v.denied.cidrs() == ["104.47.0.0/17"]
    assert v.permitted == EOP4 - PrefixSet.parse("104.47.0.0/17")


def test_inactive_entry_is_skipped(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp any object EXCH-HYBRID eq smtp inactive
access-list OUT extended permit tcp 40.107.0.0 255.255.0.0 object EXCH-HYBRID eq smtp log 6 interval 300
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg)
    assert v.permitted.cidrs() == ["40.107.0.0/16"]


def test_service_object_groups(tmp_path):
    cfg = HEAD + """\
object-group service SMTP-PORTS tcp
 port-object eq smtp
 port-object range 587 587
object-group service MAIL-SVC
 service-object tcp destination eq smtp
object-group service WEB-SVC
 service-object tcp destination eq https
access-list OUT extended permit tcp 40.92.0.0 255.254.0.0 object EXCH-HYBRID object-group SMTP-PORTS
access-list OUT extended permit object-group MAIL-SVC 40.107.0.0 255.255.0.0 object EXCH-HYBRID
access-list OUT extended permit object-group WEB-SVC any any
access-group OUT in interface outside
"""
    v, problems = evaluate(tmp_path, cfg)
    assert problems == []
    assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16"]
    v587, _ = evaluate(tmp_path, cfg, port=587)
    assert v587.permitted.cidrs() == ["40.92.0.0/15"]  # only the port-object group has 587


def test_acl_bound_to_other_interface_does_not_apply(tmp_path):
    cfg = HEAD + """\
access-list DMZ_IN extended permit ip any any
access-list OUT extended permit tcp 40.92.0.0 255.254.0.0 object EXCH-HYBRID eq smtp
access-group DMZ_IN in interface dmz
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg)
    assert v.permitted.cidrs() == ["40.92.0.0/15"]
    assert all(d.rule.name != "DMZ_IN" for d in v.decisions)
    # Asked explicitly about traffic arriving on dmz, the dmz list applies instead.
    v_dmz, _ = evaluate(tmp_path, cfg, ingress="dmz")
    assert v_dmz.permitted == EOP4 and v_dmz.ingress == "dmz"


def test_global_acl_after_interface_acl(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp 40.92.0.0 255.254.0.0 object EXCH-HYBRID eq smtp
access-list OUT extended deny tcp 52.100.0.0 255.252.0.0 any
access-list GLOBAL extended permit tcp any object EXCH-HYBRID eq smtp
access-group OUT in interface outside
access-group GLOBAL global
"""
    v, _ = evaluate(tmp_path, cfg)
    names = {d.rule.name for d in v.decisions if d.action == "permit"}
    assert names == {"OUT", "GLOBAL"}
    assert v.denied.cidrs() == ["52.100.0.0/14"]  # the interface deny wins over the global permit
    assert v.permitted == EOP4 - PrefixSet.parse("52.100.0.0/14")
    # With nothing permitting some sources, the implicit deny comes after the global list.
    cfg2 = cfg.replace("permit tcp any object EXCH-HYBRID", "permit tcp 40.107.0.0 255.255.0.0 "
                       "object EXCH-HYBRID")
    v2, _ = evaluate(tmp_path, cfg2)
    default = v2.decisions[-1]
    assert default.rule.text == "access-group GLOBAL global"
    assert default.prefixes.cidrs() == ["104.47.0.0/17"]
    assert "GLOBAL" in default.default and "OUT" in default.default


def test_unparseable_line_is_reported_and_rest_used(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp 40.92.0.0 255.254.0.0 object EXCH-HYBRID eq smtp
access-list OUT extended permit tcp 40.107.0.0 garbage object EXCH-HYBRID eq smtp
access-list OUT extended permit tcp 104.47.0.0 255.255.128.0 object EXCH-HYBRID eq bogusport
access-list OUT extended permit tcp 52.100.0.0 255.252.0.0 object EXCH-HYBRID eq smtp
access-group OUT in interface outside
"""
    v, problems = evaluate(tmp_path, cfg)
    lines = [p.location.line for p in problems]
    assert lines == [line_of(cfg, "40.107.0.0 garbage"), line_of(cfg, "bogusport")]
    assert all(p.location.source.endswith("asa.cfg") and "\n" not in p.message for p in problems)
    assert v.permitted.cidrs() == ["40.92.0.0/15", "52.100.0.0/14"]
    assert any("could not be read" in n for n in v.notes)


def test_ipv6_sources_take_no_part_for_ipv4_destination(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp any object EXCH-HYBRID eq smtp
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg)
    assert all(not d.prefixes.v6 for d in v.decisions)
    v6_only = PrefixSet.parse("2a01:111:f400::/48")
    v2, _ = evaluate(tmp_path, cfg, sources=v6_only)
    assert v2.decisions == ()


def test_ipv6_destination(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp 2a01:111:f400::/48 host 2001:db8::25 eq smtp
access-list OUT extended permit tcp any4 any eq smtp
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg, dst="2001:db8::25")
    assert v.destination == "[2001:db8::25]:25"
    assert v.permitted.cidrs() == ["2a01:111:f400::/48"]
    assert v.denied.cidrs() == ["2a01:111:f403::/48"]


def test_no_nat_evaluates_destination_as_given(tmp_path):
    cfg = HEAD.replace(" nat (inside,outside) static 203.0.113.25\n", "") + """\
access-list OUT extended permit tcp any host 198.51.100.25 eq smtp
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg, dst="198.51.100.25")
    assert v.inside_destination is None and v.permitted == EOP4
    assert any("assumed 'outside'" in n for n in v.notes)


def test_nat_to_named_object_and_port_translation(tmp_path):
    cfg = HEAD.replace(" nat (inside,outside) static 203.0.113.25\n",
                       " nat (inside,outside) static PUB-MX service tcp 2525 smtp\n") + """\
object network PUB-MX
 host 203.0.113.30
access-list OUT extended permit tcp any object EXCH-HYBRID eq 2525
access-group OUT in interface outside
"""
    v, problems = evaluate(tmp_path, cfg, dst="203.0.113.30")
    assert problems == []
    assert v.inside_destination == f"{INSIDE}:2525" and v.permitted == EOP4


def test_manual_twice_nat_source_static(tmp_path):
    cfg = HEAD.replace(" nat (inside,outside) static 203.0.113.25\n", "") + """\
object network PUB-MX
 host 203.0.113.40
nat (inside,outside) source static EXCH-HYBRID PUB-MX
access-list OUT extended permit tcp 104.47.0.0 255.255.128.0 object EXCH-HYBRID eq smtp
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg, dst="203.0.113.40")
    assert v.inside_destination == f"{INSIDE}:25"
    assert v.permitted.cidrs() == ["104.47.0.0/17"]


def test_group_cycle_is_reported_not_fatal(tmp_path):
    cfg = HEAD + """\
object-group network LOOP-A
 network-object 52.100.0.0 255.252.0.0
 group-object LOOP-B
object-group network LOOP-B
 group-object LOOP-A
access-list OUT extended permit tcp object-group LOOP-A object EXCH-HYBRID eq smtp
access-group OUT in interface outside
"""
    v, problems = evaluate(tmp_path, cfg)
    assert any("cycle" in p.message for p in problems)
    assert v.permitted.cidrs() == ["52.100.0.0/14"]


def test_fqdn_and_time_range_are_indeterminate(tmp_path):
    cfg = HEAD + """\
object network EOP-FQDN
 fqdn mail.protection.outlook.com
object-group network MIXED
 network-object 40.92.0.0 255.254.0.0
 network-object object EOP-FQDN
access-list OUT extended permit tcp 104.47.0.0 255.255.128.0 object EXCH-HYBRID eq smtp time-range WORK
access-list OUT extended permit tcp object-group MIXED object EXCH-HYBRID eq smtp
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg)
    assert v.permitted.cidrs() == ["40.92.0.0/15"]  # the known member is sure
    assert v.prefixes("indeterminate") == EOP4 - PrefixSet.parse("40.92.0.0/15")
    assert not v.denied


def test_no_access_group_is_implicit_deny_with_note(tmp_path):
    cfg = HEAD + "access-list UNUSED extended permit ip any any\n"
    v, _ = evaluate(tmp_path, cfg)
    assert v.denied == EOP4 and v.decisions[0].rule is None
    assert any("no access list applies" in n for n in v.notes)


def test_out_acl_on_egress_interface(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp any object EXCH-HYBRID eq smtp
access-list TO_INSIDE extended deny tcp 40.92.0.0 255.254.0.0 any
access-list TO_INSIDE extended permit ip any any
access-group OUT in interface outside
access-group TO_INSIDE out interface inside
"""
    v, _ = evaluate(tmp_path, cfg)
    assert v.denied.cidrs() == ["40.92.0.0/15"]
    assert {d.rule.name for d in v.decisions if d.action == "permit"} == {"OUT"}


def test_source_port_condition(tmp_path):
    # A classic mistake: `eq smtp` on the source side never matches EOP's ephemeral port.
    cfg = HEAD + """\
access-list OUT extended permit tcp 40.92.0.0 255.254.0.0 eq smtp object EXCH-HYBRID eq smtp
access-list OUT extended permit tcp 40.107.0.0 255.255.0.0 gt 1023 object EXCH-HYBRID eq smtp
access-group OUT in interface outside
"""
    v, _ = evaluate(tmp_path, cfg)
    assert v.permitted.cidrs() == ["40.107.0.0/16"]


def test_config_without_rules_gives_no_record(tmp_path):
    parsed = asa.parse(write(tmp_path, ": Saved\nASA Version 9.16(4)\nhostname x\n"))
    assert parsed.records == [] and parsed.problems == []


@pytest.mark.parametrize("head,expected", [
    (HEAD, True),
    ("access-list outside_in extended permit tcp any any eq smtp\n", True),
    ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 25 -j ACCEPT\nCOMMIT\n", False),
    ("Date,Sender,Recipient,Status\n2024-01-01,a@example.com,b@example.com,Delivered\n", False),
    ("The quick brown fox jumps over the lazy dog.\nNothing to see here.\n", False),
])
def test_sniff(head, expected):
    assert asa.sniff(head) is expected
    if expected:
        assert iptables.sniff(head) is False


def test_names_line_numbers_and_protocol_groups(tmp_path):
    cfg = HEAD + """\
name 10.1.1.25 EXCH-NAME
object-group protocol TCP-ONLY
 protocol-object tcp
access-list OUT line 1 extended permit object-group TCP-ONLY 104.47.0.0 255.255.128.0 host EXCH-NAME eq smtp
access-list OUT extended permit udp any any eq snmp
access-list OUT extended permit icmp any any echo-reply
access-group OUT in interface outside
"""
    v, problems = evaluate(tmp_path, cfg)
    assert problems == []
    assert v.permitted.cidrs() == ["104.47.0.0/17"]


def test_undefined_object_is_reported_and_indeterminate(tmp_path):
    cfg = HEAD + """\
access-list OUT extended permit tcp object-group NOT-THERE object EXCH-HYBRID eq smtp
access-group OUT in interface outside
"""
    v, problems = evaluate(tmp_path, cfg)
    assert [p.location.line for p in problems] == [line_of(cfg, "NOT-THERE")]
    assert v.prefixes("indeterminate") == EOP4


# -- property: exact first match against a one-address interpreter --------------------------------

ACE = st.tuples(st.sampled_from(["permit", "deny"]), st.integers(0, 2**32 - 1),
                st.integers(0, 32), st.sampled_from(["eq smtp", "eq www", "range 20 30", ""]),
                st.booleans())


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(aces=st.lists(ACE, max_size=10))
def test_random_acl_is_exact(tmp_path, aces):
    lines = []
    for action, value, length, port, inactive in aces:
        net = ipaddress.ip_network((value, length), strict=False)
        proto = "tcp" if port else "ip"
        lines.append(f"access-list OUT extended {action} {proto} {net.network_address} "
                     f"{net.netmask} object EXCH-HYBRID {port}{' inactive' if inactive else ''}")
    cfg = HEAD + "\n".join(lines + ["access-group OUT in interface outside", ""])
    v, problems = evaluate(tmp_path, cfg)
    assert problems == []
    for d in v.decisions:
        for lo, hi in d.prefixes.v4:
            for value in {lo, hi, (lo + hi) // 2}:
                address = ipaddress.ip_address(value)
                expected = next((action for action, v_, n, port, inactive in aces
                                 if not inactive and port in ("eq smtp", "range 20 30", "")
                                 and address in ipaddress.ip_network((v_, n), strict=False)),
                                "deny")
                assert d.action == expected, address

"""nftables reader and evaluator without a kernel (the kernel checks are in test_kernel_truth)."""

from __future__ import annotations

import ipaddress
import json

from mailflow_doctor.evidence.firewall import asa, iptables, nftables
from mailflow_doctor.ipspace import PrefixSet
from mailflow_doctor.knowledge.endpoints import snapshot

EOP = snapshot("worldwide").eop_prefixes
DST = ipaddress.ip_address("198.51.100.25")

# SYNTHETIC ruleset in `nft list ruleset` form.
TEXT = """\
table inet filter {
	set eop {
		type ipv4_addr
		flags interval
		elements = { 40.92.0.0/15, 40.107.0.0/16 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		ip daddr 198.51.100.25 tcp dport 25 ip saddr @eop accept
		ip6 saddr 2a01:111:f400::/48 tcp dport smtp accept
		ip daddr 198.51.100.25 tcp dport 25 meta mark 0x1 accept
		ip daddr 198.51.100.25 tcp dport 25 ip saddr != 52.100.0.0/14 reject with icmpx type admin-prohibited
	}
}
"""


def evaluate(text, tmp_path, name="rules.nft", dst=DST):
    path = tmp_path / name
    path.write_text(text)
    parsed = nftables.parse(path)
    return parsed, parsed.records[0].evaluate(EOP, dst, 25)


def test_input_hook_set_negation_and_unknown_match(tmp_path):
    parsed, v = evaluate(TEXT, tmp_path)
    # `meta mark` cannot be known offline: reported, and its sources stay undecided.
    assert [p.location.line for p in parsed.problems] == [13]
    assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16"]
    assert v.prefixes("indeterminate").cidrs() == ["52.100.0.0/14", "104.47.0.0/17"]
    assert v.denied.cidrs() == []
    rule = next(d.rule for d in v.decisions if d.action == "permit")
    assert rule.location.line == 11 and "@eop" in rule.text
    assert any("INPUT" in n or "input" in n for n in v.notes)


def test_policy_decides_what_no_rule_does(tmp_path):
    text = TEXT.replace("\t\tip daddr 198.51.100.25 tcp dport 25 meta mark 0x1 accept\n", "")
    _, v = evaluate(text, tmp_path)
    deny = {str(d.prefixes): d for d in v.decisions if d.action == "deny"}
    assert deny["104.47.0.0/17"].rule.location.line == 13  # the reject rule
    assert deny["52.100.0.0/14"].default == "policy drop of base chain input"
    assert deny["52.100.0.0/14"].rule.location.line == 8  # the chain's type/policy line
    # The IPv6 rule does not leak into an IPv4 question, and vice versa.
    assert not (v.permitted | v.denied).family(6)
    _, v6 = evaluate(text, tmp_path, dst=ipaddress.ip_address("2001:db8::25"))
    # The ip6 rule (port by service name) has no destination: it admits f400 to any address.
    assert v6.permitted.cidrs() == ["2a01:111:f400::/48"]
    assert v6.denied.cidrs() == ["2a01:111:f403::/48"]


def test_json_listing_is_read_like_the_text(tmp_path):
    doc = {"nftables": [
        {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5",
                      "json_schema_version": 1}},
        {"table": {"family": "ip", "name": "f", "handle": 1}},
        {"chain": {"family": "ip", "table": "f", "name": "fw", "handle": 1, "type": "filter",
                   "hook": "forward", "prio": 0, "policy": "drop"}},
        {"rule": {"family": "ip", "table": "f", "chain": "fw", "handle": 2, "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": {"set": [{"prefix": {"addr": "40.92.0.0", "len": 15}},
                                         {"range": ["104.47.0.0", "104.47.63.255"]}]}}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                       "right": 25}},
            {"counter": {"packets": 0, "bytes": 0}}, {"accept": None}]}},
        {"rule": {"family": "ip", "table": "f", "chain": "fw", "handle": 3, "expr": [
            {"xt": {"type": "match", "name": "recent"}}, {"drop": None}]}},
    ]}
    parsed, v = evaluate(json.dumps(doc, indent=1), tmp_path, "ruleset.json")
    assert len(parsed.problems) == 1 and "xt" in parsed.problems[0].message
    assert v.permitted.cidrs() == ["40.92.0.0/15", "104.47.0.0/18"]
    permit = next(d for d in v.decisions if d.action == "permit")
    assert permit.rule.text.startswith("ip saddr { 40.92.0.0/15, 104.47.0.0-104.47.63.255 }")
    assert v.prefixes("indeterminate") == (EOP.family(4) - v.permitted)


def test_sniff_tells_nftables_from_the_others(tmp_path):
    assert nftables.sniff(TEXT) and nftables.sniff('{"nftables": [{"metainfo": {}}]}')
    assert not nftables.sniff("*filter\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n")
    assert not nftables.sniff("access-list out extended permit tcp any any eq smtp\n")
    assert not iptables.sniff(TEXT) and not asa.sniff(TEXT)
    assert not nftables.sniff('{"value": []}')


def test_not_nftables_at_all(tmp_path):
    path = tmp_path / "x.nft"
    path.write_text("hello world\n")
    parsed = nftables.parse(path)
    assert parsed.records == [] and parsed.problems


def test_decisions_partition_the_sources(tmp_path):
    _, v = evaluate(TEXT, tmp_path)
    union = PrefixSet()
    for d in v.decisions:
        assert not (union & d.prefixes)
        union = union | d.prefixes
    assert union == EOP.family(4)


def test_redundant_and_shadowed_rules(tmp_path):
    text = TEXT.replace(
        "\t\tip daddr 198.51.100.25 tcp dport 25 meta mark 0x1 accept\n",
        "\t\tip saddr 40.92.0.0/16 tcp dport 25 accept\n"
        "\t\tip saddr 104.47.0.0/17 drop\n"
        "\t\tip saddr 104.47.0.0/18 tcp dport 25 accept\n")
    _, v = evaluate(text, tmp_path)
    assert sorted((u.status, u.rule.location.line, u.prefixes.cidrs()) for u in v.unused) == [
        ("redundant", 13, ["40.92.0.0/16"]), ("shadowed", 15, ["104.47.0.0/18"]),
        # The closing reject matches only sources decided above it (by accept and by drop).
        ("shadowed", 16, ["40.92.0.0/15", "40.107.0.0/16", "104.47.0.0/17"])]

"""Ground truth: the iptables and nftables verdicts equal what the Linux kernel does.

Each ruleset (SYNTHETIC) is loaded into a gateway namespace; sources from every decided EOP
prefix (first, middle and last address of each) connect from a sender namespace to the public
address, DNAT'ed to a listener in a server namespace. Permitted ⇔ connected, prefix by prefix.
These tests need root, iproute2, iptables and nftables; they fail rather than skip when those are missing,
so CI cannot pass without having run them.
"""

from __future__ import annotations

import ipaddress
import shlex

import pytest
from netns import run, topology, write

from mailflow_doctor.evidence.firewall import iptables, nftables
from mailflow_doctor.fixes import propose
from mailflow_doctor.knowledge.endpoints import snapshot

EOP4 = snapshot("worldwide").eop_prefixes.family(4)

DNAT = """\
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 198.51.100.25/32 -i eth0 -p tcp -m tcp --dport 25 -j DNAT --to-destination 10.0.0.25:25
COMMIT
"""

IPSET = """\
create eop_smtp hash:net family inet hashsize 1024 maxelem 65536
add eop_smtp 40.92.0.0/15
add eop_smtp 40.107.0.0/16
add eop_smtp 104.47.0.0/18
create blocked hash:ip family inet hashsize 1024 maxelem 65536
add blocked 40.107.128.0
"""

RULESETS = {
    "one-range-dropped": DNAT + """\
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:SMTP_IN - [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -d 10.0.0.25/32 -i eth0 -p tcp -m tcp --dport 25 -j SMTP_IN
-A SMTP_IN -s 40.92.0.0/15 -j ACCEPT
-A SMTP_IN -s 40.107.0.0/16 -j ACCEPT
-A SMTP_IN -s 52.100.0.0/14 -j ACCEPT
-A SMTP_IN -j LOG --log-prefix "SMTP_IN drop: "
-A SMTP_IN -j DROP
COMMIT
""",
    "ipset-match": IPSET + DNAT + """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -p tcp -m set --match-set blocked src -j REJECT --reject-with tcp-reset
-A FORWARD -d 10.0.0.25/32 -p tcp --dport 25 -m set --match-set eop_smtp src -j ACCEPT
COMMIT
""",
    "partial-ranges-reject-return-iprange": DNAT + """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:EOP - [0:0]
:BLOCKLIST - [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i eth1 -j ACCEPT
-A FORWARD -p tcp -m multiport --dports 25,587 -j BLOCKLIST
-A FORWARD -d 10.0.0.25/32 -p tcp --dport 25 -j EOP
-A FORWARD -p tcp -j REJECT --reject-with tcp-reset
-A BLOCKLIST -s 52.102.0.0/16 -j DROP
-A BLOCKLIST -p tcp -m iprange --src-range 104.47.64.0-104.47.95.255 -j REJECT --reject-with tcp-reset
-A BLOCKLIST -j RETURN
-A EOP ! -s 40.0.0.0/8 -j RETURN
-A EOP -s 40.92.0.0/16 -j ACCEPT
-A EOP -s 40.107.0.0/16 -j ACCEPT
-A EOP -j DROP
-A FORWARD -s 52.100.0.0/14 -p tcp --dport 25 -j ACCEPT
COMMIT
""",
}


def sample_sources(cidrs: list[str]) -> list[str]:
    out: list[str] = []
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr)
        for ip in (net[0], net[net.num_addresses // 2], net[-1]):
            if str(ip) not in out:
                out.append(str(ip))
    return out


@pytest.mark.parametrize("name", sorted(RULESETS))
def test_iptables_verdict_matches_the_kernel(tmp_path, name):
    rules = RULESETS[name]
    parsed = iptables.parse(write(tmp_path / f"{name}.rules", rules))
    assert not parsed.problems
    verdict = parsed.records[0].evaluate(EOP4, ipaddress.ip_address("198.51.100.25"), 25)
    assert not verdict.prefixes("indeterminate")
    decided = [c for d in verdict.decisions for c in d.prefixes.cidrs()]
    sources = sample_sources(decided)
    with topology(sources, EOP4.cidrs()) as net:
        net.load_iptables(rules)
        outcome = net.probe(sources)
    assert set(outcome) == set(sources)
    if "ipset" in name:
        assert "40.107.128.0" in verdict.denied  # the single blocked host, decided exactly
    for src in sources:
        predicted = src in verdict.permitted
        assert (outcome[src] == "connected") == predicted, (src, outcome[src], predicted)
    # Both kinds of answer were exercised, and the kernel agreed on each.
    assert {outcome[s] == "connected" for s in sources} == {True, False}


NFT_RULESETS = {
    "set-with-dnat": """\
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "eth0" ip daddr 198.51.100.25 tcp dport 25 dnat to 10.0.0.25:25
	}
}
table inet filter {
	set eop_smtp {
		type ipv4_addr
		flags interval
		elements = { 40.92.0.0/15, 40.107.0.0/16,
			     52.100.0.0/15 }
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "eth0" ip daddr 10.0.0.25 tcp dport 25 jump smtp_in
	}
	chain smtp_in {
		ip saddr @eop_smtp counter accept
		ip saddr 104.47.0.0/18 tcp dport { 25, 587 } accept
		log prefix "smtp drop " drop
	}
}
""",
    # Two base chains on the forward hook: accept in the first does not end the second.
    "two-base-chains": """\
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 198.51.100.25 tcp dport 25 dnat to 10.0.0.25
	}
}
table ip edge {
	chain forward_in {
		type filter hook forward priority -10; policy accept;
		ip saddr 52.100.0.0/14 reject with tcp reset
		ip saddr != 40.0.0.0/8 tcp dport 25 accept
	}
}
table ip core {
	chain forward_in {
		type filter hook forward priority 10; policy accept;
		ct state established accept
		ip saddr 104.47.64.0-104.47.127.255 drop
		ip saddr 40.92.0.0/16 goto deny
	}
	chain deny {
		counter drop
	}
}
""",
}


def check_against_kernel(rules_file, load, dump_json=None):
    parsed_text = nftables.parse(rules_file)
    assert not parsed_text.problems, parsed_text.problems
    verdict = parsed_text.records[0].evaluate(EOP4, ipaddress.ip_address("198.51.100.25"), 25)
    assert not verdict.prefixes("indeterminate")
    sources = sample_sources([c for d in verdict.decisions for c in d.prefixes.cidrs()])
    with topology(sources, EOP4.cidrs()) as net:
        load(net)
        outcome = net.probe(sources)
        dumped = run("nft", "-j", "list", "ruleset", ns=net.gateway)
    for src in sources:
        assert (outcome[src] == "connected") == (src in verdict.permitted), (src, outcome[src])
    assert {outcome[s] == "connected" for s in sources} == {True, False}
    return verdict, dumped


@pytest.mark.parametrize("name", sorted(NFT_RULESETS))
def test_nftables_text_and_json_verdicts_match_the_kernel(tmp_path, name):
    rules = NFT_RULESETS[name]
    path = write(tmp_path / f"{name}.nft", rules)
    verdict, dumped = check_against_kernel(path, lambda net: net.load_nft(rules))
    # The kernel's own JSON listing of the loaded ruleset gives the same answer.
    from_json = nftables.parse(write(tmp_path / f"{name}.json", dumped))
    assert not from_json.problems, from_json.problems
    again = from_json.records[0].evaluate(EOP4, ipaddress.ip_address("198.51.100.25"), 25)
    assert again.permitted == verdict.permitted and again.denied == verdict.denied


@pytest.mark.parametrize("kind, name", [("iptables", "one-range-dropped"),
                                        ("iptables", "partial-ranges-reject-return-iprange"),
                                        ("nftables", "set-with-dnat"),
                                        ("nftables", "two-base-chains")])
def test_printed_fix_applied_to_the_kernel_lets_every_range_through(tmp_path, kind, name):
    rules = (RULESETS if kind == "iptables" else NFT_RULESETS)[name]
    reader = iptables if kind == "iptables" else nftables
    path = write(tmp_path / f"{name}.conf", rules)
    dst = ipaddress.ip_address("198.51.100.25")
    verdict = reader.parse(path).records[0].evaluate(EOP4, dst, 25)
    fix = propose(verdict, verdict.denied, dst, 25)
    assert fix is not None and fix.verified, fix and fix.verification
    sources = sample_sources(EOP4.cidrs() + verdict.denied.cidrs())
    with topology(sources, EOP4.cidrs()) as net:
        net.load_iptables(rules) if kind == "iptables" else net.load_nft(rules)
        for command in fix.commands:
            run(*shlex.split(command), ns=net.gateway)
        outcome = net.probe(sources)
    assert {src: outcome[src] for src in sources} == {src: "connected" for src in sources}

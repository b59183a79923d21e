"""`firewall audit` / `firewall fix` and the vendor fixes on SYNTHETIC configurations."""

from __future__ import annotations

import ipaddress
import json

from typer.testing import CliRunner

from mailflow_doctor.cli.app import app, demo_case
from mailflow_doctor.evidence.firewall import asa, iptables
from mailflow_doctor.fixes import Insertion, apply, propose
from mailflow_doctor.knowledge.endpoints import snapshot

runner = CliRunner()
EOP4 = snapshot("worldwide").eop_prefixes.family(4)
DEMO_ASA = demo_case() / "firewall" / "tailspin-fw01-running-config.txt"

# SYNTHETIC: sources written inline, no object-group to extend.
ASA_INLINE = """\
hostname fw03
access-list outside_in remark mail from EOP
access-list outside_in extended permit tcp 40.92.0.0 255.254.0.0 host 203.0.113.25 eq smtp
access-list outside_in extended permit tcp 40.107.0.0 255.255.0.0 host 203.0.113.25 eq smtp
access-list outside_in extended deny tcp 104.47.0.0 255.255.128.0 any eq smtp
access-list outside_in extended permit tcp any host 203.0.113.80 eq www
access-group outside_in in interface outside
"""


def fix_for(module, tmp_path, text, dst):
    path = tmp_path / "config.txt"
    path.write_text(text)
    address = ipaddress.ip_address(dst)
    verdict = module.parse(path).records[0].evaluate(EOP4, address, 25)
    return verdict, propose(verdict, verdict.denied, address, 25)


def test_apply_inserts_after_the_given_lines():
    text = "a\nb\nc\n"
    assert apply(text, [Insertion(0, ("top",)), Insertion(2, ("x", "y"))]) == \
        "top\na\nb\nx\ny\nc\n"


def test_asa_inline_sources_get_entries_above_the_deny_and_at_the_end(tmp_path):
    verdict, fix = fix_for(asa, tmp_path, ASA_INLINE, "203.0.113.25")
    assert verdict.denied.cidrs() == ["52.100.0.0/14", "104.47.0.0/17"]
    # 104.47 is denied by the explicit entry (ASA line 4, remarks count); 52.100 by the end.
    assert fix.commands == [
        "access-list outside_in line 4 extended permit tcp 104.47.0.0 255.255.128.0 "
        "host 203.0.113.25 eq smtp",
        "access-list outside_in extended permit tcp 52.100.0.0 255.252.0.0 "
        "host 203.0.113.25 eq smtp",
    ]
    assert fix.verified, fix.verification


def test_asa_group_fix_warns_when_the_group_is_shared(tmp_path):
    text = DEMO_ASA.read_text() + (
        "access-list dmz_in extended permit tcp object-group EOP-SMTP any eq https\n")
    _, fix = fix_for(asa, tmp_path, text, "13.92.177.139")
    assert fix.commands[0] == "object-group network EOP-SMTP"
    assert "2 access-list entries use this group" in fix.summary
    assert fix.verified


def test_iptables_policy_deny_is_fixed_by_appending(tmp_path):
    text = """\
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -s 40.92.0.0/15 -d 198.51.100.25/32 -p tcp --dport 25 -j ACCEPT
-A INPUT -p tcp --dport 22 -j ACCEPT
COMMIT
"""
    verdict, fix = fix_for(iptables, tmp_path, text, "198.51.100.25")
    assert fix.commands == [
        f"iptables -A INPUT -s {c} -d 198.51.100.25/32 -p tcp --dport 25 -j ACCEPT"
        for c in ("40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17")]
    assert fix.verified and fix.after is not None
    assert fix.after.permitted == EOP4


def test_cli_audit_and_fix_json(tmp_path):
    audit = runner.invoke(app, ["firewall", "audit", str(DEMO_ASA), "--destination",
                                "13.92.177.139", "--format", "json"])
    assert audit.exit_code == 1, audit.output
    data = json.loads(audit.stdout)
    assert data["missing_prefixes"] == ["52.102.0.0/15", "104.47.0.0/17"]
    assert data["permitted_prefixes"] == ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/15"]
    rules = data["configs"][0]["rules"]
    assert {r["action"] for r in rules} == {"permit", "deny"}
    assert all(r["rule"]["location"].startswith(str(DEMO_ASA)) for r in rules)
    fix = runner.invoke(app, ["firewall", "fix", str(DEMO_ASA), "--destination",
                              "13.92.177.139:25", "--format", "json"])
    assert fix.exit_code == 1
    got = json.loads(fix.stdout)["fixes"][0]
    assert got["verified"] is True
    assert got["commands"][1:] == [" network-object 52.102.0.0 255.254.0.0",
                                   " network-object 104.47.0.0 255.255.128.0"]


def test_cli_audit_with_own_sources_and_nothing_to_fix(tmp_path):
    result = runner.invoke(app, ["firewall", "fix", str(DEMO_ASA), "--destination",
                                 "13.92.177.139", "--sources", "40.92.0.0/15"])
    assert result.exit_code == 0
    assert "Nothing to change" in result.stdout
    bad = runner.invoke(app, ["firewall", "audit", str(DEMO_ASA), "--destination", "nope"])
    assert bad.exit_code == 2


def test_audit_lists_redundant_and_shadowed_rules(tmp_path):
    config = tmp_path / "fw.txt"
    config.write_text(ASA_INLINE.replace(
        "access-list outside_in extended permit tcp any host 203.0.113.80 eq www\n",
        "access-list outside_in extended permit tcp 40.92.0.0 255.255.0.0 host 203.0.113.25 "
        "eq smtp\naccess-list outside_in extended deny tcp 40.107.0.0 255.255.0.0 any\n"))
    result = runner.invoke(app, ["firewall", "audit", str(config), "--destination",
                                 "203.0.113.25", "--format", "json"])
    unused = json.loads(result.stdout)["configs"][0]["unused_rules"]
    assert [(u["status"], u["prefixes"], u["rule"]["location"].rsplit(":", 1)[1])
            for u in unused] == [("redundant", ["40.92.0.0/16"], "6"),
                                 ("shadowed", ["40.107.0.0/16"], "7")]


def test_asa_twice_nat_destination_clause_maps_the_public_address(tmp_path):
    config = tmp_path / "twice.txt"
    config.write_text("""\
: SYNTHETIC
object network EXCH-REAL
 host 10.20.0.25
object network EXCH-PUBLIC
 host 13.92.177.139
object-group network EOP
 network-object 40.92.0.0 255.254.0.0
nat (outside,inside) source static any any destination static EXCH-PUBLIC EXCH-REAL
access-list outside_in extended permit tcp object-group EOP host 10.20.0.25 eq smtp
access-group outside_in in interface outside
""")
    v = asa.parse(config).records[0].evaluate(EOP4, ipaddress.ip_address("13.92.177.139"), 25)
    assert (v.inside_destination, v.ingress) == ("10.20.0.25:25", "outside")
    assert v.permitted.cidrs() == ["40.92.0.0/15"]

"""FortiGate configurations (SYNTHETIC, in `show full-configuration` shape) and their fix."""

from __future__ import annotations

import ipaddress

from mailflow_doctor.evidence.firewall import asa, fortigate, ios, iptables, nftables
from mailflow_doctor.fixes import propose
from mailflow_doctor.knowledge.endpoints import snapshot

EOP4 = snapshot("worldwide").eop_prefixes.family(4)
DST = ipaddress.ip_address("203.0.113.25")

CONFIG = """\
#config-version=FGT60F-7.2.8-FW-build1639:opmode=0:vdom=0:user=admin
config firewall address
    edit "EOP-40.92"
        set subnet 40.92.0.0 255.254.0.0
    next
    edit "EOP-40.107"
        set subnet 40.107.0.0 255.255.0.0
    next
    edit "EOP-104.47-range"
        set type iprange
        set start-ip 104.47.0.0
        set end-ip 104.47.63.255
    next
    edit "outlook-fqdn"
        set type fqdn
        set fqdn "mail.protection.outlook.com"
    next
end
config firewall addrgrp
    edit "EOP-SMTP"
        set member "EOP-40.92" "EOP-40.107"
    next
end
config firewall vip
    edit "VIP-SMTP"
        set extip 203.0.113.25
        set mappedip "10.0.0.25"
        set extintf "wan1"
        set portforward enable
        set extport 25
        set mappedport 25
    next
end
config firewall service custom
    edit "SMTP-25"
        set tcp-portrange 25
    next
end
config firewall policy
    edit 3
        set name "old rule, disabled"
        set status disable
        set srcintf "wan1"
        set dstintf "internal"
        set srcaddr "all"
        set dstaddr "VIP-SMTP"
        set action accept
        set service "ALL"
    next
    edit 7
        set name "EOP to Exchange"
        set srcintf "wan1"
        set dstintf "internal"
        set srcaddr "EOP-SMTP" "EOP-104.47-range"
        set dstaddr "VIP-SMTP"
        set action accept
        set schedule "always"
        set service "SMTP-25"
    next
    edit 9
        set name "LAN out"
        set srcintf "internal"
        set dstintf "wan1"
        set srcaddr "all"
        set dstaddr "all"
        set action accept
        set service "ALL"
    next
end
"""


def evaluate(tmp_path, text=CONFIG):
    path = tmp_path / "fgt.conf"
    path.write_text(text)
    parsed = fortigate.parse(path)
    assert parsed.records and not parsed.problems
    return parsed.records[0].evaluate(EOP4, DST, 25)


def test_vip_policy_order_and_implicit_deny(tmp_path):
    v = evaluate(tmp_path)
    assert (v.inside_destination, v.ingress) == ("10.0.0.25:25", "wan1")
    assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16", "104.47.0.0/18"]
    deny = [d for d in v.decisions if d.action == "deny"]
    assert deny[0].default.startswith("implicit deny")
    assert deny[0].prefixes.cidrs() == ["52.100.0.0/14", "104.47.64.0/18"]
    permit = next(d for d in v.decisions if d.action == "permit")
    assert permit.rule.name == "policy 7"
    assert permit.rule.location.line == CONFIG.splitlines().index("    edit 7") + 1


def test_fix_appends_to_the_group_and_is_verified(tmp_path):
    v = evaluate(tmp_path)
    fix = propose(v, v.denied, DST, 25)
    assert fix.verified, fix.verification
    assert "append member" in "\n".join(fix.commands)
    assert not any(c.strip().startswith("set member") for c in fix.commands)
    assert fix.commands[:3] == ["config firewall address", '    edit "EOP-52.100.0.0-14"',
                                "        set subnet 52.100.0.0 255.252.0.0"]


def test_without_a_group_a_policy_is_added_above(tmp_path):
    text = CONFIG.replace('set srcaddr "EOP-SMTP" "EOP-104.47-range"',
                          'set srcaddr "EOP-40.92" "outlook-fqdn"')
    v = evaluate(tmp_path, text)
    # The FQDN object's members are unknown: what no earlier policy decided stays undecided.
    assert v.permitted.cidrs() == ["40.92.0.0/15"]
    assert v.prefixes("indeterminate") == EOP4 - v.permitted
    text = text.replace(' "outlook-fqdn"', "")
    v = evaluate(tmp_path, text)
    fix = propose(v, v.denied, DST, 25)
    assert fix.verified, fix.verification
    assert '        set dstaddr "VIP-SMTP"' in fix.commands


def test_sniff():
    assert fortigate.sniff(CONFIG)
    assert not any(m.sniff(CONFIG) for m in (asa, ios, iptables, nftables))

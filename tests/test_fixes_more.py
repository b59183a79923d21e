"""Fixes for PAN-OS, Azure NSG, AWS and pfSense, each re-evaluated (SYNTHETIC configurations)."""

from __future__ import annotations

import ipaddress
import json

import pytest
from test_firewall_cloud import NSG_FLAT
from test_firewall_panos import SET
from test_firewall_pfsense import CONFIG as PFSENSE

from mailflow_doctor.evidence.firewall import aws_sg, azure_nsg, panos, pfsense
from mailflow_doctor.fixes import propose
from mailflow_doctor.knowledge.endpoints import snapshot

EOP4 = snapshot("worldwide").eop_prefixes.family(4)
AWS = {"SecurityGroups": [{"GroupId": "sg-0a1b2c3d", "IpPermissions": [
    {"IpProtocol": "tcp", "FromPort": 25, "ToPort": 25,
     "IpRanges": [{"CidrIp": "40.92.0.0/15"}], "Ipv6Ranges": []}]}]}


SET_GROUP = "\n".join(ln for ln in SET.splitlines()
                      if '"block-104"' not in ln and '"smtp-appid"' not in ln)
PFSENSE_GROUP = "\n".join(ln for ln in PFSENSE.splitlines()
                          if "<tracker>100<" not in ln and "<tracker>400<" not in ln
                          and "bad neighbours" not in ln and "EOP_URL</address>" not in ln)


@pytest.mark.parametrize("module, text, dst, ingress, expect", [
    (panos, SET_GROUP, "203.0.113.25", "ethernet1/1", "set address-group EOP-SMTP static"),
    (panos, SET, "203.0.113.25", "ethernet1/1",  # an earlier deny: a rule above it instead
     'move rulebase security rules "Allow-EOP-missing" before "block-104"'),
    (azure_nsg, json.dumps(NSG_FLAT), "10.1.1.25", None, "az network nsg rule create"),
    (aws_sg, json.dumps(AWS), "10.1.1.25", None, "aws ec2 authorize-security-group-ingress"),
    (pfsense, PFSENSE_GROUP, "203.0.113.25", None, "Firewall > Aliases > EOP_ALL"),
])
def test_fix_is_verified(tmp_path, module, text, dst, ingress, expect):
    path = tmp_path / ("config.xml" if module is pfsense else "config.txt")
    path.write_text(text)
    address = ipaddress.ip_address(dst)
    verdict = module.parse(path).records[0].evaluate(EOP4, address, 25, ingress)
    assert verdict.denied
    fix = propose(verdict, verdict.denied, address, 25, ingress)
    assert fix is not None and fix.verified, fix and fix.verification
    assert any(c.startswith(expect) for c in fix.commands), fix.commands
    assert not (fix.after.denied & verdict.denied)

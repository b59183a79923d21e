"""Azure NSG and AWS security group evaluation on SYNTHETIC JSON in the CLI's shapes."""

from __future__ import annotations

import ipaddress
import json

from typer.testing import CliRunner

from mailflow_doctor.cli.app import app
from mailflow_doctor.evidence.firewall import aws_sg, azure_nsg, iptables, nftables
from mailflow_doctor.evidence.trace import json_export
from mailflow_doctor.knowledge.endpoints import snapshot

runner = CliRunner()
EOP = snapshot("worldwide").eop_prefixes
DST = ipaddress.ip_address("10.1.1.25")

NSG_FLAT = [  # `az network nsg rule list` (flattened)
    {"name": "Allow-EOP-SMTP", "priority": 200, "direction": "Inbound", "access": "Allow",
     "protocol": "Tcp", "sourceAddressPrefixes": ["40.92.0.0/15", "40.107.0.0/16"],
     "destinationAddressPrefix": "10.1.1.25", "destinationPortRange": "25",
     "sourcePortRange": "*"},
    {"name": "Deny-104-47", "priority": 300, "direction": "Inbound", "access": "Deny",
     "protocol": "*", "sourceAddressPrefix": "104.47.0.0/17", "destinationAddressPrefix": "*",
     "destinationPortRange": "*", "sourcePortRange": "*"},
    {"name": "Allow-Storage", "priority": 400, "direction": "Inbound", "access": "Allow",
     "protocol": "Tcp", "sourceAddressPrefix": "Storage", "destinationAddressPrefix": "*",
     "destinationPortRanges": ["20-30"], "sourcePortRange": "*"},
]


def verdict(module, tmp_path, doc, dst=DST):
    path = tmp_path / "fw.json"
    path.write_text(json.dumps(doc, indent=2))
    parsed = module.parse(path)
    assert parsed.records, parsed.problems
    return parsed.records[0].evaluate(EOP, dst, 25)


def test_nsg_priorities_tags_and_default_rules(tmp_path):
    v = verdict(azure_nsg, tmp_path, NSG_FLAT)
    assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16"]
    deny = {d.rule.name if d.rule else d.default: d for d in v.decisions if d.action == "deny"}
    assert deny["Deny-104-47"].prefixes.cidrs() == ["104.47.0.0/17"]
    assert deny["Deny-104-47"].rule.location.line is not None
    # The Storage tag is unknown here: 52.100/14 stays undecided rather than guessed.
    assert v.prefixes("indeterminate").cidrs() == ["52.100.0.0/14"]
    assert any("default inbound rules" in n for n in v.notes)


def test_nsg_rest_shape_and_default_deny(tmp_path):
    rest = {"name": "nsg-mail", "properties": {"securityRules": [
        {"name": "Allow-EOP", "properties": {"priority": 100, "direction": "Inbound",
                                             "access": "Allow", "protocol": "Tcp",
                                             "sourceAddressPrefixes": EOP.family(4).cidrs(),
                                             "destinationAddressPrefix": "*",
                                             "destinationPortRange": "25"}}]}}
    v = verdict(azure_nsg, tmp_path, rest)
    assert v.permitted == EOP.family(4)
    v6 = verdict(azure_nsg, tmp_path, rest, ipaddress.ip_address("2001:db8::25"))
    denied = [d for d in v6.decisions if d.action == "deny"]
    assert v6.denied == EOP.family(6) and denied[0].rule.name == "DenyAllInBound"


def test_aws_union_of_permissions_and_unknown_prefix_lists(tmp_path):
    doc = {"SecurityGroups": [{"GroupId": "sg-0a1b2c3d", "GroupName": "exchange-edge",
                               "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 25, "ToPort": 25,
         "IpRanges": [{"CidrIp": "40.92.0.0/15", "Description": "EOP"},
                      {"CidrIp": "104.47.0.0/17"}], "Ipv6Ranges": [], "PrefixListIds": []},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "-1", "IpRanges": [], "PrefixListIds": [{"PrefixListId": "pl-123"}]},
    ]}]}
    v = verdict(aws_sg, tmp_path, doc)
    assert v.permitted.cidrs() == ["40.92.0.0/15", "104.47.0.0/17"]
    assert v.prefixes("indeterminate").cidrs() == ["40.107.0.0/16", "52.100.0.0/14"]
    permit = next(d for d in v.decisions if d.action == "permit")
    assert permit.rule.name == "sg-0a1b2c3d" and permit.rule.location.line is not None


def test_sniffs_do_not_overlap(tmp_path):
    nsg, aws = json.dumps(NSG_FLAT), json.dumps({"SecurityGroups": [{"GroupId": "sg-1",
                                                                     "IpPermissions": []}]})
    assert azure_nsg.sniff(nsg) and not aws_sg.sniff(nsg)
    assert aws_sg.sniff(aws) and not azure_nsg.sniff(aws)
    for other in (nftables, iptables, json_export):
        assert not other.sniff(nsg) and not other.sniff(aws)


def test_layers_combine_in_audit(tmp_path):
    subnet = tmp_path / "subnet-nsg.json"
    subnet.write_text(json.dumps(NSG_FLAT))
    nic = tmp_path / "nic-nsg.json"
    nic.write_text(json.dumps([{**NSG_FLAT[0], "sourceAddressPrefixes": ["40.92.0.0/15"]}]))
    result = runner.invoke(app, ["firewall", "audit", str(subnet), str(nic), "--destination",
                                 "10.1.1.25", "--format", "json"])
    data = json.loads(result.stdout)
    assert data["permitted_prefixes"] == ["40.92.0.0/15"]  # both layers must allow
    assert "40.107.0.0/16" in data["missing_prefixes"]

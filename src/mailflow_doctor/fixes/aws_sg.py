"""AWS: security groups only add, so the fix is one `authorize-security-group-ingress` with
the missing prefixes, on the group that already admits EOP (else the first group)."""

from __future__ import annotations

import json

from ..ipspace import PrefixSet
from ..model.firewall import FlowVerdict
from . import Fix


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    doc = json.loads(text)
    groups = doc["SecurityGroups"] if isinstance(doc, dict) and "SecurityGroups" in doc else doc
    permit = next((d.rule.name for d in verdict.decisions if d.action == "permit" and d.rule),
                  None)
    group = next((g for g in groups if g.get("GroupId") == permit), groups[0])
    port = int(verdict.destination.rsplit(":", 1)[1])
    v4 = [{"CidrIp": c, "Description": "Exchange Online Protection"}
          for c in missing.family(4).cidrs()]
    v6 = [{"CidrIpv6": c, "Description": "Exchange Online Protection"}
          for c in missing.family(6).cidrs()]
    group.setdefault("IpPermissions", []).append(
        {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": v4,
         "Ipv6Ranges": v6})
    ranges = ",".join("{CidrIp=" + r["CidrIp"] + ",Description=EOP}" for r in v4)
    ranges6 = ",".join("{CidrIpv6=" + r["CidrIpv6"] + ",Description=EOP}" for r in v6)
    spec = f"IpProtocol=tcp,FromPort={port},ToPort={port}" + (
        f",IpRanges=[{ranges}]" if v4 else "") + (f",Ipv6Ranges=[{ranges6}]" if v6 else "")
    gid = group.get("GroupId", "<group id>")
    return Fix("aws-security-group", verdict.config,
               f"Allow TCP {port} from {', '.join(missing.cidrs())} in security group {gid}.",
               [f"aws ec2 authorize-security-group-ingress --group-id {gid} "
                f"--ip-permissions '{spec}'"], patched=json.dumps(doc, indent=2))

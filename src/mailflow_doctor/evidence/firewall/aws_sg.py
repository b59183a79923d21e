"""AWS security groups: `aws ec2 describe-security-groups` JSON.

Security groups only allow, in no order: a source may connect when any ingress permission of
any group on the interface covers TCP to the port and its address; everything else is refused.
All groups in the file are taken to be attached to the endpoint's interface (a note says so).
Managed prefix lists and references to other groups have members only AWS knows, so the sources
they might admit are indeterminate.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ...ipspace import IPAddress, PrefixSet
from ...model import InputProblem, Location, Parsed
from ...model.firewall import FlowVerdict, RuleRef
from ..textio import read_text
from ._walk import Candidate, Walk, endpoint, family_sources

KIND = "aws-security-group"
VENDOR = "aws-security-group"


def sniff(head: str) -> bool:
    return '"SecurityGroups"' in head or ('"IpPermissions"' in head and '"GroupId"' in head)


def parse(path: str | Path) -> Parsed[AwsSecurityGroups]:
    text, problems = read_text(path)
    source = str(path)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return Parsed(problems=problems + [InputProblem(Location(source, 1),
                                                        f"not valid JSON: {exc}")])
    groups = doc.get("SecurityGroups") if isinstance(doc, dict) else doc
    groups = [g for g in (groups if isinstance(groups, list) else [doc]) if isinstance(g, dict)
              and "IpPermissions" in g]
    if not groups:
        return Parsed(problems=problems + [InputProblem(Location(source),
                                                        "no security group with IpPermissions")])
    return Parsed([AwsSecurityGroups(source, text, tuple(groups))], problems)


def _covers(perm: dict, port: int) -> bool:
    proto = str(perm.get("IpProtocol", "")).lower()
    if proto == "-1":
        return True
    if proto not in ("tcp", "6"):
        return False
    lo, hi = perm.get("FromPort", -1), perm.get("ToPort", -1)
    return lo == -1 or int(lo) <= port <= int(hi)


@dataclass(frozen=True)
class AwsSecurityGroups:
    source: str
    text: str
    groups: tuple[dict, ...]
    vendor: str = VENDOR

    def _line(self, needle: str) -> int | None:
        m = re.search(re.escape(needle), self.text)
        return self.text.count("\n", 0, m.start()) + 1 if m else None

    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk = Walk()
        space = family_sources(sources, dst)
        candidates = []
        for group in self.groups:
            gid = str(group.get("GroupId", group.get("GroupName", "?")))
            for perm in group.get("IpPermissions", []):
                if not isinstance(perm, dict) or not _covers(perm, port):
                    continue
                for key, field in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")):
                    for item in perm.get(key, []):
                        cidr = str(item.get(field, ""))
                        ref = RuleRef(gid, f"{gid} allow {perm.get('IpProtocol')} "
                                      f"{perm.get('FromPort')}-{perm.get('ToPort')} from {cidr}",
                                      Location(self.source, self._line(f'"{cidr}"')))
                        try:
                            allowed = PrefixSet.parse(cidr)
                        except ValueError:
                            continue
                        candidates.append(Candidate(ref, "permit", allowed, allowed))
                for item in perm.get("PrefixListIds", []) + perm.get("UserIdGroupPairs", []):
                    what = item.get("PrefixListId") or item.get("GroupId") or "?"
                    ref = RuleRef(gid, f"{gid} allow from {what} (members known only to AWS)",
                                  Location(self.source, self._line(f'"{what}"')))
                    candidates.append(Candidate(ref, "indeterminate", PrefixSet(),
                                                PrefixSet.everything()))
        # Allow-only and unordered: every definite permit first, then what stays unknown.
        candidates.sort(key=lambda c: c.action != "permit")
        rest = walk.first_match(space, candidates)
        walk.decide(rest, "deny", None, "no security group rule allows it (AWS denies by "
                                        "default)")
        walk.note(f"all {len(self.groups)} security group(s) in the file were taken to be "
                  "attached to the endpoint")
        return walk.verdict(self.source, self.vendor, endpoint(dst, port), ingress=ingress)

"""Azure network security groups: `az network nsg rule list` / `nsg show` JSON, flattened or in
the REST shape with `properties`.

Inbound rules are taken lowest priority number first, first match wins. When the input has no
default rules, Azure's own apply at the end (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound
65001, DenyAllInBound 65500). Service tags are address sets only Azure knows: `Internet` and `*`
take in every public address (EOP included), `AzureLoadBalancer` is 168.63.129.16, and
`VirtualNetwork` is taken not to include the EOP ranges (said in a note); any other tag leaves
the sources it could match indeterminate. A subnet NSG and a NIC NSG are two layers: give both.
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

KIND = "azure-nsg"
VENDOR = "azure-nsg"
_DEFAULTS = [
    {"name": "AllowVnetInBound", "priority": 65000, "access": "Allow", "protocol": "*",
     "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": "VirtualNetwork",
     "destinationPortRange": "*", "direction": "Inbound"},
    {"name": "AllowAzureLoadBalancerInBound", "priority": 65001, "access": "Allow",
     "protocol": "*", "sourceAddressPrefix": "AzureLoadBalancer",
     "destinationAddressPrefix": "*", "destinationPortRange": "*", "direction": "Inbound"},
    {"name": "DenyAllInBound", "priority": 65500, "access": "Deny", "protocol": "*",
     "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "destinationPortRange": "*",
     "direction": "Inbound"},
]
_KNOWN_TAGS = {"*": PrefixSet.everything(), "any": PrefixSet.everything(),
               "internet": PrefixSet.everything(),
               "azureloadbalancer": PrefixSet.parse("168.63.129.16/32"),
               "virtualnetwork": PrefixSet()}


def sniff(head: str) -> bool:
    return head.lstrip()[:1] in "[{" and '"destinationPortRange' in head and (
        '"priority"' in head and '"access"' in head)


def _rules(doc: object) -> list[dict]:
    if isinstance(doc, list):
        return [r for item in doc for r in _rules(item)]
    if not isinstance(doc, dict):
        return []
    props = doc.get("properties") if isinstance(doc.get("properties"), dict) else None
    if props and "priority" in props:
        return [{"name": doc.get("name"), **props}]
    if "priority" in doc and "access" in doc:
        return [doc]
    inner = props or doc
    return [r for key in ("securityRules", "defaultSecurityRules")
            for r in _rules(inner.get(key, []))]


def _prefixes(rule: dict, side: str, notes: set[str]) -> tuple[PrefixSet, bool]:
    """Addresses of one side, and whether some of it is an unknown service tag."""
    values = list(rule.get(f"{side}AddressPrefixes") or [])
    if rule.get(f"{side}AddressPrefix"):
        values.append(rule[f"{side}AddressPrefix"])
    out, unknown = PrefixSet(), False
    for v in values:
        key = str(v).lower()
        if key in _KNOWN_TAGS:
            out = out | _KNOWN_TAGS[key]
            if key == "virtualnetwork":
                notes.add("the VirtualNetwork service tag was taken not to include the EOP "
                          "ranges")
            continue
        try:
            out = out | PrefixSet.parse(str(v))
        except ValueError:
            unknown = True
    if rule.get(f"{side}ApplicationSecurityGroups"):
        unknown = True
    return out, unknown


def _ports(rule: dict) -> list[tuple[int, int]] | None:
    values = list(rule.get("destinationPortRanges") or [])
    if rule.get("destinationPortRange"):
        values.append(rule["destinationPortRange"])
    out = []
    for v in values:
        v = str(v).strip()
        if v == "*":
            return None
        lo, _, hi = v.partition("-")
        out.append((int(lo), int(hi or lo)))
    return out


def _line_of(text: str, name: str | None) -> int | None:
    if not name:
        return None
    m = re.search(rf'"name"\s*:\s*"{re.escape(name)}"', text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def parse(path: str | Path) -> Parsed[AzureNsg]:
    text, problems = read_text(path)
    source = str(path)
    try:
        rules = _rules(json.loads(text))
    except ValueError as exc:
        return Parsed(problems=problems + [InputProblem(Location(source, 1),
                                                        f"not valid JSON: {exc}")])
    if not rules:
        return Parsed(problems=problems + [InputProblem(Location(source), "no NSG rules")])
    return Parsed([AzureNsg(source, text, tuple(rules))], problems)


@dataclass(frozen=True)
class AzureNsg:
    source: str
    text: str
    rules: tuple[dict, ...]
    vendor: str = VENDOR

    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk, notes = Walk(), set()
        space = family_sources(sources, dst)
        inbound = [r for r in self.rules if str(r.get("direction", "Inbound")) == "Inbound"]
        if not any(int(r.get("priority", 0)) >= 65000 for r in inbound):
            inbound += _DEFAULTS
            notes.add("Azure's default inbound rules were applied after the rules given")
        candidates = []
        for rule in sorted(inbound, key=lambda r: int(r.get("priority", 65500))):
            ref = RuleRef(str(rule.get("name")), f"{rule.get('name')} (priority "
                          f"{rule.get('priority')}, {rule.get('access')})",
                          Location(self.source, _line_of(self.text, rule.get("name"))))
            try:
                ports = _ports(rule)
            except ValueError:
                candidates.append(Candidate(ref, "indeterminate", PrefixSet(),
                                            PrefixSet.everything()))
                continue
            proto = str(rule.get("protocol", "*")).lower()
            dst_set, dst_unknown = _prefixes(rule, "destination", notes)
            if proto not in ("*", "tcp") or (ports is not None and not any(
                    lo <= port <= hi for lo, hi in ports)):
                continue
            if dst not in dst_set and not dst_unknown:
                continue
            src, src_unknown = _prefixes(rule, "source", notes)
            action = "permit" if str(rule.get("access")).lower() == "allow" else "deny"
            sure = src if dst in dst_set else PrefixSet()
            maybe = PrefixSet.everything() if (src_unknown or dst_unknown) else src
            candidates.append(Candidate(ref, action, sure, maybe))
        rest = walk.first_match(space, candidates)
        walk.decide(rest, "deny", None, "nothing matched (Azure denies by default)")
        for n in sorted(notes):
            walk.note(n)
        return walk.verdict(self.source, self.vendor, endpoint(dst, port), ingress=ingress)

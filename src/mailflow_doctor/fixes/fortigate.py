"""FortiGate: new address objects appended to the group the permitting policy uses (`append
member`, never `set member`, which would replace the group); without such a group, one new
policy moved above the policy that denies them."""

from __future__ import annotations

from ..evidence.firewall.fortigate import _read
from ..ipspace import PrefixSet
from ..model.firewall import FlowVerdict
from . import Fix, Insertion


def _objects(missing: PrefixSet) -> tuple[list[str], list[str]]:
    """(names, config lines) of one address object per missing prefix."""
    names, lines = [], []
    for net in missing.networks():
        name = f"EOP-{net.network_address}-{net.prefixlen}"
        names.append(name)
        subnet = f"set subnet {net.network_address} {net.netmask}" if net.version == 4 else \
            f"set ip6 {net}"
        lines += [f'    edit "{name}"', f"        {subnet}", "    next"]
    return names, lines


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    sections, ends = _read(text)
    names, object_lines = _objects(missing)
    section = "firewall address" if all(n.version == 4 for n in missing.networks()) \
        else "firewall address6"
    groups = {e.name: e for e in sections.get("firewall addrgrp", [])}
    policies = {f"policy {e.name}": e for e in sections.get("firewall policy", [])}
    create = [f"config {section}", *object_lines, "end"]
    insert_objects = Insertion(ends.get(section, 0) - 1 if section in ends else 0,
                               tuple(object_lines if section in ends else create))
    members = " ".join(f'"{n}"' for n in names)
    for d in verdict.decisions if prefer_group else []:
        policy = policies.get(d.rule.name) if d.action == "permit" and d.rule else None
        group = next((g for g in (policy.settings.get("srcaddr", []) if policy else [])
                      if g in groups), None)
        if group:
            g = groups[group]
            return Fix("fortigate", verdict.config,
                       f"Add address objects for {', '.join(missing.cidrs())} and append them to "
                       f"address group {group}, which {d.rule.name} already uses.",
                       create + ["config firewall addrgrp", f'    edit "{group}"',
                                 f"        append member {members}", "    next", "end"],
                       [insert_objects, Insertion(g.lines.get("member", g.line),
                                                  (f"        append member {members}",))])
    dst = verdict.destination.rsplit(":", 1)[0].strip("[]")
    vip = next((e.name for e in sections.get("firewall vip", [])
                if e.settings.get("extip", [""])[0] == dst), "all")
    deny = next((d for d in verdict.decisions if d.action == "deny" and d.prefixes & missing
                 and d.rule), None)
    policy = ["    edit 0", '        set name "Allow EOP SMTP"',
              f'        set srcintf "{verdict.ingress or "any"}"', '        set dstintf "any"',
              f"        set srcaddr {members}", f'        set dstaddr "{vip}"',
              "        set action accept", '        set schedule "always"',
              '        set service "SMTP"', "    next"]
    commands = create + ["config firewall policy", *policy, "end"]
    if deny and deny.rule and deny.rule.location.line:
        commands += ["config firewall policy",
                     f"    move <id of the new policy> before {deny.rule.name.split()[-1]}", "end"]
        at = deny.rule.location.line - 1
    else:
        at = ends.get("firewall policy", len(text.splitlines()) + 1) - 1
    return Fix("fortigate", verdict.config,
               f"Add address objects for {', '.join(missing.cidrs())} and one accepting policy "
               "above the policy that denies them.",
               commands, [insert_objects, Insertion(at, tuple(policy))])

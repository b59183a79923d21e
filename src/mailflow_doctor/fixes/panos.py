"""PAN-OS (set format): new address objects added to the group the allowing rule uses (`set`
on a group's static list adds members); otherwise one allow rule moved above the denying one."""

from __future__ import annotations

import re
import shlex

from ..ipspace import PrefixSet
from ..model.firewall import FlowVerdict
from . import Fix, Insertion


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    lines = text.splitlines()
    names = [f"EOP-{n.network_address}-{n.prefixlen}" for n in missing.networks()]
    objects = [f"set address {name} ip-netmask {net}" for name, net in
               zip(names, missing.cidrs())]
    groups = {shlex.split(ln)[2] for ln in lines if ln.startswith("set address-group ")}
    end = len(lines)
    for d in verdict.decisions if prefer_group else []:
        if d.action != "permit" or d.rule is None:
            continue
        rule_lines = [ln for ln in lines if re.match(
            rf'set rulebase security rules "?{re.escape(d.rule.name)}"? ', ln)]
        words = shlex.split(rule_lines[0]) if rule_lines else []
        sources = words[words.index("source") + 1:] if "source" in words else []
        group = next((w for w in sources if w in groups), None)
        if group:
            add = [f"set address-group {group} static [ {' '.join(names)} ]"]
            return Fix("panos", verdict.config,
                       f"Add address objects for {', '.join(missing.cidrs())} to address "
                       f"group {group}, which rule \"{d.rule.name}\" already allows.",
                       objects + add, [Insertion(end, tuple(objects + add))])
    deny = next((d for d in verdict.decisions if d.action == "deny" and d.rule
                 and d.prefixes & missing), None)
    dest, port = verdict.destination.rsplit(":", 1)
    objects.append(f"set service EOP-SMTP-{port} protocol tcp port {port}")
    rule = (f'set rulebase security rules "Allow-EOP-missing" from any to any source '
            f"[ {' '.join(names)} ] destination {dest.strip('[]')} application any service "
            f"EOP-SMTP-{port} action allow")
    commands = objects + [rule]
    at = end
    if deny and deny.rule and deny.rule.location.line:
        commands.append(f'move rulebase security rules "Allow-EOP-missing" before '
                        f'"{deny.rule.name}"')
        at = deny.rule.location.line - 1
    return Fix("panos", verdict.config,
               f"Add address objects for {', '.join(missing.cidrs())} and an allow rule above "
               "the rule that denies them.", commands,
               [Insertion(0, tuple(objects)), Insertion(at, (rule,))])

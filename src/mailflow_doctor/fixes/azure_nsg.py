"""Azure: one new inbound rule with a priority number just below the rule that denies the
missing prefixes (lower numbers are evaluated first)."""

from __future__ import annotations

import json

from ..ipspace import PrefixSet
from ..model.firewall import FlowVerdict
from . import Fix


def _rules(doc: object) -> list:
    """The list new rules go into, whatever shape the export has."""
    if isinstance(doc, list):
        return doc
    inner = doc.get("properties", doc) if isinstance(doc, dict) else {}
    return inner.setdefault("securityRules", [])


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    doc = json.loads(text)
    rules = _rules(doc)
    flat = [r.get("properties", r) | {"name": r.get("name")} for r in rules]
    used = {int(r.get("priority", 0)) for r in flat}
    deny = next((d for d in verdict.decisions if d.action == "deny" and d.rule), None)
    deny_priority = next((int(r["priority"]) for r in flat if deny and deny.rule
                          and r.get("name") == deny.rule.name), 4096)
    priority = next(p for p in range(min(deny_priority, 4097) - 1, 99, -1) if p not in used)
    port = verdict.destination.rsplit(":", 1)[1]
    dest = verdict.destination.rsplit(":", 1)[0].strip("[]")
    new = {"name": "Allow-EOP-SMTP-missing", "priority": priority, "direction": "Inbound",
           "access": "Allow", "protocol": "Tcp", "sourceAddressPrefixes": missing.cidrs(),
           "sourcePortRange": "*", "destinationAddressPrefix": dest,
           "destinationPortRange": port}
    shaped = isinstance(doc, dict) and rules and "properties" in rules[0]
    rules.append({"name": new["name"], "properties": {k: v for k, v in new.items()
                                                      if k != "name"}} if shaped else new)
    return Fix("azure-nsg", verdict.config,
               f"Add inbound rule {new['name']} at priority {priority}, before the rule that "
               "denies the missing prefixes.",
               [f"az network nsg rule create --resource-group <resource group> --nsg-name "
                f"<nsg> --name {new['name']} --priority {priority} --direction Inbound "
                f"--access Allow --protocol Tcp --source-address-prefixes "
                f"{' '.join(missing.cidrs())} --source-port-ranges '*' "
                f"--destination-address-prefixes {dest} --destination-port-ranges {port}"],
               patched=json.dumps(doc, indent=2))

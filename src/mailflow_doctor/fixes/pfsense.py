"""pfSense: add the prefixes to the alias the passing rule uses (Firewall > Aliases); without
one, a new alias and a pass rule at the top of the interface's rules."""

from __future__ import annotations

from xml.etree.ElementTree import SubElement, tostring

from defusedxml.ElementTree import fromstring

from ..ipspace import PrefixSet
from ..model.firewall import FlowVerdict
from . import Fix


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    root = fromstring(text)
    aliases = {(a.findtext("name") or "").strip(): a for a in root.iter("alias")}
    prefixes = missing.cidrs()
    for rule in root.findall("filter/rule") if prefer_group else []:
        name = (rule.findtext("source/address") or "").strip()
        label = (rule.findtext("descr") or rule.findtext("tracker") or "").strip()
        if name in aliases and rule.findtext("type") == "pass" and any(
                d.action == "permit" and d.rule and f'"{label}"' in d.rule.text
                for d in verdict.decisions):
            alias = aliases[name]
            address = alias.find("address")
            assert address is not None
            address.text = " ".join([(address.text or "").strip(), *prefixes]).strip()
            return Fix("pfsense", verdict.config,
                       f"Add {', '.join(prefixes)} to alias {name}, which the passing rule uses.",
                       [f"Firewall > Aliases > {name}: add {p}" for p in prefixes],
                       patched=tostring(root, encoding="unicode"))
    alias = SubElement(root.find("aliases") or SubElement(root, "aliases"), "alias")
    for tag, value in (("name", "EOP_MISSING"), ("type", "network"),
                       ("address", " ".join(prefixes))):
        SubElement(alias, tag).text = value
    inside = (verdict.inside_destination or verdict.destination).rsplit(":", 1)
    rule = fromstring(
        f"<rule><type>pass</type><interface>{verdict.ingress or 'wan'}</interface>"
        "<protocol>tcp</protocol><source><address>EOP_MISSING</address></source>"
        f"<destination><address>{inside[0].strip('[]')}</address><port>{inside[1]}</port>"
        "</destination><descr>Exchange Online Protection to SMTP</descr></rule>")
    filt = root.find("filter")
    if filt is None:
        filt = SubElement(root, "filter")
    filt.insert(0, rule)
    return Fix("pfsense", verdict.config,
               f"Add alias EOP_MISSING ({', '.join(prefixes)}) and a pass rule for it at the "
               f"top of the {verdict.ingress or 'wan'} rules.",
               ["Firewall > Aliases > Add: EOP_MISSING (network): " + ", ".join(prefixes),
                f"Firewall > Rules > {verdict.ingress or 'WAN'}: add at the top: pass TCP from "
                f"EOP_MISSING to {inside[0]} port {inside[1]}"],
               patched=tostring(root, encoding="unicode"))

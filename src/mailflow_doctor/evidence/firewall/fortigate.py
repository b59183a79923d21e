"""FortiGate (FortiOS) configuration: addresses, address groups, VIPs, services, policies.

Policies are taken in the order listed (FortiOS matches top-down, first match; `move` changes the
order and the listing shows the result), then the implicit deny. Traffic from EOP to a published
server matches policies whose destination is the VIP that maps the asked public address (or an
address holding the mapped inside address), arriving on the VIP's external interface. FQDN,
geography and Internet Service objects have members only the firewall knows: the sources they
could match stay indeterminate.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ...ipspace import IPAddress, PrefixSet
from ...model import InputProblem, Location, Parsed
from ...model.firewall import FlowVerdict, RuleRef
from ..textio import read_text
from ._walk import Candidate, Walk, endpoint, family_sources

KIND = "fortigate-config"
VENDOR = "fortigate"
_PREDEFINED_SERVICES = {"ALL": [(0, 65535)], "SMTP": [(25, 25)], "SMTPS": [(465, 465)],
                        "HTTP": [(80, 80)], "HTTPS": [(443, 443)], "SSH": [(22, 22)]}


def sniff(head: str) -> bool:
    return bool(re.search(r"^config firewall (policy|address|vip|addrgrp)\s*$", head, re.M))


@dataclass
class Entry:
    name: str
    line: int
    settings: dict[str, list[str]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def _read(text: str) -> tuple[dict[str, list[Entry]], dict[str, int]]:
    """`config X / edit N / set k v... / next / end` → section → entries; also `end` lines."""
    sections: dict[str, list[Entry]] = {}
    ends: dict[str, int] = {}
    stack: list[str] = []
    entry: Entry | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if words[0] == "config":
            stack.append(" ".join(words[1:]))
        elif words[0] == "end" and stack:
            ends.setdefault(stack[-1], no)
            stack.pop()
        elif words[0] == "edit" and stack and len(words) > 1:
            entry = Entry(words[1], no)
            sections.setdefault(stack[-1], []).append(entry)
        elif words[0] == "next":
            entry = None
        elif words[0] in ("set", "append") and entry is not None and len(words) > 1 and \
                len(stack) >= 1:
            values = words[2:]
            if words[0] == "append":
                values = entry.settings.get(words[1], []) + values
            entry.settings[words[1]] = values
            entry.lines.setdefault(words[1], no)
    return sections, ends


@dataclass(frozen=True)
class FortiGate:
    source: str
    sections: dict
    vendor: str = VENDOR

    def _entries(self, section: str) -> dict[str, Entry]:
        return {e.name: e for e in self.sections.get(section, [])}

    def _addresses(self, names: list[str], seen: tuple[str, ...] = ()) -> tuple[PrefixSet, bool]:
        """Resolve address / group / VIP names: (known addresses, some unknown members)."""
        addresses, groups = self._entries("firewall address"), self._entries("firewall addrgrp")
        addresses.update(self._entries("firewall address6"))
        out, unknown = PrefixSet(), False
        for name in names:
            if name == "all":
                out = out | PrefixSet.everything()
            elif name in groups and name not in seen:
                sub, unk = self._addresses(groups[name].settings.get("member", []), seen + (name,))
                out, unknown = out | sub, unknown or unk
            elif name in addresses:
                s = addresses[name].settings
                kind = (s.get("type") or ["ipmask"])[0]
                if "subnet" in s and kind == "ipmask":
                    out = out | PrefixSet.parse("/".join(s["subnet"][:2]) if len(s["subnet"]) > 1
                                                else s["subnet"][0])
                elif "ip6" in s:
                    out = out | PrefixSet.parse(s["ip6"][0])
                elif kind == "iprange" and "start-ip" in s:
                    out = out | PrefixSet.from_range(s["start-ip"][0], s["end-ip"][0])
                else:
                    unknown = True  # fqdn, geography, dynamic ...
            else:
                unknown = True
        return out, unknown

    def _services(self, names: list[str]) -> list[tuple[int, int]] | None:
        custom = self._entries("firewall service custom")
        ranges: list[tuple[int, int]] = []
        for name in names:
            if name in custom:
                for spec in custom[name].settings.get("tcp-portrange", []):
                    dst = spec.split(":")[0]
                    lo, _, hi = dst.partition("-")
                    ranges.append((int(lo), int(hi or lo)))
            elif name in _PREDEFINED_SERVICES:
                ranges += _PREDEFINED_SERVICES[name]
            else:
                return None
        return ranges

    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk, space = Walk(), family_sources(sources, dst)
        vips = {n: e for n, e in self._entries("firewall vip").items()
                if e.settings.get("extip", [""])[0].split("-")[0] == str(dst)}
        inside = None
        if vips:
            vip = next(iter(vips.values()))
            mapped = vip.settings.get("mappedip", [""])[0].split("-")[0]
            inside = endpoint(ipaddress.ip_address(mapped), int(vip.settings.get(
                "mappedport", [port])[0])) if mapped else None
            ingress = ingress or (vip.settings.get("extintf", [None])[0])
            if ingress == "any":
                ingress = None
        inside_ip = ipaddress.ip_address(inside.rsplit(":", 1)[0].strip("[]")) if inside else dst
        candidates = []
        for e in self.sections.get("firewall policy", []):
            s = e.settings
            if s.get("status", ["enable"])[0] == "disable":
                continue
            ref = RuleRef(f"policy {e.name}", f"policy {e.name}"
                          + (f" \"{s['name'][0]}\"" if "name" in s else "")
                          + f" ({s.get('action', ['deny'])[0]})", Location(self.source, e.line))
            srcintf = s.get("srcintf", ["any"])
            if "any" not in srcintf and ingress and ingress not in srcintf:
                continue
            dst_names = s.get("dstaddr", ["all"])
            to_vip = any(n in vips for n in dst_names)
            dst_set, dst_unknown = self._addresses([n for n in dst_names if n not in vips])
            if not to_vip and inside_ip not in dst_set and not dst_unknown:
                continue
            ports = self._services(s.get("service", ["ALL"]))
            if ports is not None and not any(a <= port <= b for a, b in ports):
                continue
            src, src_unknown = self._addresses(s.get("srcaddr", ["all"]))
            if s.get("srcaddr-negate", ["disable"])[0] == "enable":
                src = PrefixSet.everything() - src
            action = "permit" if s.get("action", ["deny"])[0] == "accept" else "deny"
            sure_ok = ports is not None and (to_vip or inside_ip in dst_set) and not (
                s.get("internet-service", ["disable"])[0] == "enable")
            maybe = PrefixSet.everything() if (src_unknown or not sure_ok) else src
            candidates.append(Candidate(ref, action, src if sure_ok else PrefixSet(), maybe))
        rest = walk.first_match(space, candidates)
        walk.decide(rest, "deny", None, "implicit deny (policy 0) after the last policy")
        return walk.verdict(self.source, self.vendor, endpoint(dst, port), inside=inside,
                            ingress=ingress)


def parse(path: str | Path) -> Parsed[FortiGate]:
    text, problems = read_text(path)
    sections, _ = _read(text)
    if "firewall policy" not in sections:
        return Parsed(problems=problems + [InputProblem(Location(str(path)),
                                                        "no `config firewall policy` section")])
    return Parsed([FortiGate(str(path), sections)], problems)

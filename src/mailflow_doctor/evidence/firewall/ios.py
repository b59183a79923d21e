"""Cisco IOS / IOS-XE extended access lists, bound to interfaces with `ip access-group`.

Named (`ip access-list extended NAME`, optional sequence numbers) and numbered
(`access-list 100-199|2000-2699`) extended lists, and standard lists (source only). Addresses
use wildcard masks; a non-contiguous wildcard is not a prefix and leaves the sources it might
match indeterminate, as do object-groups. The inbound list on the outside interface is applied
before NAT translates outside to inside, so it matches the public address as asked. The ingress
interface is the `--ingress` one, else the one marked `ip nat outside`, else the only interface
with an inbound list.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...ipspace import IPAddress, PrefixSet
from ...model import InputProblem, Location, Parsed
from ...model.firewall import FlowVerdict, RuleRef
from ..textio import read_text
from ._asa_names import TCP_PORTS
from ._walk import Candidate, Walk, endpoint, family_sources

KIND = "cisco-ios-config"
VENDOR = "cisco-ios"
_NUMBERED_EXT = re.compile(r"^access-list (1\d\d|2[0-6]\d\d) (.*)$")
_NUMBERED_STD = re.compile(r"^access-list ([1-9]\d?|1[3-9]\d\d) (.*)$")


def sniff(head: str) -> bool:
    return bool(re.search(r"^ip access-list (extended|standard) \S+|^ ip access-group \S+ in",
                          head, re.M)) and "ASA Version" not in head and "nameif" not in head


@dataclass
class Ace:
    source: str
    acl: str
    line: int
    text: str
    action: str
    standard: bool
    words: list[str]


@dataclass
class IosConfig:
    source: str
    aces: dict[str, list[Ace]] = field(default_factory=dict)
    bindings: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # if → acl, line
    nat_outside: list[str] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    vendor: str = VENDOR

    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk, space = Walk(), family_sources(sources, dst)
        iface = ingress or (self.nat_outside[0] if self.nat_outside else None)
        if iface is None and len(self.bindings) == 1:
            iface = next(iter(self.bindings))
            walk.note(f"ingress taken to be {iface}, the only interface with an inbound list")
        asked = endpoint(dst, port)
        binding = self.bindings.get(iface or "")
        if binding is None:
            where = iface or "the ingress interface"
            walk.decide(space, "permit", None, f"no inbound access list on {where}")
            return walk.verdict(self.source, self.vendor, asked, ingress=iface)
        acl, line, text = binding
        rest = walk.first_match(space, (_candidate(a, dst, port) for a in self.aces.get(acl, [])))
        walk.decide(rest, "deny", RuleRef(acl, text, Location(self.source, line)),
                    f"implicit deny at the end of access list {acl}")
        if acl not in self.aces:
            walk.note(f"access list {acl} is bound but not defined: IOS then permits all")
        return walk.verdict(self.source, self.vendor, asked, ingress=iface)


def _address(words: list[str], i: int) -> tuple[PrefixSet | None, int]:
    """(addresses or None when not evaluable, next index) of an operand at words[i]."""
    w = words[i]
    if w == "any":
        return PrefixSet.everything(4), i + 1
    if w == "host":
        return PrefixSet.parse(words[i + 1]), i + 2
    if w in ("object-group", "addrgroup"):
        return None, i + 2
    if i + 1 < len(words) and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", words[i + 1]):
        return _wildcard(int(ipaddress.IPv4Address(w)),
                         int(ipaddress.IPv4Address(words[i + 1]))), i + 2
    return PrefixSet.parse(w), i + 1  # standard lists allow a bare address


def _wildcard(address: int, wildcard: int) -> PrefixSet | None:
    """The exact address set of `address wildcard`, also for non-contiguous wildcards.

    The trailing run of wildcard bits is the host part of a prefix; every other wildcard bit
    doubles the number of prefixes. Up to 2**12 prefixes are listed; beyond, None (undecided).
    """
    trailing = (wildcard ^ (wildcard + 1)).bit_length() - 1
    high = wildcard & ~((1 << trailing) - 1)
    if bin(high).count("1") > 12:
        return None
    base = address & ~wildcard & 0xFFFFFFFF
    nets, subset = [], high
    while True:
        nets.append(f"{ipaddress.IPv4Address(base | subset)}/{32 - trailing}")
        if subset == 0:
            break
        subset = (subset - 1) & high
    return PrefixSet.parse(*nets)


def _port(word: str) -> int:
    return int(word) if word.isdigit() else TCP_PORTS[word]


def _ports(words: list[str], i: int) -> tuple[list[tuple[int, int]] | None, int]:
    if i >= len(words):
        return None, i
    op = words[i]
    if op == "eq":
        p = _port(words[i + 1])
        return [(p, p)], i + 2
    if op == "range":
        return [(_port(words[i + 1]), _port(words[i + 2]))], i + 3
    if op == "gt":
        return [(_port(words[i + 1]) + 1, 65535)], i + 2
    if op == "lt":
        return [(0, _port(words[i + 1]) - 1)], i + 2
    if op == "neq":
        p = _port(words[i + 1])
        return [(0, p - 1), (p + 1, 65535)], i + 2
    return None, i


def _candidate(ace: Ace, dst: IPAddress, port: int) -> Candidate | None:
    ref = RuleRef(ace.acl, ace.text, Location(ace.source, ace.line))
    action = "permit" if ace.action == "permit" else "deny"
    w = ace.words
    try:
        if ace.standard:
            src, _ = _address(w, 0)
            return Candidate(ref, action, src or PrefixSet(), src or PrefixSet.everything())
        proto, i = w[0], 1
        if proto not in ("ip", "tcp", "6"):
            return None
        src, i = _address(w, i)
        if proto == "tcp":
            _, i = _ports(w, i)  # a source-port condition: EOP's port is ephemeral
        dst_set, i = _address(w, i)
        ports, i = _ports(w, i) if proto == "tcp" else (None, i)
    except (IndexError, KeyError, ValueError):
        return Candidate(ref, "indeterminate", PrefixSet(), PrefixSet.everything())
    if "established" in w[i:] or (ports is not None and not any(a <= port <= b
                                                                  for a, b in ports)):
        return None
    if dst_set is not None and dst not in dst_set:
        return None
    if src is None or dst_set is None:
        return Candidate(ref, action, PrefixSet(), PrefixSet.everything())
    return Candidate(ref, action, src, src)


def parse(path: str | Path) -> Parsed[IosConfig]:
    text, problems = read_text(path)
    cfg = IosConfig(str(path))
    current_acl: tuple[str, bool] | None = None
    current_if: str | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            current_acl = None if stripped.startswith("!") else current_acl
            continue
        if not line.startswith(" "):
            current_acl, current_if = None, None
            if m := re.match(r"ip access-list (extended|standard) (\S+)", line):
                current_acl = (m.group(2), m.group(1) == "standard")
                cfg.aces.setdefault(m.group(2), [])
            elif m := re.match(r"interface (\S+)", line):
                current_if = m.group(1)
            elif m := _NUMBERED_EXT.match(line) or _NUMBERED_STD.match(line):
                std = bool(_NUMBERED_STD.match(line)) and not _NUMBERED_EXT.match(line)
                _add(cfg, m.group(1), std, no, line, m.group(2).split())
            continue
        if current_acl:
            words = stripped.split()
            if words[0].isdigit():
                words = words[1:]
            _add(cfg, current_acl[0], current_acl[1], no, stripped, words)
        elif current_if:
            if m := re.match(r"ip access-group (\S+) in\b", stripped):
                cfg.bindings[current_if] = (m.group(1), no, stripped)
            elif stripped == "ip nat outside":
                cfg.nat_outside.append(current_if)
    records = [cfg] if cfg.aces or cfg.bindings else []
    return Parsed(records, problems + cfg.problems)


def _add(cfg: IosConfig, acl: str, standard: bool, no: int, text: str, words: list[str]) -> None:
    if not words or words[0] == "remark":
        return
    if words[0] not in ("permit", "deny"):
        cfg.problems.append(InputProblem(Location(cfg.source, no),
                                         f"access list entry not understood: {text[:60]}"))
        return
    cfg.aces.setdefault(acl, []).append(Ace(cfg.source, acl, no, text, words[0], standard,
                                            words[1:]))

"""Cisco ASA access lists, access-group bindings and static NAT, on top of resolved objects.

`AsaReader.read()` makes one pass over the top-level commands, then resolves everything through
`AsaObjects`, so an ACE that names an object defined further down still works. Every line we need
but cannot read becomes an InputProblem; the rest of the config is still used.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ...ipspace import IPAddress, PrefixSet
from ...model import InputProblem
from ...model.firewall import RuleRef
from . import _asa_names as names
from ._asa_objects import BLOCKS, AddrSpec, AsaObjects, Line, ParseError, Service
from ._walk import PortRanges, Tri, any_of

# Identity-firewall operands (user, security group) we cannot evaluate: keyword → words taken.
IDENTITY = {"user": 2, "user-group": 2, "object-group-user": 2, "object-group-security": 2,
            "security-group": 3}


@dataclass(frozen=True)
class Ace:
    """One access-control entry, resolved."""

    ref: RuleRef
    action: str  # permit | deny
    services: tuple[Service, ...]  # empty: cannot carry TCP at all
    src: AddrSpec
    dst: AddrSpec
    extra: Tri = True  # time-range or identity conditions make it None
    inactive: bool = False


@dataclass(frozen=True)
class Binding:
    acl: str
    direction: str  # in | out | global
    interface: str | None
    ref: RuleRef


@dataclass(frozen=True)
class StaticNat:
    """A static NAT that lets the outside reach a real address through a mapped one."""

    real_if: str
    mapped_if: str
    real: tuple[int, int]  # inclusive integer interval
    mapped: tuple[int, int]
    family: int
    real_port: int | None
    mapped_port: int | None
    ref: RuleRef
    section: int  # 1 manual, 2 object (auto) NAT, 3 manual after-auto

    def translate(self, dst: IPAddress, port: int) -> tuple[IPAddress, int] | None:
        """The real address and port behind a mapped destination, if this NAT covers it."""
        value = int(dst)
        if dst.version != self.family or not self.mapped[0] <= value <= self.mapped[1]:
            return None
        if self.mapped_port is not None and self.mapped_port != port:
            return None
        offset = value - self.mapped[0]
        real = self.real[0] + (offset if offset <= self.real[1] - self.real[0] else 0)
        inside_port = self.real_port if self.real_port is not None else port
        return ipaddress.ip_address(real), inside_port  # type: ignore[return-value]


@dataclass
class AsaModel:
    acls: dict[str, list[Ace]] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    nats: list[StaticNat] = field(default_factory=list)
    nameifs: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def _interval(spec: PrefixSet) -> tuple[int, int, int] | None:
    """(family, first, last) when a NAT operand is one contiguous range, else None."""
    parts = [(4, *iv) for iv in spec.v4] + [(6, *iv) for iv in spec.v6]
    return parts[0] if len(parts) == 1 else None  # type: ignore[return-value]


def _if_pair(word: str) -> tuple[str, str]:
    """`(inside,outside)` → ("inside", "outside")."""
    inner = word.strip("()").split(",")
    if len(inner) != 2 or not word.startswith("(") or not word.endswith(")"):
        raise ParseError(f"bad interface pair {word!r}")
    return inner[0], inner[1]


class AsaReader(AsaObjects):
    """Reads one config; `read()` returns the resolved model and every problem met."""

    def read(self) -> AsaModel:
        model = AsaModel()
        acl_lines: list[tuple[str, Line]] = []
        current = None
        for no, raw in enumerate(self.lines, 1):
            text = raw.strip()
            if not text or text.startswith(("!", ":")):
                continue
            line = Line(no, text, tuple(text.split()))
            if raw[0].isspace():  # a child line belongs to the open block, if we keep one
                if current is not None:
                    current.children.append(line)
                continue
            current = None
            w = line.words
            if (w[0], w[1] if len(w) > 1 else "") in BLOCKS or w[0] == "interface":
                current = self._open_block(line)
            elif w[0] == "name" and len(w) >= 3:
                self.names[w[2]] = w[1]
            elif w[0] == "access-list" and len(w) >= 3:
                acl_lines.append((w[1], line))
            elif w[0] == "access-group":
                self._guard(line, lambda ln: model.bindings.extend(self._binding(ln)))
            elif w[0] == "nat" and len(w) > 1 and w[1].startswith("("):
                self._guard(line, lambda ln: model.nats.extend(self._manual_nat(ln, model)))
        self._read_interfaces()
        for kind, name in list(self.blocks):
            if kind == "object network":
                self._net_object(name)  # also collects its NAT lines into self.object_nats
        for obj, real, line in self.object_nats:
            self._guard(line, lambda ln, o=obj, r=real:
                        model.nats.extend(self._object_nat(o, r, ln)))
        for acl, line in acl_lines:
            self._guard(line, lambda ln, acl=acl: self._add_ace(model, acl, ln))
        model.nameifs = set(self.nameifs)
        model.problems = sorted(self.problems, key=lambda p: p.location.line or 0)
        return model

    # -- access-group --------------------------------------------------------------------------
    def _binding(self, line: Line) -> list[Binding]:
        w = line.words
        if len(w) >= 3 and w[2] == "global":
            return [Binding(w[1], "global", None, self._ref(w[1], line))]
        if len(w) >= 5 and w[2] in ("in", "out") and w[3] == "interface":
            if "control-plane" in w[5:]:
                return []  # to-the-box traffic only, not what passes through to Exchange
            return [Binding(w[1], w[2], w[4], self._ref(w[1], line))]
        raise ParseError("expected 'access-group NAME in|out interface IF' or '... global'")

    # -- NAT -----------------------------------------------------------------------------------
    def _mapped(self, word: str, mapped_if: str, line: Line) -> PrefixSet:
        """The mapped side of a static NAT: an address, `interface`, or a named object/group."""
        if word == "interface":
            addrs = self.ifaddr.get(mapped_if)
            if not addrs:
                raise ParseError(f"NAT to 'interface' but interface {mapped_if} has no address")
            return PrefixSet.parse(addrs[0])
        try:
            return PrefixSet.parse(self._ip(word))
        except ParseError:
            kind = "object network" if ("object network", word) in self.blocks else \
                "object-group network"
            spec = self._named(kind, word, line)
            if spec.unknown:
                raise ParseError(f"NAT operand {word} cannot be resolved") from None
            return spec.known

    def _static(self, ifs: tuple[str, str], real: PrefixSet, mapped: PrefixSet,
                ports: tuple[int | None, int | None], line: Line, section: int) -> StaticNat:
        r, m = _interval(real), _interval(mapped)
        if r is None or m is None or r[0] != m[0]:
            raise ParseError("static NAT operands are not single address ranges of one family")
        return StaticNat(ifs[0], ifs[1], (r[1], r[2]), (m[1], m[2]), r[0], ports[0], ports[1],
                         self._ref("nat", line), section)

    def _object_nat(self, obj: str, real: PrefixSet, line: Line) -> list[StaticNat]:
        """` nat (real_if,mapped_if) static X [service tcp REAL MAPPED] [options]`."""
        w = line.words
        if len(w) < 3 or w[2] != "static" or "unidirectional" in w:
            return []  # dynamic NAT/PAT or one-way: the outside cannot open connections through it
        if len(w) < 4:
            raise ParseError("static NAT without a mapped address")
        ifs = _if_pair(w[1])
        ports: tuple[int | None, int | None] = (None, None)
        if "service" in w:
            k = w.index("service")
            if w[k + 1:k + 2] == ("udp",):
                return []
            try:
                ports = (names.port_number(w[k + 2]), names.port_number(w[k + 3]))
            except (IndexError, ValueError):
                raise ParseError("bad 'service tcp REAL MAPPED' in object NAT") from None
        return [self._static(ifs, real, self._mapped(w[3], ifs[1], line), ports, line, 2)]

    def _manual_nat(self, line: Line, model: AsaModel) -> list[StaticNat]:
        """`nat (r,m) [after-auto] [line N] source static REAL MAPPED [destination ...] ...`."""
        w = list(line.words)
        ifs = _if_pair(w[1])
        section = 3 if "after-auto" in w else 1
        if "source" not in w or "inactive" in w or "unidirectional" in w:
            return []
        k = w.index("source")
        if w[k + 1:k + 2] != ["static"] or len(w) < k + 4:
            return []  # dynamic source NAT: outbound only
        real_name, mapped_name = w[k + 2], w[k + 3]
        if "destination" in w:
            return self._destination_nat(w, ifs, real_name == mapped_name, line, model, section)
        if real_name == mapped_name:
            return []  # identity NAT leaves the address as it is
        real = (PrefixSet.everything() if real_name == "any"
                else self._mapped(real_name, ifs[0], line))
        ports: tuple[int | None, int | None] = (None, None)
        if "service" in w:
            s = w.index("service")
            if len(w) < s + 3:
                raise ParseError("'service' needs a real and a mapped service object")
            ports = (self._single_port(w[s + 1], line), self._single_port(w[s + 2], line))
        mapped = self._mapped(mapped_name, ifs[1], line)
        return [self._static(ifs, real, mapped, ports, line, section)]

    def _destination_nat(self, w: list[str], ifs: tuple[str, str], source_identity: bool,
                         line: Line, model: AsaModel, section: int) -> list[StaticNat]:
        """Twice NAT `... source static any any destination static MAPPED REAL [service ..]`:
        traffic arriving on the first interface for MAPPED goes to REAL on the second. When the
        source side translates too, the result depends on the peer: noted, not evaluated."""
        d = w.index("destination")
        if not source_identity or w[d + 1:d + 2] != ["static"] or len(w) < d + 4:
            model.notes.append(f"twice NAT at line {line.no} depends on the peer address and "
                               "was not evaluated")
            return []
        mapped = self._mapped(w[d + 2], ifs[0], line)
        real = self._mapped(w[d + 3], ifs[1], line)
        ports: tuple[int | None, int | None] = (None, None)
        if "service" in w:
            s = w.index("service")
            ports = (self._single_port(w[s + 2], line), self._single_port(w[s + 1], line))
        return [self._static((ifs[1], ifs[0]), real, mapped, ports, line, section)]

    def _single_port(self, name: str, line: Line) -> int:
        for svc in self._services("object service", name, line):
            for ranges in (svc.src, svc.dst):
                if ranges and len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
                    return ranges[0][0]
        raise ParseError(f"service object {name} does not name a single port")

    # -- access lists --------------------------------------------------------------------------
    def _add_ace(self, model: AsaModel, acl: str, line: Line) -> None:
        ace = self._ace(acl, line)
        if ace is not None:
            model.acls.setdefault(acl, []).append(ace)

    def _ace(self, acl: str, line: Line) -> Ace | None:
        """`access-list NAME [line N] extended permit|deny PROTO SRC [P] DST [P] [options]`."""
        w = line.words
        i = 4 if w[2] == "line" else 2
        kind = w[i] if i < len(w) else ""
        if kind in ("remark", "standard", "webtype", "ethertype"):
            return None  # comments, and list types that never filter transit TCP
        if kind != "extended":
            raise ParseError(f"unsupported access-list type {kind!r}")
        if i + 2 >= len(w) or w[i + 1] not in ("permit", "deny"):
            raise ParseError("expected permit or deny")
        action, ref = w[i + 1], self._ref(acl, line)
        services, ports_allowed, i = self._protocol(w, i + 2, line)
        if not services:  # udp, icmp...: cannot match our TCP flow, the rest need not be read
            return Ace(ref, action, (), AddrSpec(), AddrSpec())
        extra: Tri = True
        i, extra = self._identity(w, i, extra)
        src, i = self._operand(w, i, line)
        src_ports, i = self._port_clause(w, i, line) if ports_allowed else (None, i)
        i, extra = self._identity(w, i, extra)
        dst, i = self._operand(w, i, line)
        dst_ports, i = self._port_clause(w, i, line) if ports_allowed else (None, i)
        inactive = False
        while i < len(w):
            if w[i] == "log":
                i += 1
                while i < len(w) and (w[i] in names.LOG_LEVELS or w[i] in ("disable", "default")):
                    i += 1
                if i < len(w) and w[i] == "interval":
                    i += 2
            elif w[i] == "inactive":
                inactive, i = True, i + 1
            elif w[i] == "time-range" and i + 1 < len(w):
                extra, i = None, i + 2  # active only at some times: cannot tell offline
            else:
                raise ParseError(f"unexpected {w[i]!r}")
        if ports_allowed:
            services = tuple(Service(s.tcp, dst_ports, src_ports) for s in services)
        return Ace(ref, action, services, src, dst, extra, inactive)

    def _protocol(self, w: tuple[str, ...], i: int, line: Line
                  ) -> tuple[tuple[Service, ...], bool, int]:
        """The PROTO operand: services it allows, and whether port clauses may follow."""
        if w[i] == "object-group" and i + 1 < len(w):
            group = w[i + 1]
            if ("object-group protocol", group) in self.blocks:
                svcs = self._services("object-group protocol", group, line)
                return (Service(any_of(s.tcp for s in svcs)),), True, i + 2
            return self._services("object-group service", group, line), False, i + 2
        if w[i] == "object" and i + 1 < len(w):
            return self._services("object service", w[i + 1], line), False, i + 2
        if w[i] in names.TCP_PROTOCOLS:
            return (Service(True),), w[i] in ("tcp", "6"), i + 1
        if w[i] in names.OTHER_PROTOCOLS or w[i].isdigit():
            return (), False, i + 1
        raise ParseError(f"unknown protocol {w[i]!r}")

    def _port_clause(self, w: tuple[str, ...], i: int, line: Line
                     ) -> tuple[PortRanges | None, int]:
        """An optional port operator or port object-group after an address operand."""
        op = self._port_op(w, i)
        if op is not None:
            return op
        if i + 1 < len(w) and w[i] == "object-group":
            ports = self._port_group(w[i + 1], line)
            if ports is not None:
                return ports, i + 2
        return None, i

    @staticmethod
    def _identity(w: tuple[str, ...], i: int, extra: Tri) -> tuple[int, Tri]:
        """Skip identity-firewall operands; they make the ACE's match unknown offline."""
        while i < len(w) and w[i] in IDENTITY:
            i, extra = i + IDENTITY[w[i]], None
        return i, extra

"""Cisco ASA objects: reading blocks and resolving names into exact address and port sets.

Objects may be defined after the lines that use them, so the reader first files every block
(`object network`, `object-group ...`, `interface`) and resolves names afterwards, recursively and
with cycle detection. Anything that cannot be known offline (FQDN objects, undefined names) is
kept as "unknown" so the walk marks it indeterminate instead of guessing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ...ipspace import IPAddress, PrefixSet
from ...model import InputProblem, Location
from ...model.firewall import RuleRef
from . import _asa_names as names
from ._walk import PortRanges, Tri, invert_ports

BLOCKS = {("object", "network"), ("object", "service"), ("object-group", "network"),
          ("object-group", "service"), ("object-group", "protocol")}


class ParseError(ValueError):
    """A line we need but cannot read; the message becomes an InputProblem."""


@dataclass(frozen=True)
class Line:
    no: int
    text: str
    words: tuple[str, ...]


@dataclass
class Block:
    kind: str  # "object network", "object-group service", "interface", ...
    name: str
    head: Line
    typed: str | None = None  # protocol of a port-object service group (tcp, udp, tcp-udp)
    children: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class AddrSpec:
    """A resolved network operand: exact addresses plus a flag for members we cannot resolve."""

    known: PrefixSet = PrefixSet()
    unknown: bool = False

    def __or__(self, other: AddrSpec) -> AddrSpec:
        return AddrSpec(self.known | other.known, self.unknown or other.unknown)

    def contains(self, address: IPAddress) -> Tri:
        return True if address in self.known else (None if self.unknown else False)


@dataclass(frozen=True)
class Service:
    """One protocol/port alternative of an ACE: does it carry TCP, to/from which ports."""

    tcp: Tri
    dst: PortRanges | None = None  # None: any port
    src: PortRanges | None = None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _reason(exc: Exception) -> str:
    """A one-line reason: the error's own message, or that words are missing."""
    return str(exc) if isinstance(exc, ValueError) and str(exc) else "malformed line"


class AsaObjects:
    """Blocks, names and interfaces of one config, resolved on demand and memoised."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.blocks: dict[tuple[str, str], Block] = {}
        self.names: dict[str, str] = {}
        self.ifaddr: dict[str, list[str]] = {}
        self.problems: list[InputProblem] = []
        self.nameifs: set[str] = set()
        self.object_nats: list[tuple[str, PrefixSet, Line]] = []  # (object, real addresses, nat)
        self._memo: dict[tuple[str, str], object] = {}
        self._reported: set[tuple[int, str]] = set()

    def _open_block(self, line: Line) -> Block | None:
        w = line.words
        if w[0] == "interface":
            kind, name = "interface", " ".join(w[1:])
        elif len(w) < 3:
            self._problem(line, f"'{' '.join(w)}' without a name")
            return None
        else:
            kind, name = f"{w[0]} {w[1]}", w[2]
        typed = w[3] if kind == "object-group service" and len(w) > 3 else None
        block = Block(kind, name, line, typed)
        self.blocks[(kind, name)] = block
        return block

    def _read_interfaces(self) -> None:
        """nameif → addresses, for NAT to `interface` and `interface IF` operands."""
        for block in (b for b in self.blocks.values() if b.kind == "interface"):
            nameif, addrs = None, []
            for ch in block.children:
                w = ch.words
                if w[0] == "nameif" and len(w) > 1:
                    nameif = w[1]
                elif w[:2] in (("ip", "address"), ("ipv6", "address")) and len(w) >= 3:
                    addrs.append(w[2].split("/")[0])  # `dhcp`, `autoconfig`: filtered below
            if nameif:
                self.nameifs.add(nameif)
                self.ifaddr[nameif] = [a for a in addrs if _is_ip(a)]

    # -- problems ------------------------------------------------------------------------------
    def _problem(self, line: Line, message: str) -> None:
        if (line.no, message) not in self._reported:
            self._reported.add((line.no, message))
            self.problems.append(InputProblem(Location(self.path, line.no), message))

    def _guard(self, line: Line, func) -> None:
        """Run one line's reader; a malformed line becomes a problem, never an exception."""
        try:
            func(line)
        except (ValueError, IndexError) as exc:  # ParseError is a ValueError
            self._problem(line, f"{_reason(exc)} in: {line.text[:120]}")

    def _ref(self, name: str, line: Line) -> RuleRef:
        return RuleRef(name, line.text, Location(self.path, line.no))

    # -- addresses -----------------------------------------------------------------------------
    def _ip(self, token: str) -> str:
        value = self.names.get(token, token)
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ParseError(f"not an address or known name: {token!r}") from None

    def _masked(self, addr: str, mask: str) -> PrefixSet:
        try:
            return PrefixSet.parse(f"{self._ip(addr)}/{mask}")
        except ValueError:
            raise ParseError(f"bad network {addr} {mask}") from None

    def _literal(self, words: tuple[str, ...], i: int) -> tuple[PrefixSet, int]:
        """`host A`, `A MASK` or `A/len` at words[i]."""
        if words[i] == "host" and i + 1 < len(words):
            return PrefixSet.parse(self._ip(words[i + 1])), i + 2
        if "/" in words[i]:
            try:
                return PrefixSet.parse(words[i]), i + 1
            except ValueError:
                raise ParseError(f"bad prefix {words[i]!r}") from None
        if i + 1 < len(words):
            return self._masked(words[i], words[i + 1]), i + 2
        raise ParseError("address without mask")

    def _operand(self, words: tuple[str, ...], i: int, line: Line) -> tuple[AddrSpec, int]:
        """One SRC/DST operand of an ACE starting at words[i]."""
        if i >= len(words):
            raise ParseError("missing address operand")
        w = words[i]
        if w in ("any", "any4", "any6"):
            family = {"any": None, "any4": 4, "any6": 6}[w]
            return AddrSpec(PrefixSet.everything(family)), i + 1
        if w in ("object", "object-group") and i + 1 < len(words):
            kind = "object network" if w == "object" else "object-group network"
            return self._named(kind, words[i + 1], line), i + 2
        if w == "interface" and i + 1 < len(words):
            addrs = self.ifaddr.get(words[i + 1])
            return (AddrSpec(PrefixSet.parse(*addrs)) if addrs else AddrSpec(unknown=True)), i + 2
        known, i = self._literal(words, i)
        return AddrSpec(known), i

    def _named(self, kind: str, name: str, line: Line) -> AddrSpec:
        if (kind, name) not in self.blocks:
            self._problem(line, f"{kind} {name!r} is not defined; its addresses are unknown")
            return AddrSpec(unknown=True)
        if kind == "object network":
            return self._net_object(name)
        return self._net_group(name, ())

    def _net_object(self, name: str) -> AddrSpec:
        key = ("object network", name)
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        block = self.blocks[key]
        spec, nat_lines = AddrSpec(), []
        for ch in block.children:
            w = ch.words
            try:
                if w[0] in ("host", "subnet") and len(w) >= 2:
                    spec = spec | AddrSpec(self._literal(w, 0 if w[0] == "host" else 1)[0])
                elif w[0] == "range" and len(w) >= 3:
                    spec = spec | AddrSpec(PrefixSet.from_range(self._ip(w[1]), self._ip(w[2])))
                elif w[0] == "fqdn":
                    spec = spec | AddrSpec(unknown=True)
                elif w[0] == "nat":
                    nat_lines.append(ch)
                elif w[0] != "description":
                    raise ParseError(f"unknown object network line {w[0]!r}")
            except (ValueError, IndexError) as exc:
                self._problem(ch, f"{_reason(exc)} in object network {name}")
        self._memo[key] = spec
        self.object_nats += [(name, spec.known, ch) for ch in nat_lines]
        return spec

    def _net_group(self, name: str, stack: tuple[str, ...]) -> AddrSpec:
        key = ("object-group network", name)
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        spec = AddrSpec()
        for ch in self.blocks[key].children:
            w = ch.words
            try:
                if w[0] == "network-object" and len(w) >= 2:
                    if w[1] == "object" and len(w) >= 3:
                        spec = spec | self._named("object network", w[2], ch)
                    else:
                        spec = spec | AddrSpec(self._literal(w, 1)[0])
                elif w[0] == "group-object" and len(w) >= 2:
                    if w[1] in stack + (name,):
                        self._problem(ch, f"object-group {w[1]} includes itself (cycle); ignored")
                    elif ("object-group network", w[1]) not in self.blocks:
                        self._named("object-group network", w[1], ch)
                        spec = spec | AddrSpec(unknown=True)
                    else:
                        spec = spec | self._net_group(w[1], stack + (name,))
                elif w[0] != "description":
                    raise ParseError(f"unknown object-group network line {w[0]!r}")
            except (ValueError, IndexError) as exc:
                self._problem(ch, f"{_reason(exc)} in object-group {name}")
        self._memo[key] = spec
        return spec

    # -- services ------------------------------------------------------------------------------
    def _port_op(self, words: tuple[str, ...], i: int, tcp: bool = True
                 ) -> tuple[PortRanges, int] | None:
        """`eq|neq|lt|gt P` or `range A B` at words[i]; None when no operator is there."""
        if i >= len(words) or words[i] not in ("eq", "neq", "lt", "gt", "range"):
            return None
        op = words[i]
        try:
            a = names.port_number(words[i + 1], tcp)
            if op == "range":
                return ((a, names.port_number(words[i + 2], tcp)),), i + 3
        except IndexError:
            raise ParseError(f"'{op}' without a port") from None
        except ValueError as exc:
            raise ParseError(str(exc)) from None
        ranges = {"eq": ((a, a),), "lt": ((0, a - 1),), "gt": ((a + 1, 65535),),
                  "neq": invert_ports(((a, a),))}[op]
        return ranges, i + 2

    def _service_def(self, words: tuple[str, ...], line: Line) -> Service:
        """`PROTO [source OP] [destination OP]` of `service`/`service-object` (legacy: bare OP)."""
        proto = words[0]
        tcp = proto in names.TCP_PROTOCOLS
        if not tcp:
            if proto not in names.OTHER_PROTOCOLS and not proto.isdigit():
                raise ParseError(f"unknown protocol {proto!r}")
            return Service(False)
        src = dst = None
        i = 1
        while i < len(words):
            side = words[i] if words[i] in ("source", "destination") else "destination"
            op = self._port_op(words, i + 1 if words[i] == side else i, proto != "udp")
            if op is None:
                raise ParseError(f"unexpected {words[i]!r}")
            src, dst = (op[0], dst) if side == "source" else (src, op[0])
            i = op[1]
        return Service(True, dst, src)

    def _services(self, kind: str, name: str, line: Line, stack: tuple[str, ...] = ()
                  ) -> tuple[Service, ...]:
        """An untyped service group, `object service` or protocol group as Service alternatives."""
        if (kind, name) not in self.blocks:
            self._problem(line, f"{kind} {name!r} is not defined; its services are unknown")
            return (Service(None),)
        out: list[Service] = []
        for ch in self.blocks[(kind, name)].children:
            w = ch.words
            try:
                if w[0] in ("service-object", "service") and w[1:2] == ("object",):
                    out += self._services("object service", w[2], ch, stack)
                elif w[0] in ("service-object", "service") and len(w) >= 2:
                    out.append(self._service_def(w[1:], ch))
                elif w[0] == "protocol-object" and len(w) >= 2:
                    out.append(Service(w[1] in names.TCP_PROTOCOLS))
                elif w[0] == "port-object":
                    out.append(Service(True, self._port_group_line(w)))
                elif w[0] == "group-object" and len(w) >= 2:
                    if w[1] in stack + (name,):
                        self._problem(ch, f"object-group {w[1]} includes itself (cycle); ignored")
                    else:
                        out += self._services(kind, w[1], ch, stack + (name,))
                elif w[0] != "description":
                    raise ParseError(f"unknown {kind} line {w[0]!r}")
            except (ValueError, IndexError) as exc:
                self._problem(ch, f"{_reason(exc)} in {kind} {name}")
        return tuple(out)

    def _port_group_line(self, w: tuple[str, ...]) -> PortRanges:
        op = self._port_op(w, 1)
        if op is None:
            raise ParseError("port-object without eq/range")
        return op[0]

    def _port_group(self, name: str, line: Line) -> PortRanges | None:
        """A typed (`object-group service NAME tcp`) group as a port set; None if not one."""
        block = self.blocks.get(("object-group service", name))
        if block is None or block.typed is None:
            return None
        ports: list[tuple[int, int]] = []
        for svc in self._services("object-group service", name, line):
            ports.extend(svc.dst or ())
        return tuple(ports)

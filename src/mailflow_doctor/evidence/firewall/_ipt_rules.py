"""One iptables-save rule line (`-A CHAIN ...`) read into the conditions we can evaluate.

Whatever does not depend on the question (protocol, TCP flags, fragments) is folded into one
static value while reading; what does (destination, port, interfaces, conntrack state) stays
explicit for `Flow.condition`. Matches we cannot evaluate offline (`-m set`, `-m time`,
`-m string`, `-m limit`, unknown modules or options) are listed in `unknown`: the rule then
matches "maybe", and the walk marks its share of the sources indeterminate.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, field

from ...ipspace import IPAddress, PrefixSet
from ...model.firewall import RuleRef
from ._walk import PortRanges, Tri, all_of, any_of, invert_ports, port_in, source_port_matches

# Modules whose every option we evaluate exactly below.
EXACT_MODULES = {"tcp", "udp", "multiport", "conntrack", "state", "comment", "iprange", "icmp",
                 "icmp6", "ipv6icmp", "set"}
TCP_PROTOCOLS = {"tcp", "6", "all", "0"}
_VALUELESS = {"--syn", "-f", "--fragment"}


class RuleError(ValueError):
    """A rule line that cannot be read; becomes an InputProblem."""


@dataclass
class IptRule:
    """One `-A` line. Address sets are effective sets: negation and iprange already applied."""

    chain: str
    ref: RuleRef
    src: PrefixSet = field(default_factory=PrefixSet.everything)
    dst: PrefixSet | None = None  # None: any destination
    in_if: tuple[str, bool] | None = None  # (name pattern, negated)
    out_if: tuple[str, bool] | None = None
    static: Tri = True  # protocol, fragments and TCP flags, folded
    dports: PortRanges | None = None
    sports: PortRanges | None = None
    ports: PortRanges | None = None  # multiport --ports: either side
    states: tuple[frozenset[str], bool] | None = None  # (states, negated)
    unknown: list[str] = field(default_factory=list)
    target: str | None = None
    goto: bool = False
    target_opts: dict[str, str] = field(default_factory=dict)
    families: set[int] = field(default_factory=set)  # of the addresses written, before negation


LOOPBACK = {"lo"}


def interface_matches(spec: tuple[str, bool], name: str) -> bool:
    """`-i eth+` matches every name starting with eth; `!` inverts."""
    pattern, negated = spec
    hit = name.startswith(pattern[:-1]) if pattern.endswith("+") else name == pattern
    return hit != negated


@dataclass
class Flow:
    """The fixed part of the question for one walk: where the packet goes and how it arrives."""

    dst: IPAddress
    port: int
    ingress: str | None
    dnat: bool = False  # conntrack's virtual DNAT state
    publishing: bool = False  # walking nat PREROUTING, where `-i` tells us the ingress
    notes: list[str] = field(default_factory=list)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def condition(self, rule: IptRule) -> Tri:
        """Does the rule match this flow, apart from its source addresses?"""
        dst = rule.dst is None or self.dst in rule.dst
        dport = rule.dports is None or port_in(rule.dports, self.port)
        sport = rule.sports is None or source_port_matches(rule.sports)
        either = rule.ports is None or any_of([port_in(rule.ports, self.port),
                                               source_port_matches(rule.ports)])
        state: Tri = True
        if rule.states is not None:
            current = {"NEW"} | ({"DNAT"} if self.dnat else set())
            state = bool(rule.states[0] & current) != rule.states[1]
        fixed = all_of(rule.static, dst, dport, sport, either, state)
        if fixed is False:
            return False
        in_if: Tri = True
        if rule.in_if is not None:
            if self.ingress is not None:
                in_if = interface_matches(rule.in_if, self.ingress)
            elif rule.in_if[0] in LOOPBACK:
                in_if = rule.in_if[1]  # mail from the internet never arrives on loopback
            elif self.publishing:
                # DNAT rules are where the ingress is learnt from: the one that publishes the
                # endpoint names the interface that faces the internet.
                self._note("ingress interface unknown: rules with -i were taken to match")
            else:
                self._note("ingress interface unknown: rules with -i could not be decided "
                           "(give --ingress)")
                in_if = None
        if rule.out_if is not None:
            self._note("egress interface unknown: rules with -o were taken to match")
        return all_of(fixed, in_if, None if rule.unknown else True)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise RuleError(f"cannot split rule ({exc})") from None


def _addresses(value: str) -> PrefixSet:
    try:
        return PrefixSet.parse(*value.split(","))
    except ValueError:
        raise RuleError(f"bad address {value!r}") from None


def _range(value: str) -> PrefixSet:
    try:
        first, last = value.split("-", 1)
        return PrefixSet.from_range(first, last)
    except ValueError:
        raise RuleError(f"bad address range {value!r}") from None


def parse_ports(value: str) -> PortRanges:
    """`25`, `20:21`, `1024:` or a multiport list `25,587,1000:2000`."""
    out = []
    try:
        for part in value.split(","):
            lo, _, hi = part.partition(":")
            a = int(lo) if lo else 0
            b = int(hi) if hi else (65535 if ":" in part else a)
            if not 0 <= a <= b <= 65535:
                raise ValueError
            out.append((a, b))
    except ValueError:
        raise RuleError(f"bad port {value!r}") from None
    return tuple(out)


def _tcp_flags(mask: str, comp: str) -> bool:
    """The first packet of a new connection carries SYN only."""
    sets = [{f for f in s.upper().split(",") if f != "NONE"} for s in (mask, comp)]
    all_flags = {"SYN", "ACK", "FIN", "RST", "URG", "PSH"}
    m = all_flags if "ALL" in sets[0] else sets[0]
    c = all_flags if "ALL" in sets[1] else sets[1]
    return ({"SYN"} & m) == c


def parse_rule(text: str, ref: RuleRef, ipsets: dict[str, PrefixSet] | None = None) -> IptRule:
    """Read `-A CHAIN [matches] [-j TARGET [options]]` (an optional `[p:b]` counter prefix).

    `ipsets` holds the address sets of an `ipset save` given with the rules, for `-m set`.
    """
    words = _split(text)
    if words and words[0].startswith("[") and words[0].endswith("]"):
        words = words[1:]
    if len(words) < 2 or words[0] not in ("-A", "--append"):
        raise RuleError("expected '-A CHAIN ...'")
    rule = IptRule(words[1], ref)
    i, negate, after_target, module = 2, False, False, ""
    while i < len(words):
        opt = words[i]
        if opt == "!":
            negate, i = True, i + 1
            continue
        if not opt.startswith("-"):
            raise RuleError(f"unexpected {opt!r}")
        if after_target:  # options of the target: --to-destination, --log-prefix, ...
            vals = _values(words, i)
            rule.target_opts[opt] = " ".join(vals)
            i += 1 + len(vals)
            continue
        if opt in _VALUELESS:
            n = 0
        elif opt in ("--tcp-flags", "--match-set"):
            n = 2
        elif opt.startswith("--") and opt not in _KNOWN_OPTIONS:
            n = len(_values(words, i))  # an option of a module we do not evaluate
        else:
            n = 1
        args = words[i + 1:i + 1 + n]
        if len(args) < n:
            raise RuleError(f"{opt} needs a value")
        if opt in ("-m", "--match"):
            module = args[0]
        unknown_module = module and module not in EXACT_MODULES
        if opt == "--match-set":
            _match_set(rule, args, negate, ipsets or {})
        elif not (unknown_module and opt.startswith("--") and opt not in _KNOWN_OPTIONS):
            _apply(rule, opt, args, negate)  # (options of an unknown module: already noted)
        after_target = opt in ("-j", "--jump", "-g", "--goto")
        i += 1 + n
        negate = False
    return rule


def _match_set(rule: IptRule, args: list[str], neg: bool, ipsets: dict[str, PrefixSet]) -> None:
    """`--match-set NAME src|dst`: an address set from `ipset save`, else not decidable here."""
    name, flags = args[0], args[1].split(",")
    if name not in ipsets or len(flags) != 1 or flags[0] not in ("src", "dst"):
        rule.unknown.append(f"-m set --match-set {name} {args[1]} (set not in an ipset save given)")
        return
    members = PrefixSet.everything() - ipsets[name] if neg else ipsets[name]
    if flags[0] == "src":
        rule.src = rule.src & members
    else:
        rule.dst = members if rule.dst is None else rule.dst & members


def _values(words: list[str], i: int) -> list[str]:
    """The values of an option we do not know: the words up to the next option."""
    out = []
    for w in words[i + 1:]:
        if w == "!" or (w.startswith("-") and not w[1:2].isdigit()):
            break
        out.append(w)
    return out


# Long options taking exactly one value that `_apply` understands.
_KNOWN_OPTIONS = {
    "--source", "--src", "--destination", "--dst", "--in-interface", "--out-interface",
    "--protocol", "--match", "--jump", "--goto", "--dport", "--destination-port", "--sport",
    "--source-port", "--dports", "--destination-ports", "--sports", "--source-ports", "--ports",
    "--state", "--ctstate", "--src-range", "--dst-range", "--comment",
}


def _apply(rule: IptRule, opt: str, args: list[str], neg: bool) -> None:
    """Fold one option into the rule."""
    a = args[0] if args else ""
    if opt in ("-s", "--source", "--src", "--src-range"):
        nets = _range(a) if opt == "--src-range" else _addresses(a)
        rule.families |= nets.families
        rule.src = rule.src & (PrefixSet.everything() - nets if neg else nets)
    elif opt in ("-d", "--destination", "--dst", "--dst-range"):
        nets = _range(a) if opt == "--dst-range" else _addresses(a)
        rule.families |= nets.families
        nets = PrefixSet.everything() - nets if neg else nets
        rule.dst = nets if rule.dst is None else rule.dst & nets
    elif opt in ("-i", "--in-interface"):
        rule.in_if = (a, neg)
    elif opt in ("-o", "--out-interface"):
        rule.out_if = (a, neg)
    elif opt in ("-p", "--protocol"):
        rule.static = all_of(rule.static, (a.lower() in TCP_PROTOCOLS) != neg)
    elif opt in ("-f", "--fragment"):
        rule.static = all_of(rule.static, neg)  # a connection's first packet is no fragment
    elif opt in ("-m", "--match"):
        if a not in EXACT_MODULES:
            rule.unknown.append(f"-m {a}")
    elif opt in ("--dport", "--destination-port", "--dports", "--destination-ports"):
        rule.dports = invert_ports(parse_ports(a)) if neg else parse_ports(a)
    elif opt in ("--sport", "--source-port", "--sports", "--source-ports"):
        rule.sports = invert_ports(parse_ports(a)) if neg else parse_ports(a)
    elif opt == "--ports":
        rule.ports = invert_ports(parse_ports(a)) if neg else parse_ports(a)
    elif opt in ("--state", "--ctstate"):
        rule.states = (frozenset(s.upper() for s in a.split(",")), neg)
    elif opt == "--syn":
        rule.static = all_of(rule.static, not neg)
    elif opt == "--tcp-flags":
        rule.static = all_of(rule.static, _tcp_flags(args[0], args[1]) != neg)
    elif opt in ("-j", "--jump", "-g", "--goto"):
        rule.target, rule.goto = a, opt in ("-g", "--goto")
    elif opt == "--comment":
        pass
    elif opt.startswith("--"):
        rule.unknown.append(opt)  # an option of a module we do not evaluate
    else:
        raise RuleError(f"unknown option {opt!r}")


def dnat_target(rule: IptRule) -> tuple[IPAddress, int | None]:
    """`--to-destination A[-B][:P[-Q]]` → first address and port (IPv6 as `[A]:P`)."""
    value = rule.target_opts.get("--to-destination", "")
    addr, port = value, None
    if value.startswith("["):
        addr, _, rest = value[1:].partition("]")
        port = rest[1:] or None
    elif value.count(":") == 1:
        addr, port = value.split(":")
    try:
        ip = ipaddress.ip_address(addr.split("-")[0])
        return ip, int(port.split("-")[0]) if port else None
    except ValueError:
        raise RuleError(f"bad --to-destination {value!r}") from None

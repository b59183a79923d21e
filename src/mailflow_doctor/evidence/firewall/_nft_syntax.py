"""nftables rulesets, from `nft list ruleset` text or `nft -j list ruleset` JSON, to one model.

Both syntaxes are reduced to the same small vocabulary of matches and statements per rule
(`Term`s), so the evaluator never looks at syntax. Anything outside the vocabulary becomes an
`unknown` term: the evaluator then marks the sources that rule could decide as indeterminate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ...model import InputProblem, Location

PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50,
              "srcnat": 100}


@dataclass(frozen=True)
class Term:
    """One match or statement: kind, negation and values (already flat strings)."""

    kind: str  # saddr daddr iif oif l4proto dport sport ctstate verdict dnat unknown nop
    negated: bool = False
    values: tuple[str, ...] = ()
    family: str | None = None  # "ip"/"ip6" for address matches, protocol for port matches


@dataclass
class NftRule:
    terms: list[Term]
    text: str
    line: int | None


@dataclass
class NftChain:
    name: str
    line: int | None
    header: str = ""
    type: str | None = None
    hook: str | None = None
    priority: int = 0
    policy: str = "accept"
    rules: list[NftRule] = field(default_factory=list)


@dataclass
class NftTable:
    family: str
    name: str
    chains: dict[str, NftChain] = field(default_factory=dict)
    sets: dict[str, list[str]] = field(default_factory=dict)


# -- text -----------------------------------------------------------------------------------------

_TOKEN = re.compile(r'"[^"]*"|[{}();,]|[^\s{}();,"]+')
_OPS = {"==": False, "eq": False, "!=": True, "ne": True}
_ADDR_FIELDS = {"saddr", "daddr"}


def _tokens(text: str) -> list[str]:
    return [t.strip('"') if t.startswith('"') else t for t in _TOKEN.findall(text)]


def _value(tokens: list[str], i: int) -> tuple[tuple[str, ...], int]:
    """A single value, `{ a, b }` or `@set` at tokens[i]; returns values and the next index."""
    if i < len(tokens) and tokens[i] == "{":
        values: list[str] = []
        i += 1
        while i < len(tokens) and tokens[i] != "}":
            if tokens[i] != ",":
                values.append(tokens[i])
            i += 1
        return tuple(values), i + 1
    values = []
    while i < len(tokens):  # `a` or a bare comma list `established,related`
        values.append(tokens[i])
        if tokens[i + 1:i + 2] != [","]:
            break
        i += 2
    return tuple(values), i + 1


def _op(tokens: list[str], i: int) -> tuple[bool, int]:
    if i < len(tokens) and tokens[i] in _OPS:
        return _OPS[tokens[i]], i + 1
    return False, i


def rule_terms(tokens: list[str]) -> list[Term]:
    """Reduce one rule's tokens to terms; unknown expressions become `unknown` terms."""
    terms: list[Term] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if t in ("ip", "ip6") and nxt in _ADDR_FIELDS:
            neg, j = _op(tokens, i + 2)
            values, i = _value(tokens, j)
            terms.append(Term(nxt, neg, values, t))
        elif t in ("ip", "ip6", "meta") and nxt in ("protocol", "nexthdr", "l4proto"):
            neg, j = _op(tokens, i + 2)
            values, i = _value(tokens, j)
            terms.append(Term("l4proto", neg, values))
        elif t in ("iifname", "oifname", "iif", "oif") or (t == "meta" and nxt in (
                "iifname", "oifname", "iif", "oif")):
            key = nxt if t == "meta" else t
            neg, j = _op(tokens, i + (2 if t == "meta" else 1))
            values, i = _value(tokens, j)
            terms.append(Term("iif" if key.startswith("i") else "oif", neg, values))
        elif t in ("tcp", "udp", "th", "sctp") and nxt in ("dport", "sport"):
            neg, j = _op(tokens, i + 2)
            values, i = _value(tokens, j)
            terms.append(Term(nxt, neg, values, t))
        elif t == "ct" and nxt == "state":
            neg, j = _op(tokens, i + 2)
            values, i = _value(tokens, j)
            states = tuple(s for v in values for s in v.split(",") if s)
            terms.append(Term("ctstate", neg, states))
        elif t == "counter":
            i += 1
            while i + 1 < len(tokens) and tokens[i] in ("packets", "bytes"):
                i += 2
        elif t == "log":
            i += 1
            while i + 1 < len(tokens) and tokens[i] in ("prefix", "level", "group", "snaplen",
                                                          "queue-threshold", "flags"):
                i += 2
        elif t == "comment":
            i += 2
        elif t in ("accept", "drop", "return", "continue"):
            terms.append(Term("verdict", values=(t,)))
            i += 1
        elif t == "reject":
            terms.append(Term("verdict", values=("reject",)))
            i += 1
            if i < len(tokens) and tokens[i] == "with":
                i += 3 if tokens[i + 1:i + 2] == ["tcp"] else 4  # tcp reset | icmp type X
        elif t in ("jump", "goto"):
            terms.append(Term("verdict", values=(t, nxt)))
            i += 2
        elif t == "dnat":
            j = i + 1
            if j < len(tokens) and tokens[j] in ("ip", "ip6"):
                j += 1
            if tokens[j:j + 1] == ["to"]:
                j += 1
            values, i = _value(tokens, j)
            terms.append(Term("dnat", values=values))
        else:
            # Not in our vocabulary: fold consecutive unknown words into one term and go on, so
            # the rule's verdict is still seen (its condition then stays undecided).
            if terms and terms[-1].kind == "unknown":
                terms[-1] = Term("unknown", values=(f"{terms[-1].values[0]} {t}",))
            else:
                terms.append(Term("unknown", values=(t,)))
            i += 1
    return terms


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            break
        out.append(ch)
    return "".join(out).strip()


def _priority(tokens: list[str]) -> int:
    value = 0
    sign = 1
    for tok in tokens:
        if tok in PRIORITIES:
            value += sign * PRIORITIES[tok]
        elif tok in ("+", "-"):
            sign = 1 if tok == "+" else -1
        elif re.fullmatch(r"-?\d+", tok):
            value += sign * int(tok)
    return value


def _chain_header(chain: NftChain, tokens: list[str], line: int, raw: str) -> None:
    words = [t for t in tokens if t != ";"]
    if "type" in words:
        k = words.index("type")
        chain.type = words[k + 1] if k + 1 < len(words) else None
        chain.header, chain.line = raw, line
    if "hook" in words:
        k = words.index("hook")
        chain.hook = words[k + 1] if k + 1 < len(words) else None
    if "priority" in words:
        k = words.index("priority")
        end = words.index("policy") if "policy" in words else len(words)
        chain.priority = _priority(words[k + 1:end])
    if "policy" in words:
        k = words.index("policy")
        chain.policy = words[k + 1] if k + 1 < len(words) else "accept"
        chain.header = chain.header or raw


def parse_text(text: str, source: str) -> tuple[list[NftTable], list[InputProblem]]:
    """`nft list ruleset` output (and hand-written files of the same shape)."""
    tables: list[NftTable] = []
    problems: list[InputProblem] = []
    table: NftTable | None = None
    chain: NftChain | None = None
    set_name: str | None = None
    skip_depth = 0  # inside a block we do not evaluate (flowtable, map, ...)
    pending: tuple[int, str] | None = None  # a statement whose braces span lines
    for no, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if pending:
            line = pending[1] + " " + line
            no = pending[0]
            pending = None
        if not line:
            continue
        if line.count("{") > line.count("}") and not re.match(
                r"^(table|chain|set|map|flowtable|counter|quota|ct|limit|secmark|synproxy)\b",
                line):
            pending = (no, line)
            continue
        tokens = _tokens(line)
        if skip_depth:
            skip_depth += line.count("{") - line.count("}")
            continue
        if tokens[:1] == ["}"]:
            if set_name is not None:
                set_name = None
            elif chain is not None:
                chain = None
            else:
                table = None
            continue
        if table is None:
            if tokens[0] == "table" and len(tokens) >= 4 and tokens[-1] == "{":
                family, name = (tokens[1], tokens[2]) if len(tokens) == 4 else ("ip", tokens[1])
                table = NftTable(family, name)
                tables.append(table)
            elif tokens[0] not in ("flush", "add", "define", "include"):
                problems.append(InputProblem(Location(source, no),
                                             f"unexpected nftables statement {line[:60]!r}"))
            continue
        if chain is None and set_name is None:
            if tokens[0] == "chain" and tokens[-1] == "{":
                chain = table.chains.setdefault(tokens[1], NftChain(tokens[1], no))
            elif tokens[0] == "set" and tokens[-1] == "{":
                set_name = tokens[1]
                table.sets[set_name] = []
            elif tokens[-1] == "{":
                skip_depth = 1
            continue
        if set_name is not None:
            if tokens[0] == "elements":
                values, _ = _value(tokens, tokens.index("{") if "{" in tokens else 2)
                table.sets[set_name].extend(values)
            continue
        assert chain is not None
        if tokens[0] in ("type", "policy"):
            _chain_header(chain, tokens, no, line)
            continue
        chain.rules.append(NftRule(rule_terms(tokens), line, no))
    return tables, problems


# -- JSON -----------------------------------------------------------------------------------------


def _json_value(right: object) -> tuple[str, ...]:
    if isinstance(right, dict):
        if "set" in right:
            return tuple(v for item in right["set"] for v in _json_value(item))
        if "prefix" in right:
            return (f"{right['prefix']['addr']}/{right['prefix']['len']}",)
        if "range" in right:
            a, b = right["range"]
            return (f"{a}-{b}",)
        if "elem" in right:
            return _json_value(right["elem"].get("val"))
        return ("?",)
    if isinstance(right, list):
        return tuple(v for item in right for v in _json_value(item))
    return (str(right),)


def _json_match(m: dict) -> Term:
    op, left, right = m.get("op", "=="), m.get("left"), m.get("right")
    neg = op == "!="
    if op not in ("==", "!=", "in"):
        return Term("unknown", values=(f"match {op}",))
    values = _json_value(right)
    if isinstance(left, dict) and "payload" in left:
        p = left["payload"]
        proto, fld = p.get("protocol"), p.get("field")
        if proto in ("ip", "ip6") and fld in _ADDR_FIELDS:
            return Term(fld, neg, values, proto)
        if proto in ("tcp", "udp", "th", "sctp") and fld in ("dport", "sport"):
            return Term(fld, neg, values, proto)
        if proto in ("ip", "ip6") and fld in ("protocol", "nexthdr"):
            return Term("l4proto", neg, values)
    if isinstance(left, dict) and "meta" in left:
        key = left["meta"].get("key")
        if key in ("iifname", "oifname", "iif", "oif"):
            return Term("iif" if key.startswith("i") else "oif", neg, values)
        if key == "l4proto":
            return Term("l4proto", neg, values)
    if isinstance(left, dict) and left.get("ct", {}).get("key") == "state":
        return Term("ctstate", neg, values)
    return Term("unknown", values=(json.dumps(left)[:60],))


def _json_terms(exprs: list) -> list[Term]:
    terms: list[Term] = []
    for e in exprs:
        if not isinstance(e, dict) or not e:
            terms.append(Term("unknown", values=("?",)))
            continue
        key, body = next(iter(e.items()))
        if key == "match" and isinstance(body, dict):
            terms.append(_json_match(body))
        elif key in ("counter", "log", "comment"):
            continue
        elif key in ("accept", "drop", "return", "continue", "reject"):
            terms.append(Term("verdict", values=(key,)))
        elif key in ("jump", "goto") and isinstance(body, dict):
            terms.append(Term("verdict", values=(key, str(body.get("target")))))
        elif key == "dnat" and isinstance(body, dict):
            addr, port = body.get("addr"), body.get("port")
            target = str(addr) if port is None else (
                f"[{addr}]:{port}" if ":" in str(addr) else f"{addr}:{port}")
            terms.append(Term("dnat", values=(target,)))
        else:
            terms.append(Term("unknown", values=(key,)))
    return terms


def render(terms: list[Term]) -> str:
    """A readable nft-like line for a rule read from JSON (JSON has no rule text)."""
    words = []
    for t in terms:
        vals = t.values[0] if len(t.values) == 1 else "{ " + ", ".join(t.values) + " }"
        op = "!= " if t.negated else ""
        words.append({
            "saddr": f"{t.family} saddr {op}{vals}", "daddr": f"{t.family} daddr {op}{vals}",
            "dport": f"{t.family} dport {op}{vals}", "sport": f"{t.family} sport {op}{vals}",
            "iif": f"iifname {op}{vals}", "oif": f"oifname {op}{vals}",
            "l4proto": f"meta l4proto {op}{vals}", "ctstate": f"ct state {op}{vals}",
            "dnat": f"dnat to {vals}", "verdict": " ".join(t.values),
        }.get(t.kind, f"<{' '.join(t.values)}>"))
    return " ".join(words)


def parse_json(text: str, source: str) -> tuple[list[NftTable], list[InputProblem]]:
    """`nft -j list ruleset` output."""
    try:
        items = json.loads(text)["nftables"]
    except (ValueError, KeyError, TypeError) as exc:
        return [], [InputProblem(Location(source, 1), f"not nftables JSON: {exc}")]
    lines = [text.count("\n", 0, m.start()) + 1 for m in re.finditer(r'"rule"\s*:', text)]
    tables: dict[tuple[str, str], NftTable] = {}
    problems: list[InputProblem] = []
    rule_no = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        key, body = next(iter(item.items()))
        if not isinstance(body, dict):
            continue
        family, tname = body.get("family", "ip"), body.get("table", body.get("name"))
        if key == "table":
            tables.setdefault((family, body.get("name", "")), NftTable(family, body.get("name")))
            continue
        table = tables.setdefault((family, tname), NftTable(family, tname))
        if key == "chain":
            chain = table.chains.setdefault(body.get("name"), NftChain(body.get("name"), None))
            if "hook" in body:
                chain.type, chain.hook = body.get("type"), body.get("hook")
                prio = body.get("prio", 0)
                chain.priority = prio if isinstance(prio, int) else PRIORITIES.get(prio, 0)
                chain.policy = body.get("policy", "accept")
                chain.header = (f"type {chain.type} hook {chain.hook} priority {chain.priority}; "
                                f"policy {chain.policy};")
        elif key == "set":
            table.sets[body.get("name")] = list(_json_value(body.get("elem", [])))
        elif key == "rule":
            line = lines[rule_no] if rule_no < len(lines) else None
            rule_no += 1
            chain = table.chains.setdefault(body.get("chain"), NftChain(body.get("chain"), None))
            terms = _json_terms(body.get("expr", []))
            chain.rules.append(NftRule(terms, render(terms), line))
    return list(tables.values()), problems

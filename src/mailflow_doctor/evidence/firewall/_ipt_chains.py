"""The iptables chain walk: first match over sets of sources, with jumps, gotos and returns.

A flat first-match walk is not enough for netfilter: `-j CHAIN` sends the matching sources into a
user chain, and whatever that chain does not decide comes back (RETURN or falling off its end)
and continues after the jump; `-g CHAIN` does the same but comes back to the caller's caller.
Falling off (or RETURN in) a built-in chain applies its policy. The walk is generic over the
outcome so the same code finds DNAT translations in `nat` and verdicts in `filter`.

Uncertain matches stay exact: if a rule may or may not match some sources, the part a terminal
target would decide becomes indeterminate; for a jump, only the part the user chain would decide
does (what it would hand back continues either way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...ipspace import PrefixSet
from ...model.firewall import RuleRef
from ._ipt_rules import IptRule
from ._walk import Tri

BUILTIN = {"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"}
INDETERMINATE = "indeterminate"


@dataclass
class Chain:
    name: str
    policy: str | None  # ACCEPT/DROP for built-in chains, None ("-") for user chains
    ref: RuleRef | None  # the `:CHAIN POLICY [p:b]` header line
    rules: list[IptRule] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """What a rule's target does: decide an outcome, jump/goto a chain, return, or go on."""

    kind: str  # decide | jump | goto | return | continue
    outcome: object = None
    chain: str | None = None


Emit = Callable[[PrefixSet, object, "RuleRef | None", "str | None"], None]
Offer = Callable[[RuleRef, object, PrefixSet, bool], None]  # see Walk.offer


@dataclass
class ChainWalker:
    """Walks one table's chains for one flow; decisions go to `emit`."""

    chains: dict[str, Chain]
    condition: Callable[[IptRule], Tri]
    classify: Callable[[IptRule], Step]
    policy: Callable[[Chain], tuple[object, str]]  # → (outcome, human text of the default)
    emit: Emit
    on_uncertain: Callable[[IptRule], None] = lambda rule: None
    offer: Offer | None = None  # told of every verdict rule that surely matches entered sources

    def run(self, name: str, space: PrefixSet, stack: tuple[str, ...] = ()) -> PrefixSet:
        """Walk chain `name` over `space`; returns what comes back to the caller (user chains)."""
        chain = self.chains[name]
        builtin = name in BUILTIN
        back = PrefixSet()  # handed back to the caller (RETURN, goto returns)
        entered = space
        for rule in chain.rules:
            if not space and self.offer is None:
                break
            cond = self.condition(rule)
            if cond is False:
                continue
            if cond is True and self.offer is not None and (
                    step := self.classify(rule)).kind == "decide":
                self.offer(rule.ref, step.outcome, entered & rule.src, bool(space & rule.src))
            matched = space & rule.src
            sure = matched if cond else PrefixSet()
            unsure = matched - sure
            if not matched:
                continue
            step = self.classify(rule)
            if step.kind == "continue":
                continue
            if unsure:
                self.on_uncertain(rule)
            if step.kind == "decide":
                self.emit(sure, step.outcome, rule.ref, None)
                self.emit(unsure, INDETERMINATE, rule.ref, None)
                space = space - matched
            elif step.kind == "return":
                if builtin:
                    self._fall_off(chain, sure)
                else:
                    back = back | sure
                self.emit(unsure, INDETERMINATE, rule.ref, None)
                space = space - matched
            else:
                space, back = self._enter(chain, rule, step, space, back, sure, unsure, stack)
        if builtin:
            self._fall_off(chain, space)
            return PrefixSet()
        return back | space

    def _enter(self, chain: Chain, rule: IptRule, step: Step, space: PrefixSet,
               back: PrefixSet, sure: PrefixSet, unsure: PrefixSet, stack: tuple[str, ...]
               ) -> tuple[PrefixSet, PrefixSet]:
        """A jump or goto; returns the caller's new (remaining, handed-back) spaces."""
        target = step.chain or ""
        if target in stack or target == chain.name or target not in self.chains:
            self.emit(sure | unsure, INDETERMINATE, rule.ref, None)  # loop or missing chain
            return space - sure - unsure, back
        came_back = self.run(target, sure, stack + (chain.name,))
        if step.kind == "goto":
            # The target returns to our caller, not here; for a built-in chain that is its policy.
            if chain.name in BUILTIN:
                self._fall_off(chain, came_back)
            else:
                back = back | came_back
            self.emit(unsure, INDETERMINATE, rule.ref, None)
            return space - sure - unsure, back
        space = (space - sure) | came_back
        if unsure:
            # Entered or not, what the chain hands back continues here; the rest is unknown.
            shadow = ChainWalker(self.chains, self.condition, self.classify, self.policy,
                                 lambda *args: None)
            would_return = shadow.run(target, unsure, stack + (chain.name,))
            self.emit(unsure - would_return, INDETERMINATE, rule.ref, None)
            space = space - (unsure - would_return)
        return space, back

    def _fall_off(self, chain: Chain, space: PrefixSet) -> None:
        outcome, text = self.policy(chain)
        self.emit(space, outcome, chain.ref, text)


def find_loops(chains: dict[str, Chain]) -> list[IptRule]:
    """Rules whose jump closes a loop between user chains (iptables-restore refuses those)."""
    bad: list[IptRule] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str) -> None:
        state[name] = 1
        for rule in chains[name].rules:
            target = rule.target
            if target in chains and target not in BUILTIN:
                if state.get(target) == 1:
                    bad.append(rule)
                elif target not in state:
                    visit(target)
        state[name] = 2

    for name in chains:
        if name not in state:
            visit(name)
    return bad

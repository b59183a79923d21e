"""The smallest additive firewall change that lets the missing EOP ranges through, proven.

Each vendor module proposes the change two ways: the commands an admin types (in the
firewall's own syntax) and the same change as line insertions into the saved configuration.
The insertions are applied to a copy, the copy is read back with the normal reader and
evaluated again: the fix is only called verified when every asked EOP range is then permitted
and no other source's verdict for this destination changed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

from ..evidence.textio import read_text
from ..ipspace import IPAddress, PrefixSet
from ..model.firewall import FlowVerdict

VENDORS = {"cisco-asa": "asa", "cisco-ios": "ios", "iptables": "iptables",
           "nftables": "nftables", "fortigate": "fortigate", "aws-security-group": "aws_sg",
           "azure-nsg": "azure_nsg", "pfsense": "pfsense", "panos": "panos"}


@dataclass(frozen=True)
class Insertion:
    """Lines to insert after a 1-based line of the saved configuration (0: at the top)."""

    after_line: int
    lines: tuple[str, ...]


@dataclass
class Fix:
    """A proposed change and what re-evaluating the changed configuration showed."""

    vendor: str
    config: str
    summary: str
    commands: list[str]
    insertions: list[Insertion] = field(default_factory=list)
    patched: str | None = None  # the whole changed configuration, where lines do not fit (JSON)
    verified: bool = False
    verification: str = ""
    after: FlowVerdict | None = None


def apply(text: str, insertions: list[Insertion]) -> str:
    """The configuration text with the insertions made (later lines first, so numbers hold)."""
    lines = text.splitlines()
    for ins in sorted(insertions, key=lambda i: i.after_line, reverse=True):
        lines[ins.after_line:ins.after_line] = list(ins.lines)
    return "\n".join(lines) + "\n"


def propose(verdict: FlowVerdict, missing: PrefixSet, destination: IPAddress, port: int,
            ingress: str | None = None) -> Fix | None:
    """A verified (or honestly unverified) fix for `missing`, or None for unknown vendors."""
    name = VENDORS.get(verdict.vendor)
    if name is None or not missing:
        return None
    text, _ = read_text(verdict.config)
    vendor = import_module(f"{__package__}.{name}")
    fix: Fix = vendor.propose(text, verdict, missing)
    _verify(fix, text, verdict, missing, destination, port, ingress)
    if not fix.verified:
        # Extending a group does not help prefixes that an earlier rule already denies: then
        # a new rule above the denying ones is the smallest change that works.
        other: Fix = vendor.propose(text, verdict, missing, prefer_group=False)
        if other.commands != fix.commands:
            _verify(other, text, verdict, missing, destination, port, ingress)
            fix = other if other.verified else fix
    return fix


def _reader(vendor: str):
    return import_module(f"..evidence.firewall.{VENDORS[vendor]}", __package__)


def _verify(fix: Fix, text: str, before: FlowVerdict, missing: PrefixSet,
            destination: IPAddress, port: int, ingress: str | None) -> None:
    """Read the changed configuration back and evaluate the same question, and all others."""
    reader = _reader(fix.vendor)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(fix.config).name or "config")
        changed = fix.patched if fix.patched is not None else apply(text, fix.insertions)
        path.write_text(changed, encoding="utf-8")
        parsed = reader.parse(path)
    original = reader.parse(before.config)
    if not parsed.records or not original.records:
        fix.verification = "the changed configuration could not be read back"
        return
    asked = before.permitted | before.denied | before.prefixes("indeterminate")
    others = PrefixSet.everything(destination.version) - asked  # type: ignore[arg-type]
    fix.after = parsed.records[0].evaluate(asked, destination, port, ingress)
    old = original.records[0].evaluate(others, destination, port, ingress)
    new = parsed.records[0].evaluate(others, destination, port, ingress)
    still_missing = missing - fix.after.permitted
    if still_missing:
        fix.verification = f"after the change these are still not permitted: {still_missing}"
    elif (old.permitted, old.denied) != (new.permitted, new.denied):
        fix.verification = "the change would also alter what other sources may do"
    else:
        fix.verified = True
        fix.verification = (f"re-evaluated: {', '.join(missing.cidrs())} are then permitted to "
                            f"{before.destination}, and no other source's verdict changes")

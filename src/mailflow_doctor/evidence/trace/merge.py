"""Overlapping exports of the same messages, merged instead of double counted.

Admins often hand over a detail export, the extended report and a Graph fetch of the same
messages. Rules:

* One event is (message id, recipient, event name, time to the second): US-culture exports have
  whole seconds, ISO/Graph/JSON exports fractions, so times are compared truncated. Summary-level
  events are compared to the minute, which is all the EAC summary export shows. Copies from
  different files are one event; within one file every record counts (an equal record of the
  same file and line, i.e. the file read twice, counts once). With n copies in one file and m
  in another, max(n, m) stay.
* Of the copies, the richest detailed one is kept with its location and excerpt (a decoded
  reason first, then source and target addresses, trace id, ...); what it lacks is filled from
  the others, and its time takes the fractions another copy has. Where one file holds several
  copies, its records are the ones kept (completed from the others), so merging is idempotent.
* A Graph getDetailsByRecipient response names no recipient: such events take the recipient of
  their message when all its other records name the same single one.
* Summary-level events (summary rows, enhanced summary listings, Graph's list) of a
  message+recipient are dropped when detailed events of it exist; what only they hold (the
  sender, the target address of a failed attempt) completes those events first.
* The result is sorted by time (then file, line, and the lifecycle order of events at the same
  moment), whatever the order of the input.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from ...model.trace import TraceEvent
from .summary_csv import LEVEL, is_summary

_ATTEMPTS = ("send", "defer", "fail", "deliver")  # events that went (or tried to go) somewhere
_FILLED = ("source_ip", "target_ip", "target_fqdn", "trace_id", "sender", "status")
# Events at the same moment of one record (the enhanced summary lists several) in the order a
# message lives through them; others after, by name.
_LIFECYCLE = {name: n for n, name in enumerate(
    ("receive", "submit", "spam", "expand", "resolved", "redirect", "transfer", "send",
     "defer", "deliver", "fail", "drop", "summary"))}


class _Keys:
    """Normalised message ids and recipients, computed once per distinct text (a trace repeats
    them for every event of a message)."""

    def __init__(self) -> None:
        self.messages: dict[str, str] = {}
        self.recipients: dict[str, str] = {}

    def message(self, e: TraceEvent) -> str:
        found = self.messages.get(e.message_id)
        if found is None:
            found = self.messages[e.message_id] = e.message_id.strip().strip("<>").lower()
        return found

    def recipient(self, e: TraceEvent) -> str:
        found = self.recipients.get(e.recipient)
        if found is None:
            found = self.recipients[e.recipient] = e.recipient.strip().lower()
        return found

    def __call__(self, e: TraceEvent) -> tuple:
        t = e.time_utc
        if is_summary(e):
            t = t.replace(second=0, microsecond=0)
        elif t.microsecond:
            t = t.replace(microsecond=0)
        return self.message(e), self.recipient(e), e.event, t


def _richness(e: TraceEvent) -> tuple:
    reason = 0 if e.reason is None else (1 if e.reason.truncated else 2)
    filled = sum(1 for name in _FILLED if getattr(e, name))
    return reason, filled, len(e.data), len(e.detail)


def _order(e: TraceEvent) -> tuple:
    """Total order, so that ties never depend on the input order."""
    return (e.time_utc, e.location.source, e.location.line or 0,
            _LIFECYCLE.get(e.event, len(_LIFECYCLE)), e.event, e.recipient, e.message_id,
            e.excerpt, e.detail, e.reason.raw if e.reason else "",
            *(getattr(e, name) or "" for name in _FILLED))


def _rank(e: TraceEvent) -> tuple:
    """Detailed before summary-level, then the richest; ties by place, never by input order."""
    return (is_summary(e), *(-x for x in _richness(e)), *_order(e)[1:])


def _combine(best: TraceEvent, others: list[TraceEvent]) -> TraceEvent:
    """`best` completed from the other copies (taken in their rank order)."""
    if not others:
        return best
    others = sorted(others, key=_rank)
    changes: dict = {}
    for name in _FILLED:
        if not getattr(best, name):
            value = next((v for o in others if (v := getattr(o, name))), None)
            if value:
                changes[name] = value
    if best.reason is None:
        donor = next((o for o in others if o.reason is not None), None)
        if donor:
            changes["reason"] = donor.reason
            changes["detail"] = best.detail or donor.detail
    if not best.time_utc.microsecond:
        finer = next((o.time_utc for o in others if o.time_utc.microsecond), None)
        if finer:
            changes["time_utc"] = finer
    data = {k: v for o in reversed(others) for k, v in o.data.items() if k != LEVEL}
    if data.keys() - best.data.keys():
        changes["data"] = {**data, **best.data}
    return replace(best, **changes) if changes else best


def _fill_recipients(events: list[TraceEvent], keys: _Keys) -> list[TraceEvent]:
    if all(e.recipient for e in events):
        return events
    known: dict[str, dict[str, str]] = defaultdict(dict)  # message → lower → as written
    for e in events:
        if e.recipient:
            spelled = known[keys.message(e)]
            lower = keys.recipient(e)
            spelled[lower] = min(spelled.get(lower, e.recipient), e.recipient)
    out = []
    for e in events:
        if not e.recipient and len(found := known.get(keys.message(e), {})) == 1:
            e = replace(e, recipient=next(iter(found.values())))
        out.append(e)
    return out


def _collapse(copies: list[TraceEvent]) -> list[TraceEvent]:
    """Copies of one key: pair them up file by file, i-th with i-th.

    One copy per file (the usual case): the richest is kept. When a file holds several, the
    results keep that file's records (completed from the others), so that merging the result
    again changes nothing."""
    by_file: dict[str, dict[TraceEvent, TraceEvent]] = defaultdict(dict)
    for e in copies:
        by_file[e.location.source].setdefault(e, e)  # an equal record is the same one again
    # The file whose records are kept: a detailed one before a summary listing, then the one
    # with the most copies.
    columns = sorted((sorted(records, key=_order) for records in by_file.values()),
                     key=lambda column: (is_summary(column[0]), -len(column), _rank(column[0])))
    if len(columns[0]) == 1:
        ranked = sorted((column[0] for column in columns), key=_rank)
        return [_combine(ranked[0], ranked[1:])]
    kept = set(columns[0])
    out: list[TraceEvent] = []
    for i, best in enumerate(columns[0]):
        combined = _combine(best, [c[i] for c in columns[1:] if i < len(c)])
        # Completing a poorer copy can make it equal to another record of its file, which a
        # second merge would count once: such a copy stays as it was.
        out.append(best if combined is not best and (combined in kept or combined in out)
                   else combined)
    # Completing changes how copies order (a finer time, a filled address): order them anew,
    # as a second merge would.
    return sorted(out, key=_order)


def _place(e: TraceEvent) -> tuple:
    """The output order. Events equal in it share a merge key, so they come out of one
    _collapse, already in a fixed order that the stable sort keeps."""
    return (e.time_utc, e.location.source, e.location.line or 0,
            _LIFECYCLE.get(e.event, len(_LIFECYCLE)), e.event, e.recipient, e.message_id)


def merge(events: Iterable[TraceEvent]) -> list[TraceEvent]:
    """One list of events from several exports: duplicates merged, coarse events dropped where
    detail exists, sorted by time. Deterministic for any input order."""
    keys = _Keys()
    events = _fill_recipients(list(events), keys)
    first: dict[tuple, TraceEvent] = {}
    clashes: dict[tuple, list[TraceEvent]] = {}
    for e in events:
        k = keys(e)
        if k not in first:
            first[k] = e
        elif k in clashes:
            clashes[k].append(e)
        else:
            clashes[k] = [first[k], e]
    merged: list[TraceEvent] = []
    detailed: set[tuple] = set()  # (message, recipient) with detailed events
    coarse = False
    for k, e in first.items():
        if k in clashes:
            continue
        merged.append(e)
        if is_summary(e):
            coarse = True
        else:
            detailed.add(k[:2])
    for k, copies in clashes.items():
        out = _collapse(copies)
        merged.extend(out)
        coarse |= any(is_summary(o) for o in out)
        if not all(is_summary(o) for o in out):
            detailed.add(k[:2])
    if coarse:
        summaries: dict[tuple, TraceEvent] = {}
        for e in merged:
            if is_summary(e) and (k := (keys.message(e), keys.recipient(e))) in detailed:
                if k not in summaries or _rank(e) < _rank(summaries[k]):
                    summaries[k] = e
        merged = [_completed(e, summaries.get((keys.message(e), keys.recipient(e))))
                  for e in merged if not is_summary(e)
                  or (keys.message(e), keys.recipient(e)) not in detailed]
    merged.sort(key=_place)
    return merged


def _completed(e: TraceEvent, summary: TraceEvent | None) -> TraceEvent:
    """A detailed event given what only the dropped summary record of its message+recipient
    holds: the sender, and for a delivery attempt whose reason names no address (a Fail
    detail's `{IP=}` is often empty) the summary's target."""
    if summary is None:
        return e
    changes = {}
    if not e.sender and summary.sender:
        changes["sender"] = summary.sender
    if (e.event in _ATTEMPTS and not e.target_ip and summary.target_ip
            and (e.reason is None or not e.reason.target_ip)):
        changes["target_ip"] = summary.target_ip
    return replace(e, **changes) if changes else e

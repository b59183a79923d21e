"""What the message trace says on its own, per delivery target: the `trace summary` numbers.

An admin's first questions are how much mail is stuck, since when, toward which host, with
which errors, and whether it is getting better or worse hour by hour. This groups attempts
by target (IP, else host name), follows each message+recipient to its latest state, and counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..model.trace import TraceEvent
from .facts import failure_class

DELIVERED, DEFERRED, FAILED, PENDING = "delivered", "deferred", "failed", "pending"
_ATTEMPTS = {"send", "defer", "fail"}
_SUCCESS = {"send", "deliver"}
_STATUS = {"delivered": DELIVERED, "failed": FAILED, "pending": PENDING,
           "gettingstatus": PENDING, "deferred": PENDING}


@dataclass
class Stuck:
    """A message+recipient that waited: how long, and where it stands."""

    message_id: str
    recipient: str
    first_defer: datetime
    until: datetime
    state: str
    attempts: int

    @property
    def waited(self) -> timedelta:
        return self.until - self.first_defer


@dataclass
class TargetSummary:
    """All attempts toward one on-premises (or other) target."""

    ip: str | None
    fqdn: str | None
    messages: Counter[str] = field(default_factory=Counter)  # state → message+recipient count
    attempts: int = 0
    defers: int = 0
    first_defer: datetime | None = None
    last_defer: datetime | None = None
    errors: Counter[str] = field(default_factory=Counter)  # "4.4.316 refused" → count
    stuck: list[Stuck] = field(default_factory=list)  # longest first, at most 10
    hourly: dict[datetime, Counter[str]] = field(default_factory=dict)  # hour → event counts

    @property
    def deferred_share(self) -> float:
        return self.defers / self.attempts if self.attempts else 0.0


def _target(e: TraceEvent) -> tuple[str | None, str | None]:
    if e.reason:
        return e.reason.target_ip or e.target_ip, e.reason.target_host or e.target_fqdn
    return e.target_ip, e.target_fqdn


def _error_label(e: TraceEvent) -> str:
    r = e.reason
    code = " ".join(str(p) for p in (r.smtp_code, r.enhanced_code) if p) if r else ""
    socket = f" socket {r.socket_error}" if r and r.socket_error else ""
    return f"{code or 'unknown'} {failure_class(e)}{socket}".strip()


def _state(events: list[TraceEvent]) -> str:
    kinds = {e.event for e in events}
    if kinds & _SUCCESS:
        return DELIVERED
    if "fail" in kinds:
        return FAILED
    statuses = [e.status for e in events if e.status]
    if not kinds & _ATTEMPTS and statuses:
        return _STATUS.get(statuses[-1].lower().replace(" ", ""), PENDING)
    return PENDING


def summarise(events: list[TraceEvent]) -> list[TargetSummary]:
    """Per target, busiest first.

    An event without a target counts toward the latest target of its message+recipient: a
    detail export's Send after the Defers names none, and without it a delivered message would
    read as still pending. Events of a message+recipient that never names one are left out."""
    targets = [(e, *_target(e)) for e in events]
    known: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for e, ip, fqdn in sorted(targets, key=lambda x: x[0].time_utc):
        if ip or fqdn:
            known[(e.message_id, e.recipient)] = (ip, fqdn)
    by_target: dict[str, list[TraceEvent]] = defaultdict(list)
    labels: dict[str, tuple[str | None, str | None]] = {}
    for e, ip, fqdn in targets:
        if not ip and not fqdn:
            ip, fqdn = known.get((e.message_id, e.recipient), (None, None))
            if not ip and not fqdn:
                continue
        key = ip or fqdn.lower()  # type: ignore[union-attr]
        by_target[key].append(e)
        old = labels.get(key, (None, None))
        labels[key] = (ip or old[0], old[1] or fqdn)
    end_of_trace = max((e.time_utc for e in events), default=None)
    return sorted((_one(labels[k], evs, end_of_trace) for k, evs in by_target.items()),
                  key=lambda s: -s.attempts)


def _one(label: tuple[str | None, str | None], events: list[TraceEvent],
         end_of_trace: datetime | None) -> TargetSummary:
    s = TargetSummary(*label)
    per_message: dict[tuple[str, str], list[TraceEvent]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e.time_utc):
        per_message[(e.message_id, e.recipient)].append(e)
        if e.event in _ATTEMPTS:
            s.attempts += 1
            hour = e.time_utc.replace(minute=0, second=0, microsecond=0)
            s.hourly.setdefault(hour, Counter())[e.event] += 1
        if e.event in ("defer", "fail"):
            s.errors[_error_label(e)] += 1
        if e.event == "defer":
            s.defers += 1
            s.first_defer = s.first_defer or e.time_utc  # events are in time order
            s.last_defer = e.time_utc
    for (message_id, recipient), evs in per_message.items():
        state = _state(evs)
        s.messages[state] += 1
        defers = [e for e in evs if e.event == "defer"]
        if defers:
            s.messages[DEFERRED] += 1
            until = next((e.time_utc for e in evs if e.event in _SUCCESS | {"fail"}),
                         end_of_trace or defers[-1].time_utc)
            s.stuck.append(Stuck(message_id, recipient, defers[0].time_utc, until, state,
                                 sum(1 for e in evs if e.event in _ATTEMPTS)))
    s.stuck = sorted(s.stuck, key=lambda x: x.waited, reverse=True)[:10]
    s.hourly = dict(sorted(s.hourly.items()))
    return s

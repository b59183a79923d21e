"""Which message-tracking events belong to which SMTP receive session, and back.

A RECEIVE event with source SMTP names, in its source-context, the protocol-log session that
received the message: `<session-id>;<time>;<n>` (formats.md §1.4, §2). The message's other
events on that server share its internal-message-id and Message-ID, so they follow it. When the
source-context holds no session id, the session is the one from the event's client IP to the
event's server whose span covers the event's time, give or take SLACK; such matches are kept
apart as guessed, because a busy sender can have several sessions open at once.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ...model.exchange import SmtpSession
from ...model.tracking import TrackingEvent

SLACK = timedelta(seconds=5)  # tracking and protocol log are written at slightly different times

_SESSION_ID = re.compile(r"[0-9A-Fa-f]{16}")


@dataclass
class SessionJoin:
    """Tracking events by receive session (every session given, maybe with none), and back."""

    events: dict[SmtpSession, list[TrackingEvent]] = field(default_factory=dict)
    session_of: dict[TrackingEvent, SmtpSession] = field(default_factory=dict)
    guessed: set[TrackingEvent] = field(default_factory=set)  # RECEIVEs matched by IP and time


def session_id_of(event: TrackingEvent) -> str | None:
    """The protocol-log session id (upper case) in an SMTP RECEIVE event's source-context."""
    if not _smtp_receive(event) or not event.source_context:
        return None
    first = event.source_context.split(";", 1)[0].strip()
    return first.upper() if _SESSION_ID.fullmatch(first) else None


def join_sessions(sessions: Iterable[SmtpSession],
                  events: Iterable[TrackingEvent]) -> SessionJoin:
    """Match SMTP RECEIVE events to receive sessions, then give each session its messages' events.

    By session id when the event carries one (and the servers agree when both are named);
    otherwise by client IP, server and time. Events of messages received in no known session
    are left out.
    """
    receive = [s for s in sessions if s.log_type == "receive"]
    by_id: dict[str, list[SmtpSession]] = defaultdict(list)
    by_ip: dict[str, list[SmtpSession]] = defaultdict(list)
    for session in receive:
        by_id[session.session_id.upper()].append(session)
        by_ip[session.remote_ip].append(session)
    timelines = {ip: _Timeline(group) for ip, group in by_ip.items()}
    ordered = sorted(events, key=lambda e: e.time_utc)
    join = SessionJoin(events={s: [] for s in receive})
    entered: dict[tuple[str, str | None], SmtpSession] = {}
    for event in ordered:
        if not _smtp_receive(event):
            continue
        session_id = session_id_of(event)
        if session_id is not None:
            session = _closest(by_id.get(session_id, ()), event, None)
        else:
            timeline = timelines.get(event.client_ip or "")
            session = _closest(timeline.around(event.time_utc), event, SLACK) if timeline else None
            if session is not None:
                join.guessed.add(event)
        if session is not None:
            join.session_of[event] = session
            if event.internal_message_id:
                entered[(event.internal_message_id, event.message_id)] = session
    for event in ordered:
        session = join.session_of.get(event)
        if session is None and event.internal_message_id and not _smtp_receive(event):
            session = entered.get((event.internal_message_id, event.message_id))
            if session is not None:
                join.session_of[event] = session
        if session is not None:
            join.events[session].append(event)
    return join


def _smtp_receive(event: TrackingEvent) -> bool:
    """Events that stand for one SMTP receipt: each is matched on its own, never inherited."""
    return event.event_id == "RECEIVE" and event.source == "SMTP"


def _server(name: str | None) -> str | None:
    """Short host name: protocol logs name the server `EXCHANGE`, tracking logs may add a domain."""
    return name.split(".", 1)[0].lower() if name else None


def _distance(session: SmtpSession, when: datetime) -> timedelta:
    if when < session.start:
        return session.start - when
    return max(when - session.end, timedelta(0))


def _closest(candidates: Iterable[SmtpSession], event: TrackingEvent,
             within: timedelta | None) -> SmtpSession | None:
    """The candidate on the event's server nearest its time (and within `within`, if given)."""
    server = _server(event.server_hostname)
    best: tuple[timedelta, SmtpSession] | None = None
    for session in candidates:
        own = _server(session.server)
        if server and own and server != own:
            continue
        gap = _distance(session, event.time_utc)
        if (within is None or gap <= within) and (best is None or gap < best[0]):
            best = gap, session
    return best[1] if best else None


class _Timeline:
    """One client's sessions by start time, to find those near a moment without a full scan."""

    def __init__(self, sessions: list[SmtpSession]) -> None:
        self._sessions = sorted(sessions, key=lambda s: s.start)
        self._starts = [s.start for s in self._sessions]
        self._longest = max((s.end - s.start for s in sessions), default=timedelta(0))

    def around(self, when: datetime) -> Sequence[SmtpSession]:
        """Sessions that may come within SLACK of `when` (a superset; `_closest` decides)."""
        last = bisect_right(self._starts, when + SLACK)
        first = bisect_left(self._starts, when - SLACK - self._longest)
        return self._sessions[first:last]

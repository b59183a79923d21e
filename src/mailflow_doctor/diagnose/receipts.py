"""Did the messages EOP deferred reach Exchange in the end? The on-premises tracking logs say.

An SMTP RECEIVE of the same Message-ID after its first defer means a later attempt got through:
the block is partial (other EOP servers got in) or was lifted, and the first receipt says when.
The trace alone cannot tell that from "still queued" until the message expires. Each receipt
names the address that delivered it and, when the receive logs hold it, the protocol-log session:
the one the RECEIVE's source-context names, or else the one from that address to that server at
that time, marked as matched so (evidence/exchange/tracking_join.py: a busy sender can have
several sessions open at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..evidence.exchange.tracking_join import join_sessions
from ..model import Location
from ..model.exchange import SmtpSession
from ..model.trace import TraceEvent
from ..model.tracking import TrackingEvent, message_key


@dataclass(frozen=True)
class Receipt:
    message_id: str
    first_defer: datetime
    received: datetime
    server: str | None
    location: Location
    source_ip: str | None = None  # the client that delivered it: an EOP server
    session: SmtpSession | None = None  # its receive session, when the logs hold it
    session_guessed: bool = False  # matched by address and time, not by source-context


@dataclass(frozen=True)
class Receipts:
    deferred: int  # distinct messages EOP deferred to the target
    received: tuple[Receipt, ...]  # those received on-premises after their first defer

    def as_dict(self, shown: int = 10) -> dict:
        return {"deferred_messages": self.deferred, "received_later": len(self.received),
                "examples": [{"message_id": r.message_id,
                              "first_defer": r.first_defer.isoformat(),
                              "received": r.received.isoformat(), "server": r.server,
                              "location": str(r.location), "source_ip": r.source_ip,
                              "session_id": r.session.session_id if r.session else None,
                              "session_location": str(r.session.location) if r.session
                              else None,
                              "session_matched_by": None if r.session is None else
                              "address and time" if r.session_guessed else "source-context"}
                             for r in self.received[:shown]]}


def receipts(defers: list[TraceEvent], tracking: list[TrackingEvent],
             sessions: Iterable[SmtpSession] = ()) -> Receipts:
    first: dict[str, TraceEvent] = {}
    for e in defers:
        key = message_key(e.message_id)
        if key not in first or e.time_utc < first[key].time_utc:
            first[key] = e
    got: dict[str, TrackingEvent] = {}
    for t in tracking:
        key = message_key(t.message_id)
        if (t.event_id == "RECEIVE" and t.source == "SMTP" and key in first
                and t.time_utc >= first[key].time_utc
                and (key not in got or t.time_utc < got[key].time_utc)):
            got[key] = t
    join = join_sessions(sessions, got.values())
    found = sorted((Receipt(first[k].message_id, first[k].time_utc, t.time_utc,
                            t.server_hostname, t.location, t.client_ip, join.session_of.get(t),
                            t in join.guessed)
                    for k, t in got.items()), key=lambda r: r.received)
    return Receipts(len(first), tuple(found))

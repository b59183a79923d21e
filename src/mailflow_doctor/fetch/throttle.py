"""Staying inside Graph's message-trace throttling: a client-side request budget, and how long
to wait when the service says so.

Message trace allows 100 requests per rolling 5 minutes per tenant, list and detail calls
together; spending the budget ourselves is cheaper than collecting 429s. Clock and sleep are
injectable so tests run without waiting.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

BUDGET, BUDGET_SECONDS = 100, 300.0
MAX_WAIT = 300.0  # never sleep longer than this for one Retry-After
DEFAULT_WAIT = 5.0  # a 429 without a readable Retry-After


@dataclass
class Budget:
    """At most `limit` requests in any rolling `seconds`; waits (with `sleep`) when spent."""

    limit: int = BUDGET
    seconds: float = BUDGET_SECONDS
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    sent: deque[float] = field(default_factory=deque)

    def take(self) -> None:
        now = self.clock()
        while self.sent and now - self.sent[0] >= self.seconds:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            self.sleep(self.seconds - (now - self.sent[0]))
            self.sent.popleft()
            now = self.clock()
        self.sent.append(now)


def retry_after(value: str | None, now: datetime | None = None,
                default: float = DEFAULT_WAIT) -> float:
    """Seconds to wait for a Retry-After header (delta-seconds or an HTTP date), clamped to
    [0, MAX_WAIT] so a hostile or broken header can neither stall us nor crash sleep()."""
    text = (value or "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return default
    return min(max(seconds, 0.0), MAX_WAIT)

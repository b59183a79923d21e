"""Microsoft Graph message trace: list the traces of a time range, then the details of every
message still pending or failed, into one file `diagnose` reads (json_export.FETCH_SCHEMA).

Graph allows windows of at most 10 days within the last 90, pages with @odata.nextLink, and
100 requests per 5 minutes per tenant; 429 answers carry Retry-After. All of that is honoured
here, every request has a timeout and every loop a bound, and the token is never logged.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import httpx

from ..evidence.trace.json_export import FETCH_SCHEMA
from .auth import TokenProvider

GRAPH = "https://graph.microsoft.com/v1.0"
WINDOW = timedelta(days=10)
HISTORY = timedelta(days=90)
BUDGET, BUDGET_SECONDS = 100, 300.0
MAX_PAGES, MAX_RETRIES, MAX_WAIT = 1000, 5, 300.0
DETAIL_STATUSES = {"pending", "failed", "deferred"}

Progress = Callable[[int, int | None, str], None]  # done, total (None: unknown), what


class FetchError(Exception):
    """The fetch cannot go on; the message names the cause and never holds a secret."""


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


def windows(start: datetime, end: datetime, now: datetime | None = None
            ) -> list[tuple[datetime, datetime]]:
    """Split [start, end] into Graph-sized windows; refuse what Graph keeps no longer."""
    now = now or datetime.now(UTC)
    if end <= start:
        raise FetchError("the end of the time range must be after its start")
    if start < now - HISTORY:
        raise FetchError(f"message trace keeps 90 days; {start:%Y-%m-%d} is older")
    out = []
    while start < end:
        out.append((start, min(start + WINDOW, end)))
        start += WINDOW
    return out


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return min(float(value), MAX_WAIT)
    except ValueError:
        pass
    try:
        delta = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        return min(max(delta, 0.0), MAX_WAIT)
    except (TypeError, ValueError):
        return 5.0


@dataclass
class GraphClient:
    http: httpx.Client
    token: TokenProvider
    base: str = GRAPH
    budget: Budget = field(default_factory=Budget)
    sleep: Callable[[float], None] = time.sleep

    def get(self, url: str) -> dict:
        """One GET with throttling, retries and a single token refresh on 401."""
        refreshed = False
        bearer = self.token(False)
        for attempt in range(MAX_RETRIES + 1):
            self.budget.take()
            try:
                r = self.http.get(url, headers={"Authorization": f"Bearer {bearer}"})
            except httpx.HTTPError as exc:
                raise FetchError(f"{_path(url)}: {type(exc).__name__}") from None
            if r.status_code == 401 and not refreshed:
                refreshed, bearer = True, self.token(True)
                continue
            if r.status_code in (429, 503, 504) and attempt < MAX_RETRIES:
                self.sleep(_retry_after(r) if r.status_code == 429 else 2.0 ** attempt)
                continue
            if r.status_code == 401:
                raise FetchError("authentication failed: Graph refused the token (401)")
            if r.status_code == 403:
                raise FetchError("access denied (403): the app needs the "
                                 "ExchangeMessageTrace.Read.All permission, admin-consented")
            if r.status_code >= 400:
                raise FetchError(f"{_path(url)}: HTTP {r.status_code}")
            try:
                body = r.json()
            except ValueError:
                raise FetchError(f"{_path(url)}: the response is not JSON") from None
            if not isinstance(body, dict):
                raise FetchError(f"{_path(url)}: unexpected response shape")
            return body
        raise FetchError(f"{_path(url)}: still throttled after {MAX_RETRIES} retries")

    def pages(self, url: str) -> list[dict]:
        items: list[dict] = []
        for _ in range(MAX_PAGES):
            body = self.get(url)
            value = body.get("value")
            if not isinstance(value, list):
                raise FetchError(f"{_path(url)}: response without a value list")
            items += [v for v in value if isinstance(v, dict)]
            url = body.get("@odata.nextLink") or ""
            if not url:
                return items
        raise FetchError(f"more than {MAX_PAGES} pages; narrow the time range")


def _path(url: str) -> str:
    return url.split("?", 1)[0]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_traces(client: GraphClient, tenant: str, start: datetime, end: datetime,
                 recipient_domain: str | None = None, statuses: set[str] | None = None,
                 page_size: int = 5000, progress: Progress | None = None,
                 now: datetime | None = None) -> dict:
    """Traces of [start, end] (filtered client-side by recipient domain and status) and the
    details of each pending or failed one, as the FETCH_SCHEMA document."""
    note = progress or (lambda done, total, what: None)
    traces: list[dict] = []
    spans = windows(start, end, now)
    for n, (a, b) in enumerate(spans, 1):
        query = quote(f"receivedDateTime ge {_iso(a)} and receivedDateTime le {_iso(b)}")
        traces += client.pages(f"{client.base}/admin/exchange/tracing/messageTraces"
                               f"?$filter={query}&$top={page_size}")
        note(n, len(spans), "trace windows")
    if recipient_domain:
        suffix = "@" + recipient_domain.lower().lstrip("@")
        traces = [t for t in traces if str(t.get("recipientAddress", "")).lower().endswith(
            suffix)]
    if statuses:
        traces = [t for t in traces if str(t.get("status", "")).lower() in statuses]
    wanted = [t for t in traces if str(t.get("status", "")).lower() in DETAIL_STATUSES]
    details: dict[str, dict] = {}
    for n, t in enumerate(wanted, 1):
        address = str(t.get("recipientAddress", "")).replace("'", "''")
        url = (f"{client.base}/admin/exchange/tracing/messageTraces/{quote(str(t.get('id')))}"
               f"/getDetailsByRecipient(recipientAddress='{quote(address)}')")
        details[str(t.get("id"))] = {"recipientAddress": t.get("recipientAddress"),
                                     "value": client.pages(url)}
        note(n, len(wanted), "message details")
    return {"schema": FETCH_SCHEMA, "fetched_at": _iso(datetime.now(UTC)), "tenant": tenant,
            "window": {"start": _iso(start), "end": _iso(end)}, "traces": traces,
            "details": details}


def write_fetch(result: dict, path: Path) -> None:
    """Write atomically: a half-written evidence file would mislead a later diagnosis."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=".fetch-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Microsoft Graph message trace: list the traces of a time range, then the details of every
message still pending or failed, into one file `diagnose` reads (evidence.trace.graph.FETCH_SCHEMA).

Graph allows windows of at most 10 days within the last 90, pages with @odata.nextLink, and
100 requests per 5 minutes per tenant; 429 answers carry Retry-After. All of that is honoured
here, every request has a timeout and every loop a bound, and the token is never logged nor
sent to any host but the Graph base URL's.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from ..evidence.trace.graph import FETCH_SCHEMA
from .auth import TokenProvider
from .throttle import Budget, retry_after

__all__ = ["GRAPH", "Budget", "FetchError", "GraphClient", "Progress", "fetch_traces",
           "windows", "write_fetch"]

GRAPH = "https://graph.microsoft.com/v1.0"
TRACES = "/admin/exchange/tracing/messageTraces"
WINDOW = timedelta(days=10)
HISTORY = timedelta(days=90)
GRACE = timedelta(minutes=10)  # `--since 90d` is computed a moment before we check it
MARGIN = timedelta(minutes=5)  # ... and then asked for this much later than 90 days back
MAX_PAGES, MAX_RETRIES, TIMEOUT, MAX_TOP = 1000, 5, 30.0, 5000
RETRIED = {502, 503, 504}
DETAIL_STATUSES = {"pending", "failed", "deferred"}
# exchangeMessageTrace.status values that $filter accepts (`eq`), by their lower-case form;
# `recalled` needs an extra Prefer header, so it is filtered on our side like unknown words.
GRAPH_STATUSES = {s.lower(): s for s in ("gettingStatus", "pending", "failed", "delivered",
                                         "expanded", "quarantined", "filteredAsSpam")}

Progress = Callable[[int, int | None, str], None]  # done, total (None: unknown), what


class FetchError(Exception):
    """The fetch cannot go on; the message names the cause and never holds a secret."""


def windows(start: datetime, end: datetime, now: datetime | None = None
            ) -> list[tuple[datetime, datetime]]:
    """Split [start, end] into Graph-sized windows, oldest first; refuse what Graph keeps no
    longer. The end is cut at `now` (Graph refuses later ones); a start at most GRACE beyond
    90 days is moved just inside them rather than refused."""
    now = _utc(now or datetime.now(UTC))
    start, end = _utc(start), _utc(end)
    oldest = now - HISTORY
    if start < oldest - GRACE:
        raise FetchError(f"message trace keeps 90 days: {_iso(start)} is older than "
                         f"{_iso(oldest)}; choose a later start or a shorter --since")
    start, end = max(start, oldest + MARGIN).replace(microsecond=0), min(end, now)
    if end <= start:
        raise FetchError("the time range is empty: its end must be after its start "
                         "and its start in the past")
    out = []
    while start < end:
        out.append((start, min(start + WINDOW, end)))
        start += WINDOW
    return out


@dataclass
class GraphClient:
    """GETs against Graph with the budget, retries, one token refresh and clean errors."""

    http: httpx.Client
    token: TokenProvider
    base: str = GRAPH
    budget: Budget = field(default_factory=Budget)
    sleep: Callable[[float], None] = time.sleep
    timeout: float = TIMEOUT
    max_retries: int = MAX_RETRIES

    def get(self, url: str) -> dict:
        """One GET: 429 waits for Retry-After, 502/503/504 and network errors back off, both
        at most `max_retries` times; a 401 gets one fresh token, then fails."""
        refreshed, retries = False, 0
        bearer = self.token(False)
        while True:
            self.budget.take()
            try:
                r = self.http.get(url, headers={"Authorization": f"Bearer {bearer}",
                                                "Accept": "application/json"},
                                  timeout=self.timeout)
            except httpx.TransportError as exc:  # timeout, refused, reset, TLS
                if retries >= self.max_retries:
                    raise FetchError(f"{_path(url)}: {type(exc).__name__} "
                                     f"({retries + 1} attempts)") from None
                self.sleep(2.0 ** retries)
                retries += 1
                continue
            except httpx.HTTPError as exc:
                raise FetchError(f"{_path(url)}: {type(exc).__name__}") from None
            status = r.status_code
            if status == 401 and not refreshed:
                refreshed, bearer = True, self.token(True)
                continue
            if (status == 429 or status in RETRIED) and retries < self.max_retries:
                header = r.headers.get("Retry-After")
                self.sleep(retry_after(header) if status == 429 or header
                           else 2.0 ** retries)
                retries += 1
                continue
            if status >= 400:
                raise FetchError(_http_error(url, r, retries))
            return _json(url, r)

    def pages(self, url: str, on_page: Callable[[int], None] | None = None) -> list[dict]:
        """All items of a collection, following @odata.nextLink (on Graph's host only);
        `on_page(items so far)` after each page."""
        items: list[dict] = []
        for _ in range(MAX_PAGES):
            body = self.get(url)
            value = body.get("value")
            if not isinstance(value, list):
                raise FetchError(f"{_path(url)}: response without a value list")
            items += [v for v in value if isinstance(v, dict)]
            if on_page is not None:
                on_page(len(items))
            link = body.get("@odata.nextLink")
            if not link:
                return items
            if not isinstance(link, str) or _origin(link) != _origin(self.base):
                raise FetchError(f"{_path(url)}: @odata.nextLink leads away from "
                                 f"{_origin(self.base)}; not following it with our token")
            if link == url:
                raise FetchError(f"{_path(url)}: @odata.nextLink points to the same page")
            url = link
        raise FetchError(f"more than {MAX_PAGES} pages; narrow the time range")


def _http_error(url: str, r: httpx.Response, retries: int) -> str:
    code = f"{r.status_code}{_graph_error(r)}"
    if r.status_code == 401:
        return f"authentication failed: Graph refused the token twice ({code})"
    if r.status_code == 403:
        return (f"access denied ({code}): the app (or signed-in admin) needs the "
                f"ExchangeMessageTrace.Read.All permission with admin consent")
    if r.status_code == 429 or r.status_code in RETRIED:
        return f"{_path(url)}: HTTP {code} after {retries} retries; try again later"
    return f"{_path(url)}: HTTP {code}"


def _graph_error(r: httpx.Response) -> str:
    """` code: message` from Graph's error body, one short line, or nothing."""
    try:
        error = r.json().get("error")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(error, dict):
        return ""
    text = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
    return f" {' '.join(text.split())[:200]}" if text else ""


def _json(url: str, r: httpx.Response) -> dict:
    try:
        body = r.json()
    except ValueError:  # also bad UTF-8
        raise FetchError(f"{_path(url)}: the response is not JSON "
                         f"(HTTP {r.status_code}, {len(r.content)} bytes)") from None
    if not isinstance(body, dict):
        raise FetchError(f"{_path(url)}: unexpected response shape (not a JSON object)")
    return body


def _path(url: str) -> str:
    """The URL's path only: queries and fragments stay out of messages."""
    return urlsplit(url).path or url.split("?", 1)[0]


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _utc(t: datetime) -> datetime:
    """Naive times are taken as UTC, like every time Graph gives."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _lower(record: dict, key: str) -> str:
    value = record.get(key)
    return value.lower() if isinstance(value, str) else ""


def fetch_traces(client: GraphClient, tenant: str, start: datetime, end: datetime,
                 recipient_domain: str | None = None, statuses: set[str] | None = None,
                 page_size: int = MAX_TOP, progress: Progress | None = None,
                 now: datetime | None = None, max_details: int | None = None) -> dict:
    """Traces of [start, end] and the details of each pending, failed or deferred message,
    as the FETCH_SCHEMA document.

    Filters: recipientAddress supports only `eq` in $filter, so the recipient domain is
    matched here, after listing. `status eq '…'` is documented, so statuses Graph knows are
    asked for server-side (one query per status: `or` is not documented) and checked again
    here; any other word (e.g. `deferred`) lists everything and filters here.
    Details: the file keys them by trace id, so a message with several pending recipients
    gets the details of its first one (they share the route). `max_details` keeps the most
    recent ones when the 100-requests-per-5-minutes budget would make the fetch too long."""
    if not 1 <= page_size <= MAX_TOP:
        raise FetchError(f"page size must be 1–{MAX_TOP}")
    note = progress or (lambda done, total, what: None)
    wanted_status = {s.strip().lower() for s in statuses or () if s.strip()}
    spans = windows(start, end, now)
    server_side = bool(wanted_status) and wanted_status <= GRAPH_STATUSES.keys()
    extra = [f" and status eq '{GRAPH_STATUSES[s]}'" for s in sorted(wanted_status)] \
        if server_side else [""]
    traces: list[dict] = []
    seen: set[tuple[str, str]] = set()
    total = len(spans) * len(extra)
    for n, ((a, b), clause) in enumerate(((s, c) for s in spans for c in extra), 1):
        query = quote(f"receivedDateTime ge {_iso(a)} and receivedDateTime le {_iso(b)}"
                      f"{clause}", safe="")
        # A window of a busy tenant runs to many pages: the count moves with each of them.
        listed = len(traces)
        for t in client.pages(f"{client.base}{TRACES}?$filter={query}&$top={page_size}",
                              lambda n, before=listed: note(before + n, None, "traces listed")):
            key = (str(t.get("id")), _lower(t, "recipientAddress"))
            if key not in seen:  # windows share their boundary second
                seen.add(key)
                traces.append(t)
        note(n, total, "trace queries")
    if recipient_domain:
        suffix = "@" + recipient_domain.strip().lower().lstrip("@")
        traces = [t for t in traces if _lower(t, "recipientAddress").endswith(suffix)]
    if wanted_status:
        traces = [t for t in traces if _lower(t, "status") in wanted_status]
    details = _details(client, traces, max_details, note)
    return {"schema": FETCH_SCHEMA, "fetched_at": _iso(datetime.now(UTC)), "tenant": tenant,
            "window": {"start": _iso(spans[0][0]), "end": _iso(spans[-1][1])},
            "traces": traces, "details": details}


def _details(client: GraphClient, traces: list[dict], limit: int | None,
             note: Progress) -> dict[str, dict]:
    first: dict[str, dict] = {}
    for t in traces:
        tid, address = t.get("id"), t.get("recipientAddress")
        if _lower(t, "status") in DETAIL_STATUSES and isinstance(tid, str) and tid \
                and isinstance(address, str) and address and tid not in first:
            first[tid] = t
    wanted = list(first.values())
    if limit is not None and len(wanted) > limit:
        wanted = sorted(wanted, key=lambda t: str(t.get("receivedDateTime", "")),
                        reverse=True)[:max(limit, 0)]
    details: dict[str, dict] = {}
    for n, t in enumerate(wanted, 1):
        details[t["id"]] = {"recipientAddress": t["recipientAddress"],
                            "value": client.pages(detail_url(client.base, t["id"],
                                                             t["recipientAddress"]))}
        note(n, len(wanted), "message details")
    return details


def detail_url(base: str, trace_id: str, address: str) -> str:
    """getDetailsByRecipient(recipientAddress='…'): OData doubles a quote inside a string
    literal; everything else unsafe in a path is percent-encoded (the id fully, so it cannot
    add path segments)."""
    literal = quote(address.replace("'", "''"), safe="@+'")
    return (f"{base}{TRACES}/{quote(trace_id, safe='')}"
            f"/getDetailsByRecipient(recipientAddress='{literal}')")


def write_fetch(result: dict, path: Path) -> None:
    """Write atomically: a half-written evidence file would mislead a later diagnosis. The
    file is readable by its owner only (mkstemp's mode): traces name people and subjects."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fetch-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

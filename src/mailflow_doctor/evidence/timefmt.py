"""Timestamps as Exchange and Exchange Online write them, read as UTC.

Message-trace exports and reason strings carry times in the US culture of the service
(`3/16/2017 4:59:18 PM`), in ISO 8601 (`2023-03-07T18:46:06.378Z`) or, from exports made on a
non-US machine, in 24-hour day-first form (`16/03/2017 16:59:18`, `16.03.2017 16:59:18`), or
PowerShell JSON's `/Date(ms)/`. They are all UTC, so a time without an offset is taken as UTC.
Unreadable text gives None, never an exception: a bad time costs one record, not the file.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache

UTC = timezone.utc

_MS_DATE = re.compile(r"\\?/Date\((-?\d+)(?:[+-]\d{4})?\)\\?/")
_NUMERIC = re.compile(
    r"(\d{1,2})([/.])(\d{1,2})\2(\d{4})[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,7}))?)?"
    r"\s*([AaPp][Mm])?(?:\s*(?:Z|UTC|GMT))?"
)


def _build(year: int, month: int, day: int, hour: int, minute: int, second: int,
           frac: str | None) -> datetime | None:
    micro = int((frac + "000000")[:6]) if frac else 0
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        return None


def _numeric(m: re.Match[str]) -> datetime | None:
    first, sep, second_, year, hh, mm, ss, frac, ampm = m.groups()
    a, b, y = int(first), int(second_), int(year)
    hour, minute, sec = int(hh), int(mm), int(ss or 0)
    if ampm:
        # A 12-hour clock means US culture: month first.
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm in ("PM", "pm", "Pm", "pM") else 0)
        return _build(y, a, b, hour, minute, sec, frac)
    if sep == ".":
        return _build(y, b, a, hour, minute, sec, frac)
    # 24-hour slash dates come from day-first cultures; fall back to month-first when the
    # first number cannot be a day-first reading (e.g. `3/16/2017 16:59:18`).
    return _build(y, b, a, hour, minute, sec, frac) or _build(y, a, b, hour, minute, sec, frac)


def slash_order(value: str) -> str | None:
    """For a 24-hour slash date, which order can read it: `day-first`, `month-first`, or
    `either` (day and month both 12 or less, read day-first); None for any other form."""
    m = _NUMERIC.fullmatch(value.strip())
    if m is None or m.group(2) != "/" or m.group(9):
        return None
    first, second = int(m.group(1)), int(m.group(3))
    if second > 12:
        return "month-first" if first <= 12 else None
    return "day-first" if first > 12 else "either"


def parse_time(value: str | None) -> datetime | None:
    """A UTC-aware datetime from any of the forms above, or None when it cannot be read."""
    if not value or not isinstance(value, str):
        return None
    if value[-1:] == "Z" and value[10:11] == "T" and len(value) <= 64:
        # The exports' own form, one distinct value per row of a large report: parsing it
        # costs less than a cache miss. Anything unusual goes the cached way below.
        try:
            return datetime.fromisoformat(value)  # `Z` reads as UTC
        except ValueError:
            pass
    return _parse_cached(value)


@lru_cache(maxsize=4096)
def _parse_cached(value: str) -> datetime | None:
    # Retry times and export dates repeat a lot within one file; datetimes are immutable.
    s = value.strip()
    if not s or len(s) > 64:
        return None
    if len(s) >= 19 and s[4] == "-" and s[10] == "T":  # ISO 8601, the common case: fast path
        try:
            dt = datetime.fromisoformat(s)
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        except (ValueError, OverflowError):
            pass  # fall through to the other forms (e.g. 7-digit fractions)
    if m := _MS_DATE.fullmatch(s):  # PowerShell ConvertTo-Json: /Date(1700000000000)/
        try:
            return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    m = _NUMERIC.fullmatch(s)
    if m:
        return _numeric(m)
    if not s[:4].isdigit() or len(s) < 10:
        return None
    try:
        dt = datetime.fromisoformat(s)
    except (ValueError, TypeError):
        return None
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None

"""The shortcuts of the extended-report reader must not change what it reads.

The trace CSV table splits quote-free lines itself; it must read exactly what csv.reader reads.
The reference below is the plain way: every line through csv.reader, records numbered by the
reader's line count, csv errors reported at the record's first line. Also: the cycle collector
comes back as it was, and events filled field by field are whole.
"""

from __future__ import annotations

import csv
import gc
import io
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from casegen import extended_csv, extended_row, led
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence._records import cycle_collection_paused, draft_of
from mailflow_doctor.evidence.trace import extended_csv as extended_reader
from mailflow_doctor.evidence.trace._csvtable import Table
from mailflow_doctor.model import InputProblem, Location
from mailflow_doctor.model.trace import TraceEvent

PIECES = st.sampled_from(["a", "b c", ",", ",,", '"', '""', '"x,y"', "\n", "\r\n", "\r", " ",
                          "\t", "\x00", "\x0c", "\x85", "\u2028", "é", "\ufeff", "\ufffd"])
TEXT = st.lists(PIECES, max_size=60).map("".join)


def reference(lines: list[str]) -> tuple[list[tuple[list[str], int, str]], list[InputProblem]]:
    taken: list[str] = []

    def tap():
        for line in lines:
            taken.append(line)
            yield line

    reader = csv.reader(tap())
    records, problems = [], []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return records, problems
        except csv.Error as exc:
            taken.clear()
            problems.append(InputProblem(Location("t.csv", start), f"unreadable CSV record: {exc}"))
            continue
        records.append((row, start, "".join(taken)))
        taken.clear()


def read(text: str) -> tuple[list[tuple[list[str], int, str]], list[InputProblem]]:
    """What the table reads after its one-column header line."""
    table = Table("t.csv", iter(io.StringIO("h\n" + text, newline="")))
    assert table.columns == ["h"]
    records = [(cells, line - 1, raw) for cells, line, raw in table._physical_rows()]
    return records, [InputProblem(Location(p.location.source, p.location.line - 1), p.message)
                     for p in table.problems]


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_lines_read_as_csv_reader_reads_them(text: str) -> None:
    assert read(text) == reference(list(io.StringIO(text, newline="")))


@given(st.lists(st.lists(st.text(max_size=8), max_size=6), max_size=8))
def test_written_csv_reads_back(rows: list[list[str]]) -> None:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    text = out.getvalue()
    assert read(text) == reference(list(io.StringIO(text, newline="")))


def test_over_long_field_is_still_an_error() -> None:
    old = csv.field_size_limit(10)
    try:
        text = "short,fields\nan over-long field,x\n"
        records, problems = read(text)
        assert (records, problems) == reference(list(io.StringIO(text, newline="")))
        assert [p.location.line for p in problems] == [2]
    finally:
        csv.field_size_limit(old)


def test_cycle_collector_comes_back_as_it_was() -> None:
    assert gc.isenabled()
    with pytest.raises(ValueError), cycle_collection_paused():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_extended_events_are_whole_trace_events(tmp_path) -> None:
    """The reader fills events field by field (extended_csv._EventDraft): none may be missed."""
    t = datetime(2026, 11, 23, 13, 41, tzinfo=UTC)
    path = tmp_path / "extended.csv"
    extended_csv(path, [
        extended_row(t, "RECEIVE", 1),
        extended_row(t, "DEFER", 2, source="104.47.1.1",
                     status=led("450 4.4.316", "Connection refused", 10061, "mail.example.net",
                                "192.0.2.25", t)),
    ])
    events = extended_reader.parse(path).records
    assert len(events) == 2
    for event in events:
        assert type(event) is TraceEvent
        assert TraceEvent(**{f.name: getattr(event, f.name) for f in fields(TraceEvent)}) == event


def test_drafts_become_records_equal_to_constructed_ones() -> None:
    """draft_of serves slots records (TraceEvent) and dict records (Location) alike."""
    when = datetime(2026, 11, 23, 13, 41, tzinfo=UTC)
    location = draft_of(Location)()
    location.source, location.line = "trace.csv", 7
    location.__class__ = Location
    assert location == Location("trace.csv", 7) and hash(location) == hash(Location("trace.csv", 7))
    built = TraceEvent(when, "<m@x>", "a@b", "defer", Location("trace.csv", 7))
    event = draft_of(TraceEvent)()
    for f in fields(TraceEvent):
        setattr(event, f.name, getattr(built, f.name))
    event.__class__ = TraceEvent
    assert event == built and repr(event) == repr(built)
    with pytest.raises(AttributeError):
        event.recipient = "c@d"  # frozen once it is the record

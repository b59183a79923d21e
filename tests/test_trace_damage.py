"""Every CSV trace reader on damaged copies of its own SYNTHETIC export: re-encoded, columns
shuffled, cut off mid-row. Same events where nothing was lost; a problem with file and line
where something was, and the rows before it kept."""

from __future__ import annotations

import csv
import io
import random

import pytest
from casegen import DETAIL_COLUMNS, EXTENDED_COLUMNS

from mailflow_doctor.evidence.trace import detail_csv, extended_csv, summary_csv

REASON = ("[{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
          "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=11/23/2026 1:41:34 PM}]")


def _table(columns, rows) -> list[list[str]]:
    return [list(columns)] + [[r.get(c, "") for c in columns] for r in rows]


def detail_rows():
    return _table(DETAIL_COLUMNS, [
        {"MessageId": f"<m{i}@x>", "MessageTraceId": f"t{i}", "RecipientAddress": f"u{i}@x",
         "SenderAddress": "a@x", "Date": f"11/23/2026 1:{i:02d}:00 PM",
         "Event": "Defer" if i % 2 else "Receive", "Detail": REASON if i % 2 else "ok",
         "Data": "<root><MEP Name=\"Connector\" String=\"c\"/></root>"} for i in range(12)])


def extended_rows():
    return _table(EXTENDED_COLUMNS, [
        {"date_time_utc": f"2026-11-23T13:{i:02d}:00.000Z", "event_id": "DEFER" if i % 2 else
         "SEND", "message_id": f"<m{i}@x>", "recipient_address": f"u{i}@x",
         "client_ip": f"104.47.1.{i}", "server_ip": "13.92.177.139",
         "server_hostname": "smtp.tailspintoys.ca", "recipient_status": REASON if i % 2 else
         "250 2.6.0 Queued mail for delivery", "sender_address": "a@x"} for i in range(12)])


def summary_rows():
    cols = ["Received", "SenderAddress", "RecipientAddress", "Subject", "Status", "ToIP",
            "FromIP", "Size", "MessageId", "MessageTraceId"]
    return _table(cols, [{"Received": f"2026-11-23T13:{i:02d}:00", "SenderAddress": "a@x",
                          "RecipientAddress": f"u{i}@x", "Status": "Pending", "MessageId":
                          f"<m{i}@x>", "ToIP": "13.92.177.139", "MessageTraceId": f"t{i}"}
                         for i in range(12)])


READERS = [(detail_csv, detail_rows), (extended_csv, extended_rows), (summary_csv, summary_rows)]


def render(table: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(table)
    return buf.getvalue()


def facts(events):
    return sorted((e.time_utc, e.message_id, e.recipient, e.event, e.source_ip, e.target_ip,
                   e.reason.enhanced_code if e.reason else None) for e in events)


@pytest.mark.parametrize("reader, rows", READERS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le"])
def test_reencoded_copies_read_the_same(tmp_path, reader, rows, encoding):
    text = render(rows())
    plain, copy = tmp_path / "plain.csv", tmp_path / "copy.csv"
    plain.write_text(text, encoding="utf-8")
    data = text.encode(encoding)
    copy.write_bytes(data)
    base = reader.parse(plain)
    assert base.records and not base.problems
    assert facts(reader.parse(copy).records) == facts(base.records)


@pytest.mark.parametrize("reader, rows", READERS)
def test_shuffled_columns_read_the_same(tmp_path, reader, rows):
    table = rows()
    order = list(range(len(table[0])))
    random.Random(7).shuffle(order)
    shuffled = [[row[i] for i in order] for row in table]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(render(table))
    b.write_text(render([[c.upper() if n == 0 else c for c in row] for n, row in
                         enumerate(shuffled)]))  # header case changed too
    assert reader.sniff(b.read_text())
    assert facts(reader.parse(b).records) == facts(reader.parse(a).records)


@pytest.mark.parametrize("reader, rows", READERS)
def test_truncated_copy_keeps_the_rows_before_the_cut(tmp_path, reader, rows):
    text = render(rows())
    lines = text.splitlines(keepends=True)
    cut = "".join(lines[:8]) + lines[8][: len(lines[8]) // 3]  # header + 7 rows + a stub
    path, whole = tmp_path / "cut.csv", tmp_path / "full.csv"
    path.write_text(cut)
    whole.write_text(text)
    parsed, full = reader.parse(path), reader.parse(whole)
    assert facts(parsed.records) == facts(full.records)[:len(parsed.records)]
    assert len({e.message_id for e in parsed.records}) == 7
    assert [p.location.line for p in parsed.problems] == [9]


@pytest.mark.parametrize("reader, make", READERS)
def test_a_row_with_a_nul_byte_is_skipped_and_said(tmp_path, reader, make):
    table = make()
    whole, nul = tmp_path / "whole.csv", tmp_path / "nul.csv"
    whole.write_text(render(table))
    table[3][2] = table[3][2][:2] + "\x00" + table[3][2][2:]  # row 3 is line 4
    nul.write_text(render(table))
    whole, damaged = reader.parse(whole), reader.parse(nul)
    [problem] = damaged.problems
    assert problem.location.line == 4 and problem.message == "NUL byte in this row; row skipped"
    assert len(damaged.records) < len(whole.records)
    assert not any("\x00" in e.message_id + e.recipient for e in damaged.records)


@pytest.mark.parametrize("reader, make", READERS)
def test_exports_joined_into_one_file_read_as_one(tmp_path, reader, make):
    """`cat a.csv b.csv`: b's byte-order mark, `#TYPE` line and header sit mid-file."""
    table = make()
    whole, joined = tmp_path / "whole.csv", tmp_path / "joined.csv"
    whole.write_text(render(table))
    second = "\ufeff#TYPE Deserialized.MessageTrace\r\n" + render([table[0]] + table[7:])
    joined.write_text(render(table[:7]) + second, encoding="utf-8")
    parsed = reader.parse(joined)
    assert parsed.problems == []
    assert facts(parsed.records) == facts(reader.parse(whole).records)
